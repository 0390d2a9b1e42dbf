/** Shared arbitraries for the decoder fuzz tests. */
import fc from 'fast-check'
import type { FileHandle } from '../../src/index.js'
import { crc32c } from '../../src/format/index.js'

export const SOAK = Boolean(process.env.SOAK)
/** Runs per property: fast in CI, far more with SOAK=1 (or SEGLOG_FUZZ_RUNS). */
export const RUNS = Number(process.env.SEGLOG_FUZZ_RUNS ?? (SOAK ? 200_000 : 5_000))
/** fast-check prints the seed and path of a failure; SEGLOG_FUZZ_SEED replays one. */
export const fcParams = (runs = RUNS): fc.Parameters<unknown> => ({
  numRuns: runs,
  ...(process.env.SEGLOG_FUZZ_SEED ? { seed: Number(process.env.SEGLOG_FUZZ_SEED) } : {}),
})

/** Values that make length and count fields claim huge or boundary sizes. */
const interestingU32 = fc.constantFrom(0, 1, 39, 40, 41, 0x7fffffff, 0x80000000, 0xffffffff, 0x40000000, 0x40000001, 0x3fffffff, 0x1fffff, 0x200000)

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'zero'; at: number; len: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: fc.oneof(interestingU32, fc.nat({ max: 0xffffffff })) }),
  fc.record({ kind: fc.constant('zero' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
)

/** Applies mutations (positions taken modulo the current length). */
export function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let buf = Buffer.from(input)
  for (const m of mutations) {
    if (buf.length === 0) break
    const at = m.at % buf.length
    switch (m.kind) {
      case 'flip': buf[at] ^= 1 << m.bit; break
      case 'set': buf[at] = m.value; break
      case 'u32': if (at + 4 <= buf.length) buf.writeUInt32LE(m.value >>> 0, at); break
      case 'zero': buf.fill(0, at, Math.min(buf.length, at + m.len)); break
      case 'cut': buf = buf.subarray(0, at); break
      case 'insert': buf = Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]); break
    }
  }
  return buf
}

/** Recomputes a CRC32C field at `crcAt` over [from, to) so structural checks behind it get exercised. */
export function fixCrc(buf: Buffer, crcAt: number, from: number, to = buf.length): void {
  if (crcAt + 4 <= buf.length && from <= to && to <= buf.length) buf.writeUInt32LE(crc32c(buf.subarray(from, to)), crcAt)
}

/** A read-only FileHandle over a buffer. */
export function bufferHandle(buf: Buffer): FileHandle {
  return {
    path: '<fuzz>',
    write() { throw new Error('read-only') },
    read(target, offset, length, position) {
      const n = Math.max(0, Math.min(length, buf.length - position))
      if (n > 0) buf.copy(target, offset, position, position + n)
      return n
    },
    datasync: () => Promise.resolve(),
    size: () => buf.length,
    truncate() { throw new Error('read-only') },
    close() {},
  }
}

/**
 * Bytes of ArrayBuffer memory allocated by `fn` (measured before any collection can run). Node
 * reports ArrayBuffer allocations outside the V8 heap here, which is where large Buffers go.
 */
export function allocatedBy(fn: () => void): number {
  const before = process.memoryUsage().arrayBuffers
  fn()
  return Math.max(0, process.memoryUsage().arrayBuffers - before)
}
