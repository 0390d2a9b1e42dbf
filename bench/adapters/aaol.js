// async-append-only-log (SSB): 64 KiB blocks of [u16 length][bytes] records, byte offsets.
// append() calls back at once (the record is only in memory); the block is written later
// (debounced by writeTimeout) and each block write is followed by fsync; onDrain(cb) fires
// after that fsync. Durable appends await onDrain. writeTimeout is 1 ms here (the default 250 ms
// would add a quarter of a second to every durable append).
import OffsetLog from 'async-append-only-log'
import fs from 'node:fs'
import path from 'node:path'

export const info = {
  name: 'async-append-only-log',
  short: 'aaol',
  durable: 'fsync after each block write; the ack used here is onDrain, shared by all records of the block. But onDrain also fires for records appended to a block while an earlier write of that block was in flight, before their own write: not a reliable power-loss ack under concurrent appends',
  powerLossDurable: false,
  notes: 'append() itself acks before any write; we wait for onDrain (which can fire one block write early: seen as a late write after close, EBADF). Random reads need a byte-offsets array built by a full scan at open (timed separately).',
}

export async function open(dir, opts = {}) {
  fs.mkdirSync(dir, { recursive: true })
  const log = OffsetLog(path.join(dir, 'log.aaol'), { blockSize: 64 * 1024, writeTimeout: 1 })
  await new Promise((resolve) => log.onDrain(resolve)) // waits for the log to load
  let offsets = null
  const cbp = (fn) => new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))))
  return {
    appendBatch: (bufs) => cbp((cb) => log.append(bufs, cb)),
    append: opts.durable
      ? (buf) => new Promise((resolve, reject) => log.append(buf, (err) => (err ? reject(err) : log.onDrain(resolve))))
      : (buf) => cbp((cb) => log.append(buf, cb)),
    sync: () => new Promise((resolve) => log.onDrain(resolve)),
    // onDrain can fire while a rewrite of the same block is still pending (see info.notes):
    // wait until two drains 20 ms apart, so close() does not race a late write (EBADF).
    async close() {
      for (let k = 0; k < 2; k++) {
        await new Promise((resolve) => log.onDrain(resolve))
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      await cbp((cb) => log.close(cb))
    },
    scan: (cb) => new Promise((resolve, reject) => {
      log.stream({ offsets: false, values: true }).pipe({
        paused: false,
        write: (v) => cb(v),
        end: (err) => (err && err !== true ? reject(err) : resolve()),
      })
    }),
    prepareRandom: () => new Promise((resolve, reject) => {
      const offs = []
      log.stream({ offsets: true, values: false }).pipe({
        paused: false,
        write: (o) => offs.push(o),
        end: (err) => {
          if (err && err !== true) return reject(err)
          offsets = Float64Array.from(offs)
          resolve()
        },
      })
    }),
    get: (i) => cbp((cb) => log.get(offsets[i], cb)),
    readLast: () => (log.since.value >= 0 ? cbp((cb) => log.get(log.since.value, cb)) : undefined),
  }
}
