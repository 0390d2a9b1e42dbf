// Seeded, incompressible payload bytes shared by every peer, and the cheap fingerprint used to
// check what a peer read back. Every process regenerates the same bytes from the same seed.
import { createCipheriv, createHash } from 'node:crypto'
import zlib from 'node:zlib'

const MAX_POOL_BYTES = 128 << 20

// AES-256-CTR keystream over zeros: deterministic for a seed, incompressible, ~GB/s.
// `offset` (a multiple of 16) starts the stream there: the counter is the IV, big-endian.
export function randomBytes(seed, n, offset = 0) {
  const key = createHash('sha256').update(`seglog-bench:${seed}`).digest()
  const iv = Buffer.alloc(16)
  iv.writeBigUInt64BE(BigInt(Math.floor(offset / 16)), 8)
  const c = createCipheriv('aes-256-ctr', key, iv)
  const out = Buffer.allocUnsafe(n)
  const zeros = Buffer.alloc(Math.min(n, 1 << 20))
  let o = 0
  while (o < n) {
    const len = Math.min(zeros.length, n - o)
    c.update(zeros.subarray(0, len)).copy(out, o)
    o += len
  }
  return out
}

// Record i is recordBytes taken from a pool of random bytes. The pool holds every record
// distinct up to 128 MiB of records (1 M × 128 B); past that records repeat the pool cyclically.
export class Payloads {
  constructor(count, recordBytes, seed = 1) {
    this.count = count
    this.recordBytes = recordBytes
    const want = Math.max(recordBytes, Math.min(count * recordBytes, MAX_POOL_BYTES))
    this.poolRecords = Math.max(1, Math.floor(want / recordBytes))
    this.seed = seed
    this._pool = null
  }
  // made on first use: a phase that needs one record (W5) does not pay for the whole pool
  get pool() {
    this._pool ??= randomBytes(this.seed, this.poolRecords * this.recordBytes)
    return this._pool
  }
  // record i without making the pool
  recordAlone(i) {
    return randomBytes(this.seed, this.recordBytes, (i % this.poolRecords) * this.recordBytes)
  }
  record(i) {
    const s = (i % this.poolRecords) * this.recordBytes
    return this.pool.subarray(s, s + this.recordBytes)
  }
  // An array of views (made before timing starts so that it is not timed).
  array(from, to) {
    const a = new Array(to - from)
    for (let i = from; i < to; i++) a[i - from] = this.record(i)
    return a
  }
}

function u32(d, o) {
  return (d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24)) >>> 0
}
function mix(h, x) {
  h = Math.imul(h ^ x, 0x01000193)
  return (h ^ (h >>> 15)) >>> 0
}

// Order-sensitive fingerprint of a record sequence: length, the first and last 8 bytes of every
// record (random bytes, so they identify the record), and a full CRC-32 of every 64th record.
// Cheap enough (~10-20 ns a record) to run inside the timed loop of every peer alike.
export class Check {
  constructor() {
    this.n = 0
    this.h = 0x811c9dc5
  }
  add(d) {
    const len = d.length
    let h = mix(this.h, len)
    if (len >= 8) {
      h = mix(h, u32(d, 0))
      h = mix(h, u32(d, 4))
      h = mix(h, u32(d, len - 8))
      h = mix(h, u32(d, len - 4))
    } else {
      for (let k = 0; k < len; k++) h = mix(h, d[k])
    }
    if ((this.n & 63) === 0) h = mix(h, zlib.crc32(d))
    this.h = h
    this.n++
  }
  result() {
    return { count: this.n, checksum: this.h.toString(16).padStart(8, '0') }
  }
}

export function expectedFor(payloads, indexes) {
  const c = new Check()
  for (const i of indexes) c.add(payloads.record(i))
  return c.result()
}

export function* range(from, to) {
  for (let i = from; i < to; i++) yield i
}

// Seeded random record indexes for W4 (xorshift32).
export function randomIndexes(seed, n, count) {
  const out = new Uint32Array(n)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x % count
  }
  return out
}
