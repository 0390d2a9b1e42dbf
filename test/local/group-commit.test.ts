// The group committer alone, against the power-loss file system: under random fsync timings
// and random crash images, every acknowledged record is in every image a power cut at that
// instant could leave, and a checkpoint found in an image is whole and names only bytes that
// survived. A failed fsync rejects every pending acknowledgement and sync waiter.
import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { decodeCheckpoint } from '../../src/local/checkpoint.js'
import { COMPACT_ACKS_AFTER, GroupCommitter, type CommitHost } from '../../src/local/group-commit.js'
import { SeglogError } from '../../src/errors.js'
import type { FileHandle, FileSystem } from '../../src/index.js'
import { crashImage, PowerLossFs, prng, randInt, type Snapshot } from '../helpers/power-loss-fs.js'

const DIR = '/sim/commit'
const RECORD = 16

function record(offset: number): Buffer {
  const b = Buffer.alloc(RECORD, offset & 0xff)
  b.writeUInt32LE(offset, 0)
  return b
}

interface Rig {
  fsys: FileSystem
  committer: GroupCommitter
  writer: FileHandle
  size: () => number
  append: (n: number) => Promise<number>[]
  /** Frames `n` records with an ack each, not yet written. */
  queue: (n: number) => Promise<number>[]
  /** Writes what {@link queue} framed and hands the write to the committer. */
  writeQueued: () => void
  failed: () => unknown
}

async function rig(sim: PowerLossFs): Promise<Rig> {
  const fsys = sim.view()
  fsys.mkdir(DIR)
  const writer = fsys.open(path.join(DIR, 'segment'), 'create-new')
  await fsys.syncDir(DIR)
  let size = 0
  let next = 0
  let failure: unknown
  const host: CommitHost = {
    fsys, dir: DIR, syncAlways: true,
    writer: () => writer,
    active: () => ({ base: 0, size }),
    stopped: () => failure !== undefined,
    fail: (err) => {
      failure = err
      committer.failAll(new SeglogError('ERR_IO', 'fsync failed', { cause: err }))
    },
  }
  const committer = new GroupCommitter(host, 0)
  let queued: Buffer[] = []
  const rigged: Rig = {
    fsys, committer, writer, size: () => size, failed: () => failure,
    queue(n) {
      const acks: Promise<number>[] = []
      for (let i = 0; i < n; i++) {
        acks.push(committer.ack(next))
        queued.push(record(next++))
      }
      return acks
    },
    writeQueued() {
      const buf = Buffer.concat(queued)
      queued = []
      writer.write(buf, 0, buf.length, size)
      size += buf.length
      committer.wroteTo(next)
    },
    // Frames `n` records (an ack each), writes them, and hands the write to the committer.
    append(n) {
      const acks = rigged.queue(n)
      rigged.writeQueued()
      return acks
    },
  }
  return rigged
}

test('acknowledged = durable: under random fsync timings, every crash image holds every record acknowledged before the cut; checkpoints are whole and truthful', async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const rng = prng(seed * 7919)
    const sim = new PowerLossFs({ rng })
    const r = await rig(sim)
    const acked = new Set<number>()
    const cuts: { snap: Snapshot; acked: number }[] = []
    const pending: Promise<unknown>[] = []
    for (let round = 0; round < 40; round++) {
      for (const ack of r.append(randInt(rng, 1, 5))) pending.push(ack.then((o) => acked.add(o)))
      // A roll asks for a fresh checkpoint in the next round.
      if (rng() < 0.2) r.committer.checkpointAt(-1, 0)
      const turns = randInt(rng, 0, 3)
      for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve))
      // Everything below the highest contiguous acknowledged offset must survive this instant.
      let upTo = 0
      while (acked.has(upTo)) upTo++
      cuts.push({ snap: sim.snapshot(`round ${round}`), acked: upTo })
    }
    await Promise.all(pending)
    await r.committer.settled()
    assert.equal(r.committer.durable, r.committer.written, `seed ${seed}: everything written is durable at the end`)
    for (const { snap, acked: upTo } of cuts) {
      for (let k = 0; k < 3; k++) {
        const { files } = crashImage(snap, DIR, rng)
        const data = files.get('segment') ?? Buffer.alloc(0)
        for (let o = 0; o < upTo; o++) {
          assert.deepEqual(data.subarray(o * RECORD, (o + 1) * RECORD), record(o), `seed ${seed} ${snap.label}: acknowledged record ${o} survives`)
        }
        const cpBytes = files.get('checkpoint')
        if (cpBytes !== undefined) {
          const cp = decodeCheckpoint(cpBytes)
          assert.ok(cp, `seed ${seed} ${snap.label}: a checkpoint in the image is whole`)
          assert.ok(cp.position <= data.length, `seed ${seed} ${snap.label}: the checkpoint names bytes that survived`)
          for (let o = 0; o < cp.nextOffset; o++) assert.deepEqual(data.subarray(o * RECORD, (o + 1) * RECORD), record(o))
        }
      }
    }
  }
})

test('a failed fsync rejects every pending acknowledgement and sync waiter, and a later round changes nothing', async () => {
  const sim = new PowerLossFs()
  const r = await rig(sim)
  const first = r.append(3)
  await Promise.all(first)
  const durable = r.committer.durable
  // The next fsync fails.
  const datasync = r.writer.datasync.bind(r.writer)
  r.writer.datasync = () => Promise.reject(Object.assign(new Error('EIO: fsync'), { code: 'EIO' }))
  const acks = r.append(2)
  const waiter = r.committer.waitDurable(r.committer.written)
  for (const ack of acks) await assert.rejects(ack, { code: 'ERR_IO' })
  await assert.rejects(waiter, { code: 'ERR_IO' })
  await r.committer.settled()
  assert.ok(r.failed(), 'the host was told')
  assert.equal(r.committer.durable, durable, 'the durable offset did not move past the failure')
  r.writer.datasync = datasync
})

test('settled() waits for the round and its checkpoint; the clean close makes everything durable', async () => {
  const sim = new PowerLossFs({ rng: prng(5) })
  const r = await rig(sim)
  const acks = r.append(4)
  await r.committer.settled()
  await Promise.all(acks)
  assert.ok(r.fsys.readFile(path.join(DIR, 'checkpoint')), 'the first round wrote a checkpoint')
  assert.equal(r.fsys.readFile(path.join(DIR, 'checkpoint.tmp')), undefined, 'renamed into place')
  await r.committer.flushForClose()
  assert.equal(r.committer.durable, 4)
})

test('the ack queue: an ack queued while a round runs waits for the round that covers it, values stay with their acks across many rounds, and a failure rejects written and unwritten acks alike', async () => {
  const sim = new PowerLossFs({ rng: prng(11) })
  const r = await rig(sim)
  const settled = new Map<number, string>()
  const watch = (acks: Promise<number>[]): void => {
    for (const a of acks) a.then((o) => settled.set(o, 'resolved'), () => undefined)
  }
  // Round 1 starts with records 0..2 written.
  watch(r.append(3))
  // Queued before round 1 completes, but written only after it started: round 1 must not resolve it.
  const [late] = r.queue(1)
  late.then((o) => settled.set(o, 'resolved'), () => undefined)
  await r.committer.settled()
  assert.deepEqual([...settled.keys()].sort(), [0, 1, 2], 'round 1 resolved exactly the records it covered')
  // Record 3 reaches the file now; the next round covers it.
  r.writeQueued()
  assert.equal(await late, 3)
  // Many rounds, each value resolved with its own ack (the queue restarts from slot 0 when empty).
  const all: Promise<number>[] = []
  for (let round = 0; round < 30; round++) all.push(...r.append(1 + (round % 7)))
  const values = await Promise.all(all)
  assert.deepEqual(values, values.map((_, i) => 4 + i))
  // A failure: one ack written (its round's fsync fails), one still in the buffer; both reject.
  r.writer.datasync = () => Promise.reject(Object.assign(new Error('EIO: fsync'), { code: 'EIO' }))
  const written = r.append(1)[0]
  const [unwritten] = r.queue(1)
  await assert.rejects(written, { code: 'ERR_IO' })
  await assert.rejects(unwritten, { code: 'ERR_IO' })
})

test('the ack queue stays as long as what is pending under steady load that never lets it empty (it grew by every append before)', async () => {
  const sim = new PowerLossFs({ rng: prng(12) })
  const r = await rig(sim)
  const queueLength = (): number => (r.committer as unknown as { ackResolves: unknown[] }).ackResolves.length
  let longest = 0
  let expected = 0
  // Each turn writes what was queued plus three records, and leaves one ack queued (not written)
  // when the round resolves: the queue is never empty at a resolution, so it never restarts at 0.
  r.queue(1).forEach((a) => void a.then((o) => assert.equal(o, 0)))
  expected = 1
  for (let turn = 0; turn < 2500; turn++) {
    const acks = r.append(3)
    r.queue(1).forEach((a) => void a.then(() => undefined, () => undefined))
    const values = await Promise.all(acks)
    assert.deepEqual(values, [expected, expected + 1, expected + 2])
    expected += 4
    longest = Math.max(longest, queueLength())
  }
  assert.ok(longest <= 2 * COMPACT_ACKS_AFTER + 8, `the queue grew to ${longest} slots for ${expected} appends`)
  r.writeQueued()
  await r.committer.settled()
  assert.equal(r.failed(), undefined)
})
