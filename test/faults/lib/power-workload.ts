/**
 * Drives a local log through the power-loss simulator: concurrent appends and batches, segment
 * rolls, truncates, deleteBefore, clean reopens and power cuts (after which the log recovers from
 * a crash image, and may be cut again during that recovery). Along the way it captures crash
 * images at random instants; the caller checks each with the real file system.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { isSeglogError, Log, type LogOptions, type SyncMode } from '../../../src/index.js'
import { crashImage, PowerCut, PowerLossFs, prng, randInt } from '../../helpers/power-loss-fs.js'
import { History, type ImageCheck } from './history.js'
import { makeRecord } from './records.js'

export interface WorkloadConfig {
  seed: number
  sync: SyncMode
  segmentBytes: number
  steps: number
  /** Chance, per file-system operation, of capturing crash images there. */
  captureChance: number
  imagesPerCapture: number
  /** Mean number of operations between power cuts that the workload itself lives through. */
  opsBetweenCuts: number
  /** Stop capturing after this many images. */
  maxImages: number
  /** Include truncate() in the workload (default true). */
  truncates?: boolean
}

export interface CapturedImage extends ImageCheck {
  /** True when some file's pending writes were kept out of order (reordering may read as corruption). */
  reordered: boolean
}

export interface WorkloadResult {
  history: History
  images: CapturedImage[]
  cuts: number
  reopenedCorrupt: number
  appended: number
  options: LogOptions
}

export async function runPowerWorkload(cfg: WorkloadConfig): Promise<WorkloadResult> {
  const rng = prng(cfg.seed)
  const imageRng = prng(cfg.seed ^ 0x5bd1e995)
  const history = new History()
  const images: CapturedImage[] = []
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-power-'))
  let log: Log | undefined
  let lastFirst = 0
  let crashed = false
  /** The durable state came from a reordered crash image and recovery has not finished yet. */
  let inheritedReorder = false
  let cuts = 0
  let reopenedCorrupt = 0
  let nextCutAt = randInt(rng, 1, cfg.opsBetweenCuts * 2)
  const uidAt = new Map<number, number>()

  const describe = (op: number, label: string, extra: string): string =>
    `seed ${cfg.seed} (SEGLOG_SEED=${cfg.seed} to replay), sync ${JSON.stringify(cfg.sync)}, op ${op} (${label}), ${extra}`

  const onOp = (label: string, op: number): void => {
    if (crashed) return
    // Records below the first offset of the live log may be gone (deleteBefore); deletion shifts
    // the segment list before unlinking, so this is never above what a crash can have removed.
    if (log && !log.closed) lastFirst = log.firstOffset
    const floor = lastFirst
    if (images.length < cfg.maxImages && imageRng() < cfg.captureChance) {
      const snap = sim.snapshot(label)
      for (let i = 0; i < cfg.imagesPerCapture; i++) {
        const { files, choice } = crashImage(snap, dir, imageRng)
        images.push({
          files, at: history.clock + 1, floor, describe: describe(op, label, JSON.stringify(choice)),
          reordered: choice.reordered || inheritedReorder,
        })
      }
    }
    if (op >= nextCutAt) {
      // A power cut the workload lives through: reboot into one possible crash image.
      const snap = sim.snapshot(label)
      const { files, choice } = crashImage(snap, dir, imageRng)
      images.push({ files, at: history.clock + 1, floor, describe: describe(op, label, `reboot image ${JSON.stringify(choice)}`),
        reordered: choice.reordered || inheritedReorder })
      inheritedReorder = choice.reordered || inheritedReorder
      sim.powerCut(dir, files)
      history.newGeneration()
      crashed = true
      cuts++
      nextCutAt = op + randInt(rng, 1, cfg.opsBetweenCuts * 2)
      throw new PowerCut()
    }
  }
  const sim = new PowerLossFs({ onOp, rng: prng(cfg.seed ^ 0x1234567) })
  const options = (): LogOptions => ({
    sync: cfg.sync, segmentBytes: cfg.segmentBytes, indexIntervalBytes: 128, writeBufferBytes: 4096, fileSystem: sim.view(),
  })

  const rebuildUids = async (l: Log): Promise<void> => {
    uidAt.clear()
    // After a reboot, what the log holds is whatever the crash image kept.
    for await (const rec of l.iterate({ gaps: 'skip' })) {
      if (rec.data.length >= 16) uidAt.set(rec.offset, rec.data.readUInt32LE(4))
    }
  }

  /** Opens (recovering), and learns what the log holds; power cuts may hit any step. */
  const open = async (): Promise<Log> => {
    for (;;) {
      crashed = false
      try {
        let opened: Log
        try {
          opened = await Log.open(dir, options())
        } catch (err) {
          if (crashed || !isSeglogError(err, 'ERR_CORRUPT')) throw err
          // Only a reordered crash image can read as corruption; repair keeps what was acknowledged.
          reopenedCorrupt++
          opened = await Log.open(dir, { ...options(), repair: true })
        }
        if (!crashed) await rebuildUids(opened).catch((err: unknown) => { if (!crashed) throw err })
        if (!crashed) inheritedReorder = false
        if (crashed) {
          // The cut hit a write whose failure recovery ignores (an index is only a hint); this handle is dead.
          await opened.close().catch(() => undefined)
          continue
        }
        return opened
      } catch (err) {
        if (crashed) continue // power cut during recovery: recover again from the new image
        throw err
      }
    }
  }

  let inflight: Promise<unknown>[] = []
  let appended = 0
  const settle = async (): Promise<void> => {
    const all = inflight
    inflight = []
    await Promise.allSettled(all)
  }
  const guard = (p: Promise<unknown>): Promise<unknown> => p.catch((err: unknown) => {
    if (!crashed && !(err instanceof PowerCut) && !isSeglogError(err, 'ERR_IO')) throw err
  })

  try {
    log = await open()
    for (let step = 0; step < cfg.steps; step++) {
      if (crashed || log.closed) {
        await settle()
        await log.close().catch(() => undefined)
        log = await open()
      }
      const current = log
      const r = rng()
      try {
        if (r < 0.78) {
          const n = randInt(rng, 1, 8)
          for (let i = 0; i < n; i++) {
            if (current.closed || crashed) break
            const size = rng() < 0.05 ? randInt(rng, 600, 2500) : randInt(rng, 16, 200)
            if (rng() < 0.2) {
              const k = randInt(rng, 2, 4)
              const first = current.nextOffset
              const uids = Array.from({ length: k }, (_, j) => history.issue(first + j))
              const recs = uids.map((uid, j) => makeRecord(uid, first + j, history.gen, size))
              uids.forEach((uid, j) => uidAt.set(first + j, uid))
              appended += k
              inflight.push(guard(current.appendBatch(recs).then((res) => {
                if (res.first !== first) throw new Error(`appendBatch got ${res.first}, expected ${first}`)
                if (cfg.sync === 'always') uids.forEach((uid, j) => history.ack(first + j, uid))
              })))
            } else {
              const offset = current.nextOffset
              const uid = history.issue(offset)
              uidAt.set(offset, uid)
              appended++
              inflight.push(guard(current.append(makeRecord(uid, offset, history.gen, size)).then((got) => {
                if (got !== offset) throw new Error(`append got ${got}, expected ${offset}`)
                if (cfg.sync === 'always') history.ack(offset, uid)
              })))
            }
          }
          if (rng() < 0.5) await settle()
        } else if (r < 0.85 && cfg.truncates !== false) {
          await settle()
          if (crashed) continue
          const to = randInt(rng, Math.max(current.firstOffset, current.nextOffset - 40), current.nextOffset)
          history.truncating(to)
          for (const off of [...uidAt.keys()]) if (off >= to) uidAt.delete(off)
          await guard(current.truncate(to))
        } else if (r < 0.89) {
          await settle()
          if (crashed) continue
          await guard(current.deleteBefore(randInt(rng, current.firstOffset, current.nextOffset)))
        } else if (r < 0.93) {
          await settle()
          if (crashed) continue
          await guard(current.close())
          if (!crashed) log = await open()
        } else {
          const upTo = current.nextOffset
          const uids = new Map<number, number>()
          for (const [off, uid] of uidAt) if (off < upTo) uids.set(off, uid)
          await guard(current.sync().then(() => {
            for (const [off, uid] of uids) history.ack(off, uid)
          }))
        }
      } catch (err) {
        if (!crashed) throw err
      }
    }
    await settle()
    await guard(log.close())
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return {
    history, images, cuts, reopenedCorrupt, appended,
    options: { sync: cfg.sync, segmentBytes: cfg.segmentBytes, indexIntervalBytes: 128, writeBufferBytes: 4096 },
  }
}
