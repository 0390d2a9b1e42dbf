// better-sqlite3 12, WAL mode, one table (id INTEGER PRIMARY KEY, data BLOB). Two peers:
// sqlite-full (synchronous=FULL: the WAL is fsynced at every commit) and sqlite-normal
// (synchronous=NORMAL: commits are not fsynced; the WAL is fsynced at checkpoints only).
// better-sqlite3 is synchronous: every call blocks the event loop until SQLite returns.
import Database from 'better-sqlite3'
import fs from 'node:fs'
import path from 'node:path'

export function make(synchronous) {
  const name = synchronous === 'FULL' ? 'sqlite-full' : 'sqlite-normal'
  const info = {
    name,
    durable: synchronous === 'FULL'
      ? 'fsync of the WAL at every commit (one commit per append in W2; no sharing)'
      : 'commit written to the WAL without fsync: survives a process crash, not power loss (fsync only at checkpoints)',
    powerLossDurable: synchronous === 'FULL',
    notes: 'W1: one transaction per 1,000 rows; W1s: one autocommit INSERT per record; end of a bulk phase: fsync of the -wal file. Calls block the event loop.',
    // one fsync per autocommit INSERT: W1s is capped so the quick run stays short
    maxRecords: synchronous === 'FULL' ? { W1s: 2_000, W2: 5_000 } : {},
  }
  async function open(dir) {
    fs.mkdirSync(dir, { recursive: true })
    const file = path.join(dir, 'log.db')
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    db.exec('CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, data BLOB NOT NULL)')
    const ins = db.prepare('INSERT INTO log (data) VALUES (?)')
    const insMany = db.transaction((bufs) => {
      for (let i = 0; i < bufs.length; i++) ins.run(bufs[i])
    })
    const getOne = db.prepare('SELECT data FROM log WHERE id = ?').pluck()
    return {
      appendBatch: (bufs) => insMany(bufs),
      append: (buf) => { ins.run(buf) },
      sync() {
        // make every commit so far power-loss durable: fsync the WAL (and the db file)
        for (const f of [file + '-wal', file]) {
          if (!fs.existsSync(f)) continue
          const fd = fs.openSync(f, 'r+')
          fs.fdatasyncSync(fd)
          fs.closeSync(fd)
        }
      },
      close: () => db.close(),
      scan(cb) {
        for (const d of db.prepare('SELECT data FROM log ORDER BY id').pluck().iterate()) cb(d)
      },
      get: (i) => getOne.get(i + 1),
      readLast: () => db.prepare('SELECT data FROM log ORDER BY id DESC LIMIT 1').pluck().get(),
    }
  }
  return { info, open }
}
