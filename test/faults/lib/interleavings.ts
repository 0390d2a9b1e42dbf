// The interleaving model: runs a list of the local log's operations concurrently, with the order
// of every asynchronous step (each operation's start, each fdatasync and directory fsync, each
// iterator step) chosen by fast-check's scheduler, and the age-retention and interval-sync timers
// driven by a manual clock whose ticks are operations too. It records what each operation saw and
// then checks it against a model: the acknowledged records, and the truncates that may cut them.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import fc from 'fast-check'
import { isSeglogError, Log, SeglogError, type SyncMode } from '../../../src/index.js'
import { manualClock } from '../../helpers/manual-clock.js'
import { scheduledFileSystem } from '../../helpers/scheduled-fs.js'

export type Command =
  | { kind: 'append'; size: number; asString: boolean }
  | { kind: 'batch'; sizes: number[] }
  | { kind: 'read'; hint: number }
  | { kind: 'iterate'; hint: number; steps: number }
  | { kind: 'follow' }
  | { kind: 'truncate'; hint: number }
  | { kind: 'deleteBefore'; hint: number }
  | { kind: 'tick' }
  | { kind: 'sync' }
  | { kind: 'close' }

const size = fc.integer({ min: 0, max: 400 })

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('append' as const), size, asString: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('batch' as const), sizes: fc.array(size, { minLength: 1, maxLength: 6 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), hint: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('iterate' as const), hint: fc.nat(), steps: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'follow' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('truncate' as const), hint: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deleteBefore' as const), hint: fc.nat() }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'tick' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sync' as const }) },
)

export const syncArb: fc.Arbitrary<SyncMode> = fc.constantFrom<SyncMode>('always', 'never', { intervalMs: 50 })

export interface Scenario {
  sync: SyncMode
  /** Records appended (one batch each) before the concurrent commands: a few segments to cut and delete. */
  prefill: number
  /** Where, if anywhere, a close() runs among the commands (one in four scenarios). */
  closeAt: number | null
  /** Also a size bound on retention (sealed segments deleted while the log holds more). */
  maxBytes: boolean
  commands: Command[]
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  sync: syncArb,
  prefill: fc.integer({ min: 0, max: 40 }),
  closeAt: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }),
  maxBytes: fc.boolean(),
  commands: fc.array(commandArb, { minLength: 2, maxLength: 24 }),
})

const MAX_AGE_MS = 60_000

/** Record `id` of `size` filler bytes: its id is readable from its bytes. */
function recordBytes(id: number, size: number): Buffer {
  return Buffer.from(`#${id}:${'abcdefghij'.repeat(Math.ceil(size / 10)).slice(0, size)}`)
}

function recordId(data: Buffer): number {
  const m = /^#(\d+):/.exec(data.subarray(0, 24).toString('latin1'))
  assert.ok(m, `bytes that no append wrote: ${data.subarray(0, 32).toString('hex')}`)
  return Number(m[1])
}

/**
 * Scheduled steps one scenario may take (a few hundred is typical). More means a livelock — a
 * follower or waiter spinning without progress — reported as a failure rather than a hung test.
 */
const STEP_BUDGET = 20_000

function stepper(s: fc.Scheduler): (label: string) => Promise<void> {
  let steps = 0
  return (label) => {
    if (++steps > STEP_BUDGET) return Promise.reject(new Error(`livelock: more than ${STEP_BUDGET} scheduled steps (at ${label})`))
    return s.schedule(Promise.resolve(), label)
  }
}

interface Ack {
  offset: number
  calledAt: number
  resolvedAt: number
}

interface Cut {
  offset: number
  calledAt: number
  resolvedAt: number
}

const ALLOWED: Record<string, readonly string[]> = {
  append: ['ERR_CLOSED'],
  batch: ['ERR_CLOSED'],
  read: ['ERR_CLOSED'],
  iterate: ['ERR_CLOSED', 'ERR_TRUNCATED'],
  follow: ['ERR_CLOSED', 'ERR_TRUNCATED'],
  truncate: ['ERR_CLOSED', 'ERR_OFFSET_OUT_OF_RANGE'],
  deleteBefore: ['ERR_CLOSED'],
  sync: ['ERR_CLOSED'],
}

function openDescriptors(): number {
  return fs.readdirSync('/proc/self/fd').length
}

/** What the runs exercised, so a reader of the test output can see the suite is not vacuous. */
export const stats = { runs: 0, acked: 0, truncates: 0, truncatedIterators: 0, retained: 0, rolls: 0, seen: 0, closesMidRun: 0 }

/** Runs one scenario in `dir` under scheduler `s`; throws (an assertion) on any violation. */
export async function runScenario(s: fc.Scheduler, dir: string, scenario: Scenario): Promise<void> {
  const descriptorsBefore = openDescriptors()
  const clock = manualClock()
  const step = stepper(s)
  // Opening fsyncs the directory: through the scheduler too.
  const log = await s.waitFor(Log.open(dir, {
    sync: scenario.sync,
    segmentBytes: 1024,
    indexIntervalBytes: 128,
    retention: { maxAgeMs: MAX_AGE_MS, ...(scenario.maxBytes ? { maxBytes: 4096 } : {}) },
    clock,
    fileSystem: scheduledFileSystem(step),
  }))
  let seq = 0
  let nextId = 0
  const expected = new Map<number, Buffer>()
  const acks = new Map<number, Ack>()
  const cuts: Cut[] = []
  /** What readers returned, and when the call that returned it was made. */
  const seen: { offset: number; data: Buffer; by: string; calledAt: number }[] = []
  const violations: string[] = []
  const closeOutcomes: unknown[] = []
  const controller = new AbortController()

  const failed = (what: string, err: unknown): void => {
    const code = isSeglogError(err) ? err.code : undefined
    if (code === 'ERR_TRUNCATED') stats.truncatedIterators++
    if (code === undefined || !(ALLOWED[what] ?? []).includes(code)) violations.push(`${what} failed with ${String(err)}${code ? ` (${code})` : ''}`)
  }
  const pause = step

  async function consume(it: AsyncIterableIterator<{ offset: number; data: Buffer }>, what: string, from: number, steps: number): Promise<void> {
    let prev = -1
    try {
      for (let i = 0; i < steps; i++) {
        const calledAt = seq++
        const r = await it.next()
        if (r.done) return
        // A jump is allowed only over offsets retention or deleteBefore deleted (documented: skipped).
        if (prev >= 0 && r.value.offset !== prev + 1 && r.value.offset > log.firstOffset) {
          violations.push(`${what} yielded offset ${r.value.offset} after ${prev} (first offset ${log.firstOffset})`)
        }
        if (prev < 0 && r.value.offset < from) violations.push(`${what} from ${from} yielded offset ${r.value.offset}`)
        prev = r.value.offset
        seen.push({ offset: r.value.offset, data: Buffer.from(r.value.data), by: what, calledAt })
        await pause(`${what} step`)
      }
      await it.return?.()
    } catch (err) {
      failed(what === 'follow' ? 'follow' : 'iterate', err)
    }
  }

  const followers: Promise<void>[] = []

  async function run(cmd: Command, i: number): Promise<void> {
    switch (cmd.kind) {
      case 'append': {
        const id = nextId++
        const data = recordBytes(id, cmd.size)
        expected.set(id, data)
        const calledAt = seq++
        try {
          const offset = await log.append(cmd.asString ? data.toString('latin1') : data)
          acks.set(id, { offset, calledAt, resolvedAt: seq++ })
        } catch (err) {
          failed('append', err)
        }
        seq++
        return
      }
      case 'batch': {
        const ids = cmd.sizes.map(() => nextId++)
        const datas = ids.map((id, k) => recordBytes(id, cmd.sizes[k]))
        ids.forEach((id, k) => expected.set(id, datas[k]))
        const calledAt = seq++
        try {
          const { first, last } = await log.appendBatch(datas)
          if (last - first + 1 !== ids.length) violations.push(`appendBatch of ${ids.length} returned ${first}..${last}`)
          const resolvedAt = seq++
          ids.forEach((id, k) => acks.set(id, { offset: first + k, calledAt, resolvedAt }))
        } catch (err) {
          failed('batch', err)
        }
        seq++
        return
      }
      case 'read': {
        const offset = cmd.hint % (log.nextOffset + 1)
        const calledAt = seq++
        try {
          const r = await log.read(offset)
          if (r) {
            if (r.offset !== offset) violations.push(`read(${offset}) returned offset ${r.offset}`)
            seen.push({ offset, data: Buffer.from(r.data), by: `read ${i}`, calledAt })
          }
        } catch (err) {
          failed('read', err)
        }
        return
      }
      case 'iterate': {
        const span = log.nextOffset - log.firstOffset + 1
        const from = log.firstOffset + (cmd.hint % span)
        let it: AsyncIterableIterator<{ offset: number; data: Buffer }>
        try {
          it = log.iterate({ from })
        } catch (err) {
          return failed('iterate', err)
        }
        return consume(it, `iterate ${i}`, from, cmd.steps)
      }
      case 'follow': {
        let it: AsyncIterableIterator<{ offset: number; data: Buffer }>
        const from = log.firstOffset
        try {
          it = log.iterate({ from, follow: true, signal: controller.signal })
        } catch (err) {
          return failed('follow', err)
        }
        followers.push(consume(it, 'follow', from, Number.POSITIVE_INFINITY))
        return
      }
      case 'truncate': {
        const span = log.nextOffset - log.firstOffset + 1
        const offset = log.firstOffset + (cmd.hint % span)
        const calledAt = seq++
        try {
          await log.truncate(offset)
          cuts.push({ offset, calledAt, resolvedAt: seq++ })
        } catch (err) {
          failed('truncate', err)
        }
        return
      }
      case 'deleteBefore': {
        const span = log.nextOffset - log.firstOffset + 1
        const offset = log.firstOffset + (cmd.hint % span)
        try {
          // Age retention and other deleteBefore calls may delete more meanwhile: what it deleted is
          // checked at the end (the active segment stays, every record at or above the first offset is there).
          await log.deleteBefore(offset)
        } catch (err) {
          failed('deleteBefore', err)
        }
        return
      }
      case 'tick': {
        clock.advance(2 * MAX_AGE_MS)
        clock.fire()
        return
      }
      case 'sync': {
        try {
          await log.sync()
        } catch (err) {
          failed('sync', err)
        }
        return
      }
      case 'close': {
        stats.closesMidRun++
        closeOutcomes.push(await log.close().then(() => 'closed', (err: unknown) => err))
        return
      }
    }
  }

  for (let i = 0; i < scenario.prefill; i++) {
    const id = nextId++
    const data = recordBytes(id, 40 + ((i * 97) % 300))
    expected.set(id, data)
    const calledAt = seq++
    const { first } = await s.waitFor(log.appendBatch([data]))
    acks.set(id, { offset: first, calledAt, resolvedAt: seq++ })
  }
  const commands = [...scenario.commands]
  if (scenario.closeAt !== null) commands.splice(scenario.closeAt % (commands.length + 1), 0, { kind: 'close' })
  const ops = commands.map((cmd, i) => pause(`start ${i} ${cmd.kind}`).then(() => run(cmd, i)))
  await s.waitFor(Promise.all(ops))
  // Followers end when the log closes (or when aborted); close may need scheduled fsyncs.
  closeOutcomes.push(await s.waitFor(log.close().then(() => 'closed', (err: unknown) => err)))
  controller.abort()
  await s.waitFor(Promise.all(followers))

  for (const outcome of closeOutcomes) {
    if (outcome !== 'closed' && !(outcome instanceof SeglogError)) violations.push(`close failed with a raw error: ${String(outcome)}`)
  }
  const segments = log.segmentsInfo()
  stats.runs++
  stats.acked += acks.size
  stats.truncates += cuts.length
  stats.seen += seen.length
  stats.rolls += segments.length - 1
  const activeBase = segments[segments.length - 1]?.base ?? log.nextOffset
  const endOffset = log.nextOffset

  // Every record a reader saw was written by an append acknowledged with that offset, byte for byte.
  for (const { offset, data, by, calledAt } of seen) {
    const id = recordId(data)
    assert.deepEqual(data, expected.get(id), `${by}: offset ${offset} holds the bytes of record ${id}`)
    const ack = acks.get(id)
    assert.equal(ack?.offset, offset, `${by}: offset ${offset} holds record ${id}, which was acknowledged at ${ack?.offset}`)
    // Never a record that a finished truncate had removed: acknowledged before the truncate was
    // called, at or above its cut, and read by a call made after the truncate resolved.
    const gone = cuts.find((c) => c.offset <= offset && ack !== undefined && ack.resolvedAt < c.calledAt && c.resolvedAt < calledAt)
    assert.equal(gone, undefined, `${by}: served record ${id} at offset ${offset}, removed by truncate(${gone?.offset}) before the call`)
  }
  assert.deepEqual(violations, [])
  assert.equal(openDescriptors(), descriptorsBefore, 'close released every descriptor')

  // Reopen without the scheduler: close released the lock, and the log agrees with the model.
  const reopened = await Log.open(dir, { sync: 'never' })
  try {
    assert.equal(reopened.nextOffset, endOffset, 'reopen ends where the log ended')
    assert.ok(reopened.firstOffset <= activeBase, `retention kept the active segment (first ${reopened.firstOffset}, active base ${activeBase})`)
    const present = new Map<number, number>()
    for await (const r of reopened.iterate()) {
      const id = recordId(r.data)
      assert.deepEqual(r.data, expected.get(id), `offset ${r.offset} holds the bytes of record ${id}`)
      assert.equal(acks.get(id)?.offset, r.offset, `offset ${r.offset} holds record ${id}, acknowledged at ${acks.get(id)?.offset}`)
      present.set(r.offset, id)
    }
    assert.equal(present.size, endOffset - reopened.firstOffset, 'every offset from first to next is readable')
    if (reopened.firstOffset > 0) stats.retained++
    for (const [id, ack] of acks) {
      if (ack.offset < reopened.firstOffset) continue // deleted by retention or deleteBefore: whole sealed segments
      // Cut only by a truncate at or below it that finished after the append was called.
      const mayBeCut = cuts.some((c) => c.offset <= ack.offset && c.resolvedAt > ack.calledAt)
      if (!mayBeCut) assert.equal(present.get(ack.offset), id, `acknowledged record ${id} at offset ${ack.offset} is present`)
    }
  } finally {
    await reopened.close()
  }
}
