import { Log } from '../../index.js'
import type { CommandContext, TargetOptions } from '../context.js'
import { ExitCode, usage, type ExitCodeValue } from '../errors.js'
import { formatter, type Format, type Formatter, type Framing, type PrintedRecord } from '../format.js'
import { entryToRecord, openJournal } from '../journal.js'
import { checkLocalLogExists, type ReadTarget, type TieredTarget } from '../target.js'
import { TieredView } from '../tiered.js'

/** Options shared by `cat` and `tail`. */
export interface PrintOptions extends TargetOptions {
  format: Format
  base64?: boolean
  framing: Framing
  /** Journals: how often a follower polls the store. */
  pollMs?: number
}

/** Options of `seglog cat`. */
export interface CatOptions extends PrintOptions {
  from?: number
  to?: number
  limit?: number
  after?: string
}

/** Options of `seglog tail`. */
export interface TailOptions extends PrintOptions {
  lines: number
  follow?: boolean
}

function makeFormatter(options: PrintOptions): Formatter {
  if (options.framing !== 'lines' && options.format !== 'raw') throw usage('--framing applies to --format raw only')
  return formatter(options.format, { base64: options.base64 === true, framing: options.framing })
}

/** Opens a tiered target read-only (the directory, when given, must hold a log). */
export function openTiered(target: TieredTarget, pollMs?: number): Promise<TieredView> {
  if (target.dir !== undefined) checkLocalLogExists(target.dir)
  return TieredView.open(target.store, target.dir, pollMs === undefined ? {} : { pollMs })
}

function checkRange(options: CatOptions): void {
  if (options.from !== undefined && options.to !== undefined && options.to < options.from) {
    throw usage(`--to ${options.to} is below --from ${options.from}`, '--to is exclusive: --from 10 --to 20 prints offsets 10 to 19')
  }
}

/** Prints records through a formatter; true when `limit` was reached. */
class Printer {
  count = 0
  constructor(private readonly fmt: Formatter, private readonly ctx: CommandContext, private readonly limit = Infinity) {}
  async begin(): Promise<void> {
    const s = this.fmt.begin()
    if (s !== '') await this.ctx.out.write(s)
  }
  /** False once the limit is reached or the user pressed Ctrl-C (the rest of a batch is not printed). */
  async print(r: PrintedRecord): Promise<boolean> {
    if (this.count >= this.limit || this.ctx.signal.aborted) return false
    await this.ctx.out.write(this.fmt.record(r))
    this.count++
    return this.count < this.limit
  }
  async end(): Promise<void> {
    const s = this.fmt.end()
    if (s !== '') await this.ctx.out.write(s)
    await this.ctx.out.flush()
  }
}

/** `seglog cat TARGET`. */
export async function cat(target: ReadTarget, options: CatOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  try {
    return await catRecords(target, options, ctx)
  } catch (err) {
    // A data fault mid-log: every whole record printed before it reaches stdout, so a script
    // keeps what could be read (the exit code and stderr say where it stopped).
    await ctx.out.flush().catch(() => undefined)
    throw err
  }
}

async function catRecords(target: ReadTarget, options: CatOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const fmt = makeFormatter(options)
  const printer = new Printer(fmt, ctx, options.limit ?? Infinity)
  if (options.limit === 0) {
    await printer.begin()
    await printer.end()
    return ExitCode.Ok
  }
  if (target.kind === 'tiered') {
    if (options.after !== undefined) throw usage('--after takes a journal cursor; a tiered log is read by offset', 'use --from OFFSET (and --to OFFSET)')
    checkRange(options)
    const view = await openTiered(target)
    try {
      await printer.begin()
      const batches = view.batches({
        ...(options.from === undefined ? {} : { from: options.from }),
        ...(options.to === undefined ? {} : { to: options.to }),
        signal: ctx.signal,
      })
      outer: for await (const batch of batches) {
        for (const r of batch) if (!(await printer.print(r))) break outer
      }
      await printer.end()
    } finally {
      await view.close()
    }
  } else if (target.kind === 'local') {
    if (options.after !== undefined) throw usage('--after takes a journal cursor; for a local log use --from OFFSET')
    checkRange(options)
    checkLocalLogExists(target)
    const log = await Log.open(target.dir, { readOnly: true })
    try {
      await printer.begin()
      const it = log.iterateBatches({
        ...(options.from === undefined ? {} : { from: options.from }),
        ...(options.to === undefined ? {} : { to: options.to }),
        signal: ctx.signal,
      })
      outer: for await (const batch of it) {
        for (const r of batch) if (!(await printer.print(r))) break outer
      }
      await printer.end()
    } finally {
      await log.close()
    }
  } else {
    if (options.from !== undefined || options.to !== undefined) {
      throw usage('--from and --to take local-log offsets; journals are read by cursor', 'use --after CURSOR (as printed in the "cursor" field) and --limit N')
    }
    const j = await openJournal(target, { readOnly: true })
    try {
      await printer.begin()
      for await (const e of j.read({ pending: false, signal: ctx.signal, ...(options.after === undefined ? {} : { after: options.after }) })) {
        if (!(await printer.print(entryToRecord(e)))) break
      }
      await printer.end()
    } finally {
      await j.close()
    }
  }
  return ctx.signal.aborted ? ExitCode.Interrupted : ExitCode.Ok
}

/** `seglog tail TARGET`: the last N records, then (with -f) new ones until Ctrl-C. */
export async function tail(target: ReadTarget, options: TailOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const fmt = makeFormatter(options)
  if (options.format === 'json' && options.follow) throw usage('--format json makes one array and cannot be followed', 'use --format ndjson with -f')
  const printer = new Printer(fmt, ctx)
  const follow = options.follow === true
  if (target.kind === 'tiered') {
    const view = await openTiered(target, options.pollMs)
    try {
      await printer.begin()
      const from = Math.max(view.firstOffset, view.nextOffset - options.lines)
      for await (const batch of view.batches({ from, follow, signal: ctx.signal })) {
        for (const r of batch) await printer.print(r)
        await ctx.out.flush()
      }
      await printer.end()
    } finally {
      await view.close()
    }
  } else if (target.kind === 'local') {
    checkLocalLogExists(target)
    const log = await Log.open(target.dir, { readOnly: true })
    try {
      await printer.begin()
      const from = Math.max(log.firstOffset, log.nextOffset - options.lines)
      // Flushing per block keeps a follower's output live while staying fast for a backlog.
      for await (const batch of log.iterateBatches({ from, follow, signal: ctx.signal })) {
        for (const r of batch) await printer.print(r)
        await ctx.out.flush()
      }
      await printer.end()
    } finally {
      await log.close()
    }
  } else {
    const j = await openJournal(target, { readOnly: true, ...(options.pollMs === undefined ? {} : { followPollMs: options.pollMs }) })
    try {
      await printer.begin()
      // Journals have no offsets to count back from: keep the last N while reading to the end.
      const last: PrintedRecord[] = []
      let cursor: string | undefined
      for await (const e of j.read({ pending: false, signal: ctx.signal })) {
        cursor = e.cursor
        if (options.lines === 0) continue
        last.push(entryToRecord(e))
        if (last.length > options.lines) last.shift()
      }
      for (const r of last) await printer.print(r)
      await ctx.out.flush()
      if (follow && !ctx.signal.aborted) {
        for await (const e of j.read({ follow: true, signal: ctx.signal, ...(cursor === undefined ? {} : { after: cursor }) })) {
          await printer.print(entryToRecord(e))
          await ctx.out.flush()
        }
      }
      await printer.end()
    } finally {
      await j.close()
    }
  }
  // Ctrl-C is how a follow ends: that is success.
  if (ctx.signal.aborted && !follow) return ExitCode.Interrupted
  return ExitCode.Ok
}
