// hypercore 11.37.1 (pinned: newer ones do not install here): a signed Merkle-tree log whose
// storage is RocksDB (hypercore-storage over rocksdb-native). Every append() hashes the blocks
// into the tree and signs the new root. RocksDB writes are not synced (WriteOptions.sync is
// false): an append that resolved survives a process crash, not a power loss. There is no
// fsync call in the API.
import Hypercore from 'hypercore'

export const info = {
  name: 'hypercore',
  durable: 'append resolves after the RocksDB write (WAL written, not fsynced): survives a process crash only; no sync API',
  powerLossDurable: false,
  syncDurable: false, // W1/W1s end without any fsync either
  notes: 'Signs and hashes every append() (the batch in W1). W1 "sync" is a no-op: there is nothing to call. W3 keeps 1,000 get()s in flight (about twice as fast here as createReadStream).',
  maxRecords: { W1s: 3_000 },
}

export async function open(dir) {
  const core = new Hypercore(dir)
  await core.ready()
  return {
    appendBatch: (bufs) => core.append(bufs),
    append: (buf) => core.append(buf),
    sync: () => {},
    close: () => core.close(),
    // 1,000 get()s in flight at a time: about twice as fast here as createReadStream
    async scan(cb) {
      const n = core.length
      for (let i = 0; i < n; i += 1000) {
        const ps = []
        for (let j = i; j < Math.min(n, i + 1000); j++) ps.push(core.get(j))
        const ds = await Promise.all(ps)
        for (let k = 0; k < ds.length; k++) cb(ds[k])
      }
    },
    get: (i) => core.get(i),
    readLast: () => (core.length > 0 ? core.get(core.length - 1) : undefined),
  }
}
