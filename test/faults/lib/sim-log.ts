/** Small helpers to run a log on the power-loss simulator and open crash images for real. */
import fs from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { Log, type LogOptions } from '../../../src/index.js'
import { crashImage, PowerLossFs, prng, type CrashOptions, type Snapshot } from '../../helpers/power-loss-fs.js'
import { scratchRoot } from './history.js'

/** A real directory (the lock lives there) removed when the test ends. */
export function scratchDir(t: TestContext, name: string): string {
  const dir = fs.mkdtempSync(path.join(scratchRoot(), `${name}-`))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A simulator that keeps the first snapshot (taken before each operation) that `match` accepts. */
export function simWithTrigger(match: (snap: Snapshot) => boolean): { sim: PowerLossFs; taken: () => Snapshot | undefined } {
  let snap: Snapshot | undefined
  const sim: PowerLossFs = new PowerLossFs({
    // Every fsync takes the longest simulated time (three event-loop turns), so writes made
    // while it runs stay pending past it.
    rng: () => 0.99,
    onOp: (label) => {
      if (snap) return
      const s = sim.snapshot(label)
      if (match(s)) snap = s
    },
  })
  return { sim, taken: () => snap }
}

/** Names of files in `dir` created but not yet durable at `snap`. */
export function pendingCreates(snap: Snapshot, dir: string): string[] {
  return (snap.dirs.get(dir)?.pending ?? []).flatMap((op) => (op.kind === 'create' ? [op.name] : []))
}

function inodeOf(snap: Snapshot, dir: string, name: string): { durable: Buffer; pending: unknown[] } | undefined {
  const d = snap.dirs.get(dir)
  if (!d) return undefined
  let ino = d.durable.get(name)
  for (const op of d.pending) if (op.kind === 'create' && op.name === name) ino = op.ino
  return ino === undefined ? undefined : snap.inodes.get(ino)
}

/** Pending data operations of the file named `name` in `dir` at `snap`. */
export function pendingOps(snap: Snapshot, dir: string, name: string): number {
  return inodeOf(snap, dir, name)?.pending.length ?? 0
}

/** Durable bytes of the file named `name` in `dir` at `snap` (-1 when it has no name yet). */
export function durableBytes(snap: Snapshot, dir: string, name: string): number {
  return inodeOf(snap, dir, name)?.durable.length ?? -1
}

/** Writes the crash image of `snap` (with forced choices) into a fresh real directory. */
export function materialize(t: TestContext, snap: Snapshot, simDir: string, options: CrashOptions): string {
  const { files } = crashImage(snap, simDir, prng(7), options)
  const dir = scratchDir(t, 'seglog-crash')
  for (const [name, bytes] of files) fs.writeFileSync(path.join(dir, name), bytes)
  return dir
}

/** Every record of the log in `dir` as [offset, data], opened with the real file system. */
export async function readAll(log: Log): Promise<[number, Buffer][]> {
  const out: [number, Buffer][] = []
  for await (const rec of log.iterate()) out.push([rec.offset, Buffer.from(rec.data)])
  return out
}

export const simOptions = (sim: PowerLossFs, extra: LogOptions = {}): LogOptions => ({ fileSystem: sim.view(), ...extra })
