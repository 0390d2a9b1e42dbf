/**
 * Self-describing records for fault tests: every payload carries a unique id, the offset it was
 * appended at and a generation (bumped by every truncate or crash), and its bytes follow from the
 * id, so any record read back can be checked byte for byte without keeping payloads around.
 */
const MAGIC = 0x54464c50 // 'PLFT'
export const RECORD_HEADER = 16

/** Payload of record `uid`, appended at `offset` in generation `gen`, `size` bytes (≥ 16). */
export function makeRecord(uid: number, offset: number, gen: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(size, RECORD_HEADER))
  buf.writeUInt32LE(MAGIC, 0)
  buf.writeUInt32LE(uid >>> 0, 4)
  buf.writeUInt32LE(offset >>> 0, 8)
  buf.writeUInt32LE(gen >>> 0, 12)
  fill(buf, uid)
  return buf
}

function fill(buf: Buffer, uid: number): void {
  let x = (uid * 2654435761) >>> 0
  for (let i = RECORD_HEADER; i < buf.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    buf[i] = x >>> 24
  }
}

/** The header of a payload, or a reason it is not one of ours (wrong bytes anywhere). */
export function parseRecord(data: Uint8Array): { uid: number; offset: number; gen: number } | string {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (buf.length < RECORD_HEADER || buf.readUInt32LE(0) !== MAGIC) return `not a test record (${buf.length} bytes)`
  const uid = buf.readUInt32LE(4)
  const expect = Buffer.allocUnsafe(buf.length)
  buf.copy(expect, 0, 0, RECORD_HEADER)
  fill(expect, uid)
  if (!expect.equals(buf)) return `record uid ${uid} has wrong bytes`
  return { uid, offset: buf.readUInt32LE(8), gen: buf.readUInt32LE(12) }
}
