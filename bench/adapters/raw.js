// `raw`: the ceiling reference. One file of [u32 length][bytes] records written with plain fs
// calls: no checksums, no index, no recovery. Durable appends use group commit (one fdatasync in
// flight; everything that arrives while it runs shares the next one). `raw-nogc` (see
// raw-nogc.js) is the same writer with one fdatasync per append, no sharing.
import fs from 'node:fs'
import path from 'node:path'

export const info = {
  name: 'raw',
  durable: 'fdatasync, group commit (one in flight; appends that arrive meanwhile share the next)',
  powerLossDurable: true,
  notes: 'No checksums, index or recovery. Random reads need an offsets array built by a full scan at open (timed separately, in memory).',
}

const STAGE_BYTES = 1 << 20

export class RawLog {
  constructor(file, { groupCommit = true } = {}) {
    this.file = file
    this.fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+')
    this.pos = fs.fstatSync(this.fd).size
    this.stage = Buffer.allocUnsafe(STAGE_BYTES)
    this.staged = 0
    this.groupCommit = groupCommit
    this.syncing = false
    this.waiting = [] // resolvers of appends staged since the last flush began
    this.flushScheduled = false
    this.offsets = null
  }

  stageRecord(buf) {
    const need = 4 + buf.length
    if (this.staged + need > this.stage.length) {
      this.writeStage()
      if (need > this.stage.length) {
        const b = Buffer.allocUnsafe(need)
        b.writeUInt32LE(buf.length, 0)
        b.set(buf, 4)
        this.writeAll(b)
        return
      }
    }
    this.stage.writeUInt32LE(buf.length, this.staged)
    this.stage.set(buf, this.staged + 4)
    this.staged += need
  }

  writeAll(b) {
    let o = 0
    while (o < b.length) {
      const n = fs.writeSync(this.fd, b, o, b.length - o, this.pos)
      o += n
      this.pos += n
    }
  }

  writeStage() {
    if (this.staged === 0) return
    this.writeAll(this.stage.subarray(0, this.staged))
    this.staged = 0
  }

  // W1: frame a whole batch into the stage and write it with (about) one write call.
  appendBatch(bufs) {
    for (let i = 0; i < bufs.length; i++) this.stageRecord(bufs[i])
    this.writeStage()
  }

  // W1s (not durable): copy into the 1 MiB stage; written when it fills or at sync().
  append(buf) {
    this.stageRecord(buf)
  }

  // W2: resolves after an fdatasync that covers the record.
  appendDurable(buf) {
    this.stageRecord(buf)
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      if (!this.flushScheduled && !this.syncing) this.scheduleFlush()
    })
  }

  // The next flush starts one macrotask later (setImmediate), so the callers whose appends the
  // last fdatasync just resolved can append again and share the next one.
  scheduleFlush() {
    this.flushScheduled = true
    setImmediate(() => this.flush())
  }

  flush() {
    this.flushScheduled = false
    if (this.syncing || this.waiting.length === 0) return
    let batch
    if (this.groupCommit) {
      batch = this.waiting
      this.waiting = []
      this.writeStage()
    } else {
      // one record, one fdatasync: write exactly the oldest staged record
      batch = [this.waiting.shift()]
      const len = this.stage.readUInt32LE(0)
      this.writeAll(this.stage.subarray(0, 4 + len))
      this.stage.copy(this.stage, 0, 4 + len, this.staged)
      this.staged -= 4 + len
    }
    this.syncing = true
    fs.fdatasync(this.fd, (err) => {
      this.syncing = false
      for (const w of batch) {
        if (err) w.reject(err)
        else w.resolve()
      }
      if (this.waiting.length > 0 && !this.flushScheduled) this.scheduleFlush()
    })
  }

  sync() {
    this.writeStage()
    fs.fdatasyncSync(this.fd)
  }

  close() {
    this.writeStage()
    fs.closeSync(this.fd)
  }

  // W3: sequential readSync of 4 MiB blocks, parse length prefixes, hand out views.
  scan(onRecord) {
    const BLOCK = 4 << 20
    let buf = Buffer.allocUnsafe(BLOCK)
    let filePos = 0
    let have = 0 // bytes valid in buf
    let p = 0 // parse position
    for (;;) {
      const n = fs.readSync(this.fd, buf, have, buf.length - have, filePos)
      filePos += n
      have += n
      while (p + 4 <= have) {
        const len = buf.readUInt32LE(p)
        if (p + 4 + len > have) break
        onRecord(buf.subarray(p + 4, p + 4 + len))
        p += 4 + len
      }
      if (n === 0) break
      // move the partial record to the front
      buf.copy(buf, 0, p, have)
      have -= p
      p = 0
      if (have === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2)
        buf.copy(bigger, 0, 0, have)
        buf = bigger
      }
    }
  }

  // W4 needs an offsets array: built by one scan (the time is reported as indexMs).
  buildIndex() {
    const offs = []
    let o = 0
    this.scan((d) => {
      offs.push(o)
      o += 4 + d.length
    })
    offs.push(o)
    this.offsets = Float64Array.from(offs)
    this.readBuf = Buffer.allocUnsafe(1 << 16)
  }

  get(i) {
    const o = this.offsets[i]
    const len = this.offsets[i + 1] - o - 4
    if (len > this.readBuf.length) this.readBuf = Buffer.allocUnsafe(len)
    const n = fs.readSync(this.fd, this.readBuf, 0, len, o + 4)
    return this.readBuf.subarray(0, n)
  }
}

export async function open(dir, opts = {}) {
  fs.mkdirSync(dir, { recursive: true })
  const log = new RawLog(path.join(dir, 'raw.log'), opts)
  return {
    appendBatch: (bufs) => log.appendBatch(bufs),
    append: opts.durable ? (buf) => log.appendDurable(buf) : (buf) => log.append(buf),
    sync: () => log.sync(),
    close: () => log.close(),
    scan: (cb) => log.scan(cb),
    prepareRandom: () => log.buildIndex(),
    get: (i) => log.get(i),
    // raw keeps no index: the last record cannot be found without a scan
    readLast: null,
    log,
  }
}
