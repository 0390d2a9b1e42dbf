// sonic-boom (pino's file writer): a writer only, no reader. Records are framed like raw
// ([u32 length][bytes], one Buffer per record). Bulk phases use the async writer and
// flush(cb) at the end (which fsyncs); durable appends use { sync: true, fsync: true }: every
// write() is a writeSync followed by fsyncSync, blocking the event loop.
import SonicBoom from 'sonic-boom'
import fs from 'node:fs'
import path from 'node:path'
import { RawLog } from './raw.js'

export const info = {
  name: 'sonic-boom',
  durable: 'fsync (not fdatasync) after every write, synchronous (sync: true, fsync: true); no sharing',
  powerLossDurable: true,
  writeOnly: true,
  maxRecords: { W2: 5_000 }, // one fsync per append, no sharing: the rate is what matters
  notes: 'Writer only: W3/W4/W5 do not apply. Written data is checked with the raw reader.',
}

function frame(buf) {
  const b = Buffer.allocUnsafe(4 + buf.length)
  b.writeUInt32LE(buf.length, 0)
  b.set(buf, 4)
  return b
}

export async function open(dir, opts = {}) {
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, 'sonic.log')
  let sb = null
  function writer() {
    if (sb) return sb
    sb = new SonicBoom({
      dest: file, contentMode: 'buffer', append: true,
      sync: !!opts.durable, fsync: !!opts.durable,
      minLength: opts.durable ? 0 : 64 * 1024, maxWrite: 1 << 20,
    })
    return sb
  }
  if (!opts.existing) await new Promise((resolve, reject) => { writer().once('ready', resolve).once('error', reject) })
  return {
    appendBatch(bufs) {
      const w = writer()
      for (let i = 0; i < bufs.length; i++) w.write(frame(bufs[i]))
    },
    append(buf) {
      writer().write(frame(buf))
    },
    sync: () => new Promise((resolve, reject) => writer().flush((err) => (err ? reject(err) : resolve()))),
    close: () => new Promise((resolve) => {
      if (!sb) return resolve()
      sb.once('close', resolve)
      sb.end()
    }),
    // for checking only (untimed): sonic-boom has no reader, so read with raw's parser
    scan(cb) {
      const r = new RawLog(file)
      try { r.scan(cb) } finally { r.close() }
    },
  }
}
