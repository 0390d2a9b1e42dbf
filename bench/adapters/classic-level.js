// classic-level: LevelDB through abstract-level. Records are values under 4-byte big-endian keys
// (key order = append order). W1 writes batch() of 1,000 puts; durable appends use
// put(..., { sync: true }), which LevelDB groups with concurrent writers into one synced log write.
import { ClassicLevel } from 'classic-level'

export const info = {
  name: 'classic-level',
  durable: 'put({ sync: true }): fsync of the LevelDB log; concurrent writers queued together share one sync',
  powerLossDurable: true,
  notes: 'Bulk: batches with sync: false, then one put({ sync: true }) of a marker key to sync the log. Random reads use getSync.',
}

const SYNC_KEY = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])
function key(i) {
  const k = Buffer.allocUnsafe(4)
  k.writeUInt32BE(i, 0)
  return k
}

export async function open(dir, opts = {}) {
  const db = new ClassicLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  let nextKey = 0
  if (opts.existing) {
    const last = await db.keys({ lt: SYNC_KEY, reverse: true, limit: 1 }).all()
    nextKey = last.length ? last[0].readUInt32BE(0) + 1 : 0
  }
  const putOpts = { sync: !!opts.durable }
  return {
    appendBatch(bufs) {
      const ops = new Array(bufs.length)
      for (let i = 0; i < bufs.length; i++) ops[i] = { type: 'put', key: key(nextKey++), value: bufs[i] }
      return db.batch(ops)
    },
    append: (buf) => db.put(key(nextKey++), buf, putOpts),
    sync: () => db.put(SYNC_KEY, Buffer.alloc(0), { sync: true }),
    close: () => db.close(),
    async scan(cb) {
      const it = db.values({ lt: SYNC_KEY, highWaterMarkBytes: 1 << 20 })
      for (;;) {
        const vs = await it.nextv(1000)
        if (vs.length === 0) break
        for (let i = 0; i < vs.length; i++) cb(vs[i])
      }
      await it.close()
    },
    get: (i) => db.getSync(key(i)),
    readLast: () => db.getSync(key(nextKey - 1)),
  }
}
