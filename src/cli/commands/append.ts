import diagnostics_channel from 'node:diagnostics_channel'
import type { Readable } from 'node:stream'
import { Log } from '../../index.js'
import type { CommandContext, TargetOptions } from '../context.js'
import { CliError, ExitCode, usage, type ExitCodeValue } from '../errors.js'
import { syncMode } from '../flags.js'
import type { Framing } from '../format.js'
import { openJournal } from '../journal.js'
import type { Target } from '../target.js'
import { refuseTieredStore } from '../tiered.js'
import { formatCount, messages } from '../ui.js'

/** Options of `seglog append`. */
export interface AppendOptions extends TargetOptions {
  framing: Framing
  /** Checked by commander with the `--sync` rule (src/cli/flags.ts). */
  sync: 'always' | 'never' | number
  quiet?: boolean
  codec: 'jsonl' | 'binary'
  singleWriter?: boolean
  batchEvents?: number
  segmentBytes?: number
}

/** Largest record read from stdin: the log's default maxRecordBytes, so memory stays bounded. */
const MAX_RECORD_BYTES = 16 << 20
/** Records handed to one appendBatch: bounded so offsets are printed as the input streams in. */
const MAX_BATCH_RECORDS = 4096

/** Splits stdin into records: lines (LF-terminated) or u32-little-endian length prefixes. */
export class RecordSplitter {
  private parts: Buffer[] = []
  private partBytes = 0
  /** 1-based number of the next record, for error messages. */
  private recordNo = 1
  constructor(private readonly framing: Framing) {}

  /** Complete records in `chunk` (with what was left over from earlier chunks). */
  push(chunk: Buffer): Buffer[] {
    return this.framing === 'lines' ? this.pushLines(chunk) : this.pushFrames(chunk)
  }

  /** The last record (a final line without LF); throws if the input stopped inside a frame. */
  end(): Buffer[] {
    if (this.partBytes === 0) return []
    const rest = Buffer.concat(this.parts)
    this.parts = []
    this.partBytes = 0
    if (this.framing === 'lines') return [rest]
    const want = rest.length >= 4 ? rest.readUInt32LE(0) : undefined
    throw usage(`input ends inside record ${this.recordNo}: ${want === undefined ? `${rest.length} of the 4 length bytes` : `${rest.length - 4} of ${want} bytes`} arrived`,
      'records before it were appended (their offsets are printed); check the producer of the length-prefixed input')
  }

  private tooLarge(bytes: number): CliError {
    return usage(`record ${this.recordNo} has ${formatCount(bytes)} bytes or more, over the limit of ${formatCount(MAX_RECORD_BYTES)} (16 MiB)`,
      'records before it were appended (their offsets are printed); split the record')
  }

  private pushLines(chunk: Buffer): Buffer[] {
    const out: Buffer[] = []
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(0x0a, start)
      if (nl < 0) break
      let line = chunk.subarray(start, nl)
      if (this.partBytes > 0) {
        line = Buffer.concat([...this.parts, line])
        this.parts = []
        this.partBytes = 0
      }
      if (line.length > MAX_RECORD_BYTES) throw this.tooLarge(line.length)
      out.push(line)
      this.recordNo++
      start = nl + 1
    }
    if (start < chunk.length) {
      this.parts.push(chunk.subarray(start))
      this.partBytes += chunk.length - start
      if (this.partBytes > MAX_RECORD_BYTES) throw this.tooLarge(this.partBytes)
    }
    return out
  }

  private pushFrames(chunk: Buffer): Buffer[] {
    let buf = chunk
    if (this.partBytes > 0) {
      buf = Buffer.concat([...this.parts, chunk])
      this.parts = []
      this.partBytes = 0
    }
    const out: Buffer[] = []
    let p = 0
    while (buf.length - p >= 4) {
      const len = buf.readUInt32LE(p)
      if (len > MAX_RECORD_BYTES) throw this.tooLarge(len)
      if (buf.length - p - 4 < len) break
      out.push(buf.subarray(p + 4, p + 4 + len))
      this.recordNo++
      p += 4 + len
    }
    if (p < buf.length) {
      this.parts.push(buf.subarray(p))
      this.partBytes = buf.length - p
    }
    return out
  }
}

/** Reads `stdin` chunk by chunk until it ends or `signal` aborts. */
async function* chunks(stdin: Readable, signal: AbortSignal): AsyncGenerator<Buffer> {
  const onAbort = (): void => {
    stdin.destroy()
  }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of stdin) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
  } catch (err) {
    if (!signal.aborted) throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** `seglog append TARGET`: records from stdin; prints each record's offset (or cursor) on stdout. */
export async function append(target: Target, options: AppendOptions, ctx: CommandContext, stdin: Readable = process.stdin): Promise<ExitCodeValue> {
  const splitter = new RecordSplitter(options.framing)
  if (target.kind === 'local') {
    const sync = syncMode(options.sync)
    const log = await Log.open(target.dir, { sync, ...(options.segmentBytes === undefined ? {} : { segmentBytes: options.segmentBytes }) })
    let appended = 0
    let first: number | undefined
    const write = async (records: Buffer[]): Promise<void> => {
      for (let i = 0; i < records.length; i += MAX_BATCH_RECORDS) {
        const part = records.slice(i, i + MAX_BATCH_RECORDS)
        const r = await log.appendBatch(part)
        first ??= r.first
        appended += part.length
        if (!options.quiet) {
          let s = ''
          for (let o = r.first; o <= r.last; o++) s += `${o}\n`
          await ctx.out.write(s)
        }
      }
    }
    try {
      for await (const chunk of chunks(stdin, ctx.signal)) {
        const records = splitter.push(chunk)
        if (records.length > 0) await write(records)
        await ctx.out.flush()
      }
      if (!ctx.signal.aborted) await write(splitter.end())
      await ctx.out.flush()
    } finally {
      await log.close()
      const range = first === undefined ? '' : ` (offsets ${first}…${first + appended - 1})`
      if (!options.quiet || ctx.signal.aborted) messages.info(`appended ${formatCount(appended)} record${appended === 1 ? '' : 's'} to ${target.display}${range}; durable`)
    }
    return ctx.signal.aborted ? ExitCode.Interrupted : ExitCode.Ok
  }

  // Journal: events become durable per flush; the flush channel says which batch got which events.
  if (options.sync !== 'always') throw usage('--sync applies to local logs; a journal event is durable once its batch object is written')
  if (options.segmentBytes !== undefined) throw usage('--segment-bytes applies to local logs; journals write one object per batch')
  await refuseTieredStore(target, 'append')
  const j = await openJournal(target, {
    codec: options.codec,
    flushEvents: options.batchEvents ?? 1000,
    ...(options.singleWriter ? { singleWriter: true } : {}),
  })
  const cursors: string[] = []
  let appended = 0
  let durable = 0
  const onFlush = (message: unknown): void => {
    const m = message as { journal: string; seq?: number; events: number; error?: unknown }
    if (m.journal !== j.prefix || m.error !== undefined || m.seq === undefined) return
    durable += m.events
    if (!options.quiet) for (let i = 0; i < m.events; i++) cursors.push(`${m.seq}:${i}`)
  }
  diagnostics_channel.subscribe('seglog:journal:flush', onFlush)
  const printCursors = async (): Promise<void> => {
    if (cursors.length > 0) await ctx.out.write(`${cursors.splice(0).join('\n')}\n`)
    await ctx.out.flush()
  }
  let lineNo = 0
  const toEvent = (r: Buffer): unknown => {
    lineNo++
    if (options.codec === 'binary') return r
    try {
      return JSON.parse(r.toString('utf8'))
    } catch {
      throw usage(`record ${lineNo} is not JSON: ${JSON.stringify(r.subarray(0, 60).toString('utf8'))}${r.length > 60 ? '…' : ''}`,
        'a JSON journal (--codec jsonl, the default) takes one JSON value per record; use --codec binary to store records as bytes. Records before it were appended')
    }
  }
  try {
    try {
      for await (const chunk of chunks(stdin, ctx.signal)) {
        for (const r of splitter.push(chunk)) {
          if (options.codec === 'jsonl' && options.framing === 'lines' && r.toString('utf8').trim() === '') { lineNo++; continue }
          await j.append(toEvent(r))
          appended++
        }
        await printCursors()
      }
      if (!ctx.signal.aborted) {
        for (const r of splitter.end()) {
          if (options.codec === 'jsonl' && r.toString('utf8').trim() === '') continue
          await j.append(toEvent(r))
          appended++
        }
      }
    } finally {
      // Whatever was appended before a failure or Ctrl-C is still flushed (and printed).
      await j.close()
      await printCursors().catch(() => undefined)
      diagnostics_channel.unsubscribe('seglog:journal:flush', onFlush)
      if (!options.quiet || ctx.signal.aborted) messages.info(`appended ${formatCount(durable)} event${durable === 1 ? '' : 's'} to ${target.display}; durable`)
    }
  } catch (err) {
    if (durable < appended) messages.warn(`${appended - durable} event(s) were not stored`)
    throw err
  }
  return ctx.signal.aborted ? ExitCode.Interrupted : ExitCode.Ok
}
