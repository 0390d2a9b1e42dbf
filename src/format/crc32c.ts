import { crc32c as nativeCrc32c } from '@node-rs/crc32'

/**
 * CRC32C (Castagnoli) of `data`, continuing from `initial`.
 * Native and SIMD-accelerated through @node-rs/crc32; `zlib.crc32` is CRC-32, a different polynomial.
 */
export function crc32c(data: Uint8Array, initial = 0): number {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return nativeCrc32c(buf, initial) >>> 0
}
