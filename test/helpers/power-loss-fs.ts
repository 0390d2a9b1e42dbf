/**
 * A power-loss simulator behind the FileSystem seam.
 *
 * Everything lives in memory. Each file (inode) keeps its *durable* bytes and the list of data
 * operations (writes, truncations) issued since its last completed fdatasync; each directory
 * keeps its durable entries and the list of entry operations (create, rename, unlink) issued
 * since its last completed fsync. Reads see the live state, as from the page cache.
 *
 * {@link PowerLossFs.snapshot} captures, at any instant, what a power cut could leave, and
 * {@link crashImage} turns a snapshot into one concrete on-disk state under the model below,
 * chosen with a seeded PRNG:
 *
 *  - File data: the durable bytes, plus some of the pending operations: none, all, a prefix
 *    (in issue order) or any subset (reordering); one write that is not fully kept may be torn
 *    at any byte. When a torn or dropped write had extended the file, the size may persist
 *    anyway, with zeros where the data did not arrive (as ext4 and XFS can leave it).
 *  - fdatasync makes every data operation of that file issued before the call durable, once it
 *    resolves. It does not make the file's name durable.
 *  - Directory entries: a prefix, in issue order, of the pending entry operations (journaling
 *    file systems commit metadata in order). A file whose creation is not kept does not exist.
 *    fsync of the directory makes every entry operation issued before the call durable.
 *  - A disk that lies about fsync, and damage to data that was already durable, are out of scope
 *    here (the corruption tests cover bit rot separately).
 */
import path from 'node:path'
import type { EntryStat, FileHandle, FileStat, FileSystem, OpenMode } from '../../src/index.js'

/** Small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function randInt(rng: () => number, lo: number, hiInclusive: number): number {
  return lo + Math.floor(rng() * (hiInclusive - lo + 1))
}

type DataOp =
  | { seq: number; kind: 'write'; pos: number; data: Buffer }
  | { seq: number; kind: 'truncate'; size: number }

type DirOp =
  | { seq: number; kind: 'create'; name: string; ino: number }
  | { seq: number; kind: 'unlink'; name: string }
  | { seq: number; kind: 'rename'; from: string; to: string; ino: number }

interface Inode {
  id: number
  /** Durable content (never mutated in place: replaced on every fold). */
  durable: Buffer
  /** Issue number of the newest operation folded into `durable`. */
  durableSeq: number
  pending: DataOp[]
  /** Live content: `live.subarray(0, size)`. */
  live: Buffer
  size: number
  mtimeMs: number
}

interface Dir {
  durable: Map<string, number>
  live: Map<string, number>
  pending: DirOp[]
}

/** What a power cut at one instant could leave: durable state plus everything pending. */
export interface Snapshot {
  /** Per inode: durable bytes and pending data operations (shared, immutable). */
  inodes: Map<number, { durable: Buffer; durableSeq: number; pending: DataOp[] }>
  /** Per directory (path): durable entries and pending entry operations. */
  dirs: Map<string, { durable: Map<string, number>; pending: DirOp[] }>
  /** Counter value of the operation the snapshot was taken before. */
  op: number
  label: string
}

export type DataMode = 'none' | 'all' | 'prefix' | 'subset'

/** How one crash image was chosen, for failure messages. */
export interface CrashChoice {
  /**
   * True when what segment files (`*.log`) hold is not a prefix, in issue order, of everything
   * written to them: some write survived (kept, or already made durable by an fsync) while an
   * earlier one, maybe in another segment, did not. Only such a state can show damage followed by
   * valid data.
   */
  reordered: boolean
  dirOpsKept: number
  dirOpsPending: number
  files: Record<string, string>
}

function errno(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${syscall} '${file}' (power-loss simulator)`)
  err.code = code
  err.syscall = syscall
  err.path = file
  return err
}

/** Thrown by every call of a file-system view after the simulated power cut killed it. */
export class PowerCut extends Error {
  readonly code = 'EIO'
  constructor() {
    super('EIO: the simulated machine lost power')
  }
}

export interface PowerLossOptions {
  /** Called before every mutating operation and after every completed fsync, with a label. */
  onOp?: (label: string, op: number) => void
  /** Picks how many event-loop turns an fsync takes (varies interleavings). */
  rng?: () => number
}

/**
 * The simulated machine. {@link view} hands out FileSystem objects; {@link powerCut} kills every
 * view handed out so far (their calls throw), as a crash would stop the old process.
 */
export class PowerLossFs {
  private inodes = new Map<number, Inode>()
  private dirs = new Map<string, Dir>()
  private nextIno = 1
  private seq = 0
  /** Mutating operations so far (the cut-point counter). */
  ops = 0
  private epoch = 0
  private readonly rng: () => number

  constructor(private readonly options: PowerLossOptions = {}) {
    this.rng = options.rng ?? Math.random
  }

  private tick(label: string): void {
    this.ops++
    this.options.onOp?.(label, this.ops)
  }

  /** Current snapshot (cheap: shares immutable buffers). */
  snapshot(label = ''): Snapshot {
    const inodes = new Map<number, { durable: Buffer; durableSeq: number; pending: DataOp[] }>()
    for (const [id, ino] of this.inodes) inodes.set(id, { durable: ino.durable, durableSeq: ino.durableSeq, pending: ino.pending.slice() })
    const dirs = new Map<string, { durable: Map<string, number>; pending: DirOp[] }>()
    for (const [p, d] of this.dirs) dirs.set(p, { durable: new Map(d.durable), pending: d.pending.slice() })
    return { inodes, dirs, op: this.ops, label }
  }

  /**
   * Simulates a power cut followed by a reboot into `image` (name → bytes of `dir`): every view
   * handed out before stops working, and the new state is entirely durable.
   */
  powerCut(dir: string, image: Map<string, Buffer>): void {
    this.epoch++
    this.inodes.clear()
    this.dirs.clear()
    const d: Dir = { durable: new Map(), live: new Map(), pending: [] }
    this.dirs.set(dir, d)
    for (const [name, bytes] of image) {
      const ino = this.newInode(Buffer.from(bytes))
      d.durable.set(name, ino.id)
      d.live.set(name, ino.id)
    }
  }

  /** The live bytes of every file in `dir` (what a process crash, not a power cut, leaves). */
  liveFiles(dir: string): Map<string, Buffer> {
    const out = new Map<string, Buffer>()
    const d = this.dirs.get(dir)
    if (!d) return out
    for (const [name, id] of d.live) {
      const ino = this.inodes.get(id) as Inode
      out.set(name, Buffer.from(ino.live.subarray(0, ino.size)))
    }
    return out
  }

  private newInode(content: Buffer): Inode {
    const id = this.nextIno++
    const live = Buffer.alloc(Math.max(64, content.length))
    content.copy(live)
    const ino: Inode = { id, durable: content, durableSeq: 0, pending: [], live, size: content.length, mtimeMs: Date.now() }
    this.inodes.set(id, ino)
    return ino
  }

  private dirOf(file: string): { dir: Dir; name: string } {
    const dir = this.dirs.get(path.dirname(file))
    if (!dir) throw errno('ENOENT', 'open', file)
    return { dir, name: path.basename(file) }
  }

  private lookup(file: string): Inode | undefined {
    const d = this.dirs.get(path.dirname(file))
    const id = d?.live.get(path.basename(file))
    return id === undefined ? undefined : this.inodes.get(id)
  }

  private create(file: string): Inode {
    const { dir, name } = this.dirOf(file)
    this.tick(`create ${name}`)
    const ino = this.newInode(Buffer.alloc(0))
    dir.live.set(name, ino.id)
    dir.pending.push({ seq: ++this.seq, kind: 'create', name, ino: ino.id })
    return ino
  }

  private liveWrite(ino: Inode, data: Buffer, pos: number): void {
    const end = pos + data.length
    if (end > ino.live.length) {
      const grown = Buffer.alloc(Math.max(end, ino.live.length * 2))
      ino.live.copy(grown, 0, 0, ino.size)
      ino.live = grown
    }
    if (pos > ino.size) ino.live.fill(0, ino.size, pos)
    data.copy(ino.live, pos)
    if (end > ino.size) ino.size = end
    ino.mtimeMs = Date.now()
  }

  private liveTruncate(ino: Inode, size: number): void {
    if (size > ino.live.length) {
      const grown = Buffer.alloc(size)
      ino.live.copy(grown, 0, 0, ino.size)
      ino.live = grown
    } else if (size > ino.size) {
      ino.live.fill(0, ino.size, size)
    }
    ino.size = size
    ino.mtimeMs = Date.now()
  }

  private write(ino: Inode, name: string, data: Buffer, pos: number): void {
    this.tick(`write ${name} @${pos}+${data.length}`)
    ino.pending.push({ seq: ++this.seq, kind: 'write', pos, data: Buffer.from(data) })
    this.liveWrite(ino, data, pos)
  }

  private truncate(ino: Inode, name: string, size: number): void {
    this.tick(`truncate ${name} ${size}`)
    ino.pending.push({ seq: ++this.seq, kind: 'truncate', size })
    this.liveTruncate(ino, size)
  }

  /** Makes data operations of `ino` up to `upTo` (a seq) durable. */
  private fold(ino: Inode, upTo: number): void {
    let n = 0
    while (n < ino.pending.length && ino.pending[n].seq <= upTo) n++
    if (n === 0) return
    ino.durable = applyDataOps(ino.durable, ino.pending.slice(0, n))
    ino.durableSeq = ino.pending[n - 1].seq
    ino.pending = ino.pending.slice(n)
  }

  private foldDir(dir: Dir, upTo: number): void {
    let n = 0
    while (n < dir.pending.length && dir.pending[n].seq <= upTo) n++
    if (n === 0) return
    applyDirOps(dir.durable, dir.pending.slice(0, n))
    dir.pending = dir.pending.slice(n)
  }

  private async delay(): Promise<void> {
    const turns = Math.floor(this.rng() * 3)
    for (let i = 0; i <= turns; i++) await new Promise<void>((resolve) => setImmediate(resolve))
  }

  /** A FileSystem bound to the current power cycle; it throws once the power is cut. */
  view(): FileSystem {
    const epoch = this.epoch
    const alive = (): void => {
      if (this.epoch !== epoch) throw new PowerCut()
    }
    // The handles and the file system below are object literals with their own `this`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const sim = this
    const handle = (file: string, ino: Inode, writable: boolean): FileHandle => {
      let closed = false
      const name = path.basename(file)
      const check = (): void => {
        alive()
        if (closed) throw errno('EBADF', 'fd', file)
      }
      return {
        path: file,
        write(buf, offset, length, position) {
          check()
          if (!writable) throw errno('EBADF', 'write', file)
          sim.write(ino, name, Buffer.from(buf.buffer, buf.byteOffset + offset, length), position)
        },
        read(buf, offset, length, position) {
          check()
          const n = Math.max(0, Math.min(length, ino.size - position))
          if (n > 0) ino.live.copy(buf, offset, position, position + n)
          return n
        },
        async datasync() {
          check()
          sim.tick(`datasync ${name} start`)
          const upTo = sim.seq
          await sim.delay()
          alive()
          sim.tick(`datasync ${name} ending`)
          sim.fold(ino, upTo)
          sim.tick(`datasync ${name} done`)
        },
        size() {
          check()
          return ino.size
        },
        truncate(size) {
          check()
          if (!writable) throw errno('EBADF', 'ftruncate', file)
          sim.truncate(ino, name, size)
        },
        close() {
          if (closed) throw errno('EBADF', 'close', file)
          closed = true
        },
      }
    }
    return {
      open(file: string, mode: OpenMode): FileHandle {
        alive()
        let ino = sim.lookup(file)
        if (mode === 'create-new' && ino) throw errno('EEXIST', 'open', file)
        if (!ino) {
          if (mode === 'read' || mode === 'write') throw errno('ENOENT', 'open', file)
          ino = sim.create(file)
        }
        return handle(file, ino, mode !== 'read')
      },
      readdir(dir: string): string[] {
        alive()
        const d = sim.dirs.get(dir)
        if (!d) throw errno('ENOENT', 'scandir', dir)
        return [...d.live.keys()]
      },
      mkdir(dir: string): void {
        alive()
        if (!sim.dirs.has(dir)) sim.dirs.set(dir, { durable: new Map(), live: new Map(), pending: [] })
      },
      stat(file: string): FileStat | undefined {
        alive()
        if (sim.dirs.has(file)) return { size: 4096, mtimeMs: 0 }
        const ino = sim.lookup(file)
        return ino && { size: ino.size, mtimeMs: ino.mtimeMs }
      },
      readFile(file: string): Buffer | undefined {
        alive()
        const ino = sim.lookup(file)
        return ino && Buffer.from(ino.live.subarray(0, ino.size))
      },
      writeFile(file: string, data: Uint8Array, sync: boolean): void {
        alive()
        let ino = sim.lookup(file)
        const name = path.basename(file)
        if (!ino) ino = sim.create(file)
        else sim.truncate(ino, name, 0)
        sim.write(ino, name, Buffer.from(data), 0)
        if (sync) {
          sim.fold(ino, sim.seq)
          sim.tick(`fsync ${name} done`)
        }
      },
      rename(from: string, to: string): void {
        alive()
        const ino = sim.lookup(from)
        if (!ino) throw errno('ENOENT', 'rename', from)
        const { dir, name: fromName } = sim.dirOf(from)
        const toName = path.basename(to)
        if (path.dirname(from) !== path.dirname(to)) throw errno('EXDEV', 'rename', to)
        sim.tick(`rename ${fromName} ${toName}`)
        dir.live.delete(fromName)
        dir.live.set(toName, ino.id)
        dir.pending.push({ seq: ++sim.seq, kind: 'rename', from: fromName, to: toName, ino: ino.id })
      },
      link(from: string, to: string): void {
        alive()
        const ino = sim.lookup(from)
        if (!ino) throw errno('ENOENT', 'link', from)
        const { dir, name } = sim.dirOf(to)
        if (path.dirname(from) !== path.dirname(to)) throw errno('EXDEV', 'link', to)
        if (dir.live.has(name) || sim.dirs.has(to)) throw errno('EEXIST', 'link', to)
        sim.tick(`link ${path.basename(from)} ${name}`)
        // A second name for the same inode: a directory-entry operation like a create.
        dir.live.set(name, ino.id)
        dir.pending.push({ seq: ++sim.seq, kind: 'create', name, ino: ino.id })
      },
      lstat(file: string): EntryStat | undefined {
        alive()
        if (sim.dirs.has(file)) return { type: 'directory', size: 4096, mtimeMs: 0 }
        const ino = sim.lookup(file)
        return ino && { type: 'file', size: ino.size, mtimeMs: ino.mtimeMs }
      },
      unlink(file: string): void {
        alive()
        const { dir, name } = sim.dirOf(file)
        if (!dir.live.has(name)) throw errno('ENOENT', 'unlink', file)
        sim.tick(`unlink ${name}`)
        dir.live.delete(name)
        dir.pending.push({ seq: ++sim.seq, kind: 'unlink', name })
      },
      async syncDir(dir: string): Promise<void> {
        alive()
        const d = sim.dirs.get(dir)
        if (!d) throw errno('ENOENT', 'fsync', dir)
        sim.tick('syncDir start')
        const upTo = sim.seq
        await sim.delay()
        alive()
        sim.tick('syncDir ending')
        sim.foldDir(d, upTo)
        sim.tick('syncDir done')
      },
    }
  }
}

function applyDataOps(base: Buffer, ops: readonly DataOp[]): Buffer {
  let size = base.length
  for (const op of ops) {
    if (op.kind === 'write') size = Math.max(size, op.pos + op.data.length)
    else size = Math.max(size, op.size)
  }
  const out = Buffer.alloc(size)
  base.copy(out)
  let len = base.length
  for (const op of ops) {
    if (op.kind === 'write') {
      if (op.pos > len) out.fill(0, len, op.pos)
      op.data.copy(out, op.pos)
      len = Math.max(len, op.pos + op.data.length)
    } else {
      if (op.size > len) out.fill(0, len, op.size)
      len = op.size
    }
  }
  return out.subarray(0, len)
}

function applyDirOps(entries: Map<string, number>, ops: readonly DirOp[]): void {
  for (const op of ops) {
    if (op.kind === 'create') entries.set(op.name, op.ino)
    else if (op.kind === 'unlink') entries.delete(op.name)
    else {
      entries.delete(op.from)
      entries.set(op.to, op.ino)
    }
  }
}

/** Forces parts of a crash image's choice (for deterministic regression cases). */
export interface CrashOptions {
  /** How pending data operations survive, for every file (default: random per file). */
  mode?: DataMode
  /** Per-file override of `mode`, by file name. */
  modes?: Record<string, DataMode>
  /** How many pending directory operations survive (default: a random prefix). */
  dirOps?: 'all' | 'none'
  /** Per file name: drop every pending operation but keep this many bytes of the first (torn) write. */
  tear?: Record<string, number>
  /**
   * Keep the writer lock file in the image. By default it is left out: a power cut ends the
   * process that held the lock, but the simulated machine runs inside this test process, whose
   * pid still lives, so a kept LOCK would read as held. (Reclaiming the lock of a dead process is
   * tested with real processes in test/local/lock-race.test.ts.)
   */
  keepLock?: boolean
}

/** One state a power cut at `snap` could leave in `dir`, chosen with `rng`. */
export function crashImage(snap: Snapshot, dir: string, rng: () => number, options: CrashOptions = {}): { files: Map<string, Buffer>; choice: CrashChoice } {
  const d = snap.dirs.get(dir)
  const files = new Map<string, Buffer>()
  const choice: CrashChoice = { reordered: false, dirOpsKept: 0, dirOpsPending: 0, files: {} }
  if (!d) return { files, choice }
  const entries = new Map(d.durable)
  const keepDir = options.dirOps === 'all' ? d.pending.length : options.dirOps === 'none' ? 0 : randInt(rng, 0, d.pending.length)
  applyDirOps(entries, d.pending.slice(0, keepDir))
  choice.dirOpsKept = keepDir
  choice.dirOpsPending = d.pending.length
  const modes: DataMode[] = ['none', 'all', 'prefix', 'prefix', 'subset', 'subset']
  const done = new Map<number, Buffer>()
  let keptMax = -1
  let droppedMin = Infinity
  if (!options.keepLock) entries.delete('LOCK')
  for (const [name, id] of entries) {
    const ino = snap.inodes.get(id)
    if (!ino) continue
    let content = done.get(id)
    if (!content) {
      const m = options.modes?.[name] ?? options.mode ?? modes[Math.floor(rng() * modes.length)]
      const { bytes, how, kept, partly } = chooseContent(ino.durable, ino.pending, m, rng, options.tear?.[name])
      for (const op of ino.pending) {
        // A torn write is partly kept and partly lost: it counts both ways.
        if (!name.endsWith('.log')) continue
        if (kept.has(op.seq) || op.seq === partly) keptMax = Math.max(keptMax, op.seq)
        if (!kept.has(op.seq)) droppedMin = Math.min(droppedMin, op.seq)
      }
      if (name.endsWith('.log')) keptMax = Math.max(keptMax, ino.durableSeq)
      content = bytes
      done.set(id, content)
      choice.files[name] = how
    }
    files.set(name, content)
  }
  choice.reordered = keptMax > droppedMin
  return { files, choice }
}

function chooseContent(durable: Buffer, pending: DataOp[], mode: DataMode, rng: () => number, tearAt?: number): { bytes: Buffer; how: string; kept: Set<number>; partly: number } {
  if (pending.length === 0) return { bytes: durable, how: 'durable', kept: new Set(), partly: -1 }
  if (tearAt !== undefined) {
    const first = pending[0]
    if (first.kind !== 'write') throw new Error('tear: the first pending operation is not a write')
    const part: DataOp = { seq: first.seq, kind: 'write', pos: first.pos, data: first.data.subarray(0, tearAt) }
    return { bytes: applyDataOps(durable, [part]), how: `torn #0 at ${tearAt}/${first.data.length}`, kept: new Set(), partly: first.seq }
  }
  let kept: DataOp[]
  let tornAt = -1
  if (mode === 'none') {
    kept = []
  } else if (mode === 'all') {
    kept = pending.slice()
  } else if (mode === 'prefix') {
    const k = randInt(rng, 0, pending.length)
    kept = pending.slice(0, k)
    if (k < pending.length && rng() < 0.7) tornAt = k
  } else {
    kept = []
    const dropped: number[] = []
    pending.forEach((op, i) => {
      if (rng() < 0.5) kept.push(op)
      else dropped.push(i)
    })
    if (dropped.length > 0 && rng() < 0.7) tornAt = dropped[Math.floor(rng() * dropped.length)]
  }
  const keptSeqs = new Set(kept.map((op) => op.seq))
  const torn = tornAt >= 0 ? pending[tornAt] : undefined
  let how = `${mode} ${kept.length}/${pending.length}`
  let partly = -1
  if (torn && torn.kind === 'write' && torn.data.length > 1) {
    const cut = randInt(rng, 0, torn.data.length - 1)
    if (cut > 0) partly = torn.seq
    const zeroExtend = rng() < 0.3
    const part: DataOp = { seq: torn.seq, kind: 'write', pos: torn.pos, data: torn.data.subarray(0, cut) }
    const extra: DataOp[] = [part]
    if (zeroExtend) extra.push({ seq: torn.seq, kind: 'write', pos: torn.pos + cut, data: Buffer.alloc(torn.data.length - cut) })
    kept = [...kept, ...extra].sort((a, b) => a.seq - b.seq)
    how += ` torn #${tornAt} at ${cut}/${torn.data.length}${zeroExtend ? ' zero-extended' : ''}`
  }
  return { bytes: applyDataOps(durable, kept), how, kept: keptSeqs, partly }
}
