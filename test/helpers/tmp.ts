import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'

/** A fresh directory removed when the test ends. */
export function tmpDir(t: TestContext, name = 'seglog'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Deterministic payload for record `i` (so any record can be checked byte for byte). */
export function payload(i: number, size = 100): Buffer {
  const buf = Buffer.alloc(size)
  buf.write(`record-${i}-`, 0, 'latin1')
  for (let p = 16; p < size; p++) buf[p] = (i * 31 + p * 7) & 0xff
  return buf
}
