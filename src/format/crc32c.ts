import { createRequire } from 'node:module'

/** The one function seglog uses from @node-rs/crc32 (its `crc32c`). */
type NativeCrc32c = (input: Buffer, initialState?: number | null) => number

// require() rather than `import`: importing a CommonJS package from ESM first runs Node's
// cjs-module-lexer over its source to guess named exports (about 3–6 ms of a cold start, measured
// with --cpu-prof); require() skips that. The native code is still loaded at import, so the first
// checksum (at open) does not pay for it.
const nativeCrc32c = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: NativeCrc32c }).crc32c

/**
 * CRC32C (Castagnoli) of `data`, continuing from `initial`.
 * Native and SIMD-accelerated through @node-rs/crc32; `zlib.crc32` is CRC-32, a different polynomial.
 */
export function crc32c(data: Uint8Array, initial = 0): number {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return nativeCrc32c(buf, initial) >>> 0
}
