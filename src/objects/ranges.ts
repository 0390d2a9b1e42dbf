import { SeglogError } from '../errors.js'
import { storeError } from './errors.js'
import type { ByteRange } from './types.js'

function isOffset(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

/**
 * Throws `ERR_INVALID_ARGUMENT` unless `range` is absent or has a non-negative safe-integer
 * `start` and an optional `end ≥ start`. Every store calls this before any request, so a bad range
 * fails the same way everywhere instead of reaching a server that interprets it its own way.
 */
export function validateRange(range: ByteRange | undefined): void {
  if (range === undefined) return
  if (typeof range !== 'object' || range === null) throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid byte range ${String(range)}: pass { start, end? }`)
  if (!isOffset(range.start)) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid byte range start ${String(range.start)}: it must be a non-negative whole number of bytes`)
  }
  if (range.end !== undefined && (!isOffset(range.end) || range.end < range.start)) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid byte range end ${String(range.end)}: it must be a whole number ≥ start (${range.start}), or omitted to read to the end`)
  }
}

/** The part of an object of `size` bytes that `range` selects: clamped to the object. */
export function clampRange(range: ByteRange | undefined, size: number): { start: number; end: number } {
  const start = Math.min(range?.start ?? 0, size)
  const end = Math.max(start, Math.min(range?.end ?? size, size))
  return { start, end }
}


/** The HTTP `Range` header value for a validated, non-empty range. */
export function rangeHeader(range: ByteRange): string {
  return `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}`
}

/**
 * Checks a server's answer to a ranged GET and returns the bytes asked for with the whole
 * object's size. A server or proxy may ignore `Range` and answer 200 with the whole object: that
 * body is sliced here. A 206 must carry a `Content-Range` for exactly the range asked for (clamped
 * to the object); anything else is an `ERR_STORE`, never bytes from the wrong place.
 */
export function fitRangedAnswer(store: string, key: string, range: ByteRange, status: number | undefined,
  contentRange: string | undefined, body: Buffer): { data: Buffer; size: number } {
  if (status === 200) {
    const { start, end } = clampRange(range, body.length)
    return { data: body.subarray(start, end), size: body.length }
  }
  const m = status === 206 && contentRange !== undefined ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange.trim()) : null
  if (m !== null) {
    const [first, last, size] = [Number(m[1]), Number(m[2]), Number(m[3])]
    const want = clampRange(range, size)
    if (first === want.start && last + 1 === want.end && body.length === want.end - want.start) return { data: body, size }
  }
  const asked = `bytes ${range.start}-${range.end === undefined ? '' : range.end - 1}`
  const got = `HTTP ${String(status)}, Content-Range ${JSON.stringify(contentRange ?? null)}, ${body.length} bytes`
  throw storeError(store, 'get', key, new Error(`the server answered a ranged read of ${asked} with ${got}, which is not that range; nothing was returned. A proxy or server that mangles Range headers sits in front of the store`), false, status)
}
