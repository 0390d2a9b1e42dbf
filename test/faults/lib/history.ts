/**
 * What a test appended and what the log acknowledged, on one logical clock, so the invariants at
 * any instant can be computed afterwards: which records must survive a crash at that instant and
 * which records may exist at all.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isSeglogError, Log, type LogOptions } from '../../../src/index.js'
import { parseRecord } from './records.js'

interface Issued { offset: number; gen: number; at: number }

export class History {
  /** Logical clock: bumped by every event. */
  clock = 0
  private nextUid = 1
  gen = 0
  readonly issued = new Map<number, Issued>()
  /** Acknowledged (durable) records: uid and the clock value of the acknowledgement. */
  readonly acks: { offset: number; uid: number; at: number }[] = []
  /** Truncations started: records at or above `offset` may vanish from `at` on. */
  readonly truncations: { offset: number; at: number }[] = []

  /** Registers a record about to be appended at `offset`; returns its uid. */
  issue(offset: number): number {
    const uid = this.nextUid++
    this.issued.set(uid, { offset, gen: this.gen, at: ++this.clock })
    return uid
  }

  ack(offset: number, uid: number): void {
    this.acks.push({ offset, uid, at: ++this.clock })
  }

  truncating(offset: number): void {
    this.truncations.push({ offset, at: ++this.clock })
    this.gen++
  }

  /** After a crash: records written from now on are a new generation. */
  newGeneration(): void {
    this.gen++
    this.clock++
  }

  /** Records that must be present (offset → uid) for a crash at clock `at`, at or above `floor`. */
  required(at: number, floor: number): Map<number, number> {
    const req = new Map<number, number>()
    const ackAt = new Map<number, number>()
    for (const a of this.acks) {
      if (a.at >= at) break
      req.set(a.offset, a.uid)
      ackAt.set(a.offset, a.at)
    }
    for (const t of this.truncations) {
      if (t.at >= at) break
      for (const [off, when] of ackAt) if (off >= t.offset && when < t.at) req.delete(off)
    }
    for (const off of req.keys()) if (off < floor) req.delete(off)
    return req
  }

  /** Checks one record read back from a crash image taken at clock `at`. */
  checkRecord(offset: number, data: Uint8Array, at: number): { uid: number; gen: number } {
    const parsed = parseRecord(data)
    if (typeof parsed === 'string') throw new Error(`offset ${offset}: ${parsed}`)
    const issued = this.issued.get(parsed.uid)
    if (!issued || issued.at >= at) throw new Error(`offset ${offset}: record uid ${parsed.uid} was never appended before the crash`)
    if (issued.offset !== offset || parsed.offset !== offset) throw new Error(`offset ${offset}: holds record uid ${parsed.uid} appended at offset ${issued.offset}`)
    return { uid: parsed.uid, gen: issued.gen }
  }
}

export interface ImageCheck {
  /** Crash image: file name → bytes. */
  files: Map<string, Buffer>
  /** Clock value at the crash. */
  at: number
  /** Records below this may be gone (deleted before the crash). */
  floor: number
  /** What to print when the check fails. */
  describe: string
}

export interface ImageOutcome {
  outcome: 'recovered' | 'corrupt-repaired'
  records: number
  truncated?: string
}

/**
 * Writes a crash image to a fresh directory and opens it with the real file system. Checks:
 * open recovers or fails with ERR_CORRUPT (and then `repair: true` recovers); every required
 * record is present and byte-identical; offsets are contiguous; no record that was never
 * appended; generations never go back; the recovered log accepts appends and reopens cleanly.
 */
export async function checkImage(history: History, img: ImageCheck, options: LogOptions, allowCorrupt: boolean): Promise<ImageOutcome> {
  const dir = fs.mkdtempSync(path.join(scratchRoot(), 'seglog-image-'))
  try {
    for (const [name, bytes] of img.files) fs.writeFileSync(path.join(dir, name), bytes)
    if (process.env.SEGLOG_KEEP_IMAGE !== undefined) fs.cpSync(dir, `${dir}-as-captured`, { recursive: true })
    let outcome: ImageOutcome['outcome'] = 'recovered'
    let log: Log
    try {
      log = await Log.open(dir, options)
    } catch (err) {
      if (!isSeglogError(err, 'ERR_CORRUPT')) throw new Error(`open failed with ${(err as Error).message}\n${img.describe}`, { cause: err })
      if (!allowCorrupt) throw new Error(`open failed with ERR_CORRUPT where no reordering happened: ${(err as Error).message}\n${img.describe}`)
      outcome = 'corrupt-repaired'
      log = await Log.open(dir, { ...options, repair: true })
    }
    const truncated = log.recovery.truncated ? `${log.recovery.truncated.reason} ${log.recovery.truncated.bytes}B from ${log.recovery.truncated.fromOffset}` : undefined
    let records = 0
    try {
      records = await checkContents(history, log, img, 'after recovery')
      // The recovered log must keep working: append, close, reopen, read everything again.
      const before = log.nextOffset
      const extra = [Buffer.from('after-crash-1'), Buffer.from('after-crash-2')]
      for (const e of extra) await log.append(e)
      await log.close()
      const again = await Log.open(dir, options)
      try {
        assert.equal(again.nextOffset, before + extra.length, 'appends after recovery survive a clean reopen')
        let n = 0
        for await (const rec of again.iterate({ from: before })) {
          assert.deepEqual(rec.data, extra[rec.offset - before])
          n++
        }
        assert.equal(n, extra.length)
        await checkContents(history, again, img, 'after reopen', before)
      } finally {
        await again.close()
      }
      const report = await Log.verify(dir)
      const bad = report.faults.filter((f) => f.kind !== 'index')
      assert.deepEqual(bad, [], 'verify finds no damage after recovery')
    } catch (err) {
      await log.close().catch(() => undefined)
      throw new Error(`${(err as Error).message}\noutcome: ${outcome}${truncated ? `, truncated ${truncated}` : ''}\n${img.describe}`, { cause: err })
    }
    return { outcome, records, truncated }
  } finally {
    if (process.env.SEGLOG_KEEP_IMAGE === undefined) fs.rmSync(dir, { recursive: true, force: true })
    else process.stderr.write('IMAGE ' + dir + '\n')
  }
}

async function checkContents(history: History, log: Log, img: ImageCheck, when: string, end = log.nextOffset): Promise<number> {
  const required = history.required(img.at, img.floor)
  const first = log.firstOffset
  let expected = first
  let lastGen = -1
  const seen = new Map<number, number>()
  // Repair keeps intact batches that a hole (a lost sealed tail, a reordered write) separates from
  // the rest, and records the hole as a gap: offsets are contiguous except across recorded gaps.
  const gaps = log.gaps
  for await (const rec of log.iterate({ to: end, gaps: 'skip' })) {
    for (let gap = gaps.find((g) => g.from === expected); gap && rec.offset >= gap.to; gap = gaps.find((g) => g.from === expected)) expected = gap.to
    if (rec.offset !== expected) throw new Error(`${when}: offset ${rec.offset} follows ${expected - 1} (offsets must be contiguous)`)
    const { uid, gen } = history.checkRecord(rec.offset, rec.data, img.at)
    if (gen < lastGen) throw new Error(`${when}: offset ${rec.offset} is from generation ${gen} after generation ${lastGen} (an old record came back)`)
    lastGen = gen
    seen.set(rec.offset, uid)
    expected++
  }
  for (let gap = gaps.find((g) => g.from === expected); gap && gap.to <= end; gap = gaps.find((g) => g.from === expected)) expected = gap.to
  if (expected !== end) throw new Error(`${when}: iteration ended at ${expected}, log says nextOffset ${end}`)
  for (const [off, uid] of required) {
    const got = seen.get(off)
    if (got !== uid) {
      throw new Error(`${when}: acknowledged record at offset ${off} (uid ${uid}) is ${got === undefined ? 'missing' : `replaced by uid ${got}`}; log holds [${first}, ${end})`)
    }
  }
  return seen.size
}

/**
 * Where crash images are written: a memory file system when there is one (thousands of small
 * directories with fsyncs; the code under test is the same, only the medium is faster).
 */
export function scratchRoot(): string {
  try {
    if (process.platform === 'linux' && fs.statSync('/dev/shm').isDirectory()) {
      fs.accessSync('/dev/shm', fs.constants.W_OK)
      return '/dev/shm'
    }
  } catch {
    // No /dev/shm: use the temporary directory.
  }
  return os.tmpdir()
}
