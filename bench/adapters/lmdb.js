// lmdb (lmdb-js): a memory-mapped B+tree. Records are values under uint32 keys 0..n-1.
// Writes are put() promises that lmdb-js batches per event turn into one transaction, committed
// on a worker thread. Bulk phases use lmdb-js defaults (overlappingSync: commits resolve when
// visible, the flush to disk follows) and wait for db.flushed at the end; durable phases open
// with overlappingSync: false, so a put resolves only after its commit is synced.
import { open as lmdbOpen } from 'lmdb'

export const info = {
  name: 'lmdb',
  durable: 'put resolves after its transaction is synced (overlappingSync: false); one sync per batched transaction, shared by every put of that event turn',
  powerLossDurable: true,
  notes: 'Bulk: overlappingSync (default), then await db.flushed. Reads use getBinary (a copy): getBinaryFast returns the shared 16 MiB read buffer with only its JS length patched, so native calls on it (zlib.crc32, Buffer.compare) see the wrong bytes and it fails the check.',
}

export async function open(dir, opts = {}) {
  const db = lmdbOpen({
    path: dir,
    keyEncoding: 'uint32',
    encoding: 'binary',
    compression: false,
    overlappingSync: !opts.durable,
    mapSize: 64 * 1024 ** 3,
  })
  let nextKey = 0
  if (opts.existing) {
    const last = db.getKeys({ reverse: true, limit: 1 }).asArray
    nextKey = last.length ? last[0] + 1 : 0
  }
  return {
    appendBatch(bufs) {
      let p
      for (let i = 0; i < bufs.length; i++) p = db.put(nextKey++, bufs[i])
      return p
    },
    append: (buf) => db.put(nextKey++, buf),
    sync: () => db.flushed,
    close: () => db.close(),
    scan(cb) {
      for (const { value } of db.getRange({ start: 0 })) cb(value)
    },
    get: (i) => db.getBinary(i),
    readLast: () => db.getBinary(nextKey - 1),
    get count() { return nextKey },
  }
}
