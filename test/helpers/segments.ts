import fs from 'node:fs'
import path from 'node:path'
import { crc32c } from '../../src/format/index.js'

/** Segment files of a log directory, oldest first. */
export function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /^\d{20}\.log$/.test(f)).sort().map((f) => path.join(dir, f))
}

/** Byte positions of every batch in a segment file. */
export function batchPositions(file: string): number[] {
  const buf = fs.readFileSync(file)
  const out: number[] = []
  for (let p = 0; p + 40 <= buf.length; p += buf.readUInt32LE(p + 12)) out.push(p)
  return out
}

/** XORs one byte of a file. */
export function flipByte(file: string, position: number, mask = 0x40): void {
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, position)
  b[0] ^= mask
  fs.writeSync(fd, b, 0, 1, position)
  fs.closeSync(fd)
}

/** Rewrites the version byte of the batch at `position` and fixes its checksum, as a newer writer would. */
export function setBatchVersion(file: string, position: number, version: number): void {
  const buf = fs.readFileSync(file)
  buf[position + 8] = version
  const length = buf.readUInt32LE(position + 12)
  buf.writeUInt32LE(crc32c(buf.subarray(position + 8, position + length)), position + 4)
  fs.writeFileSync(file, buf)
}
