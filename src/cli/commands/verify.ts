import path from 'node:path'
import { Journal, Log, type JournalVerifyReport, type VerifyReport } from '../../index.js'
import type { CommandContext, TargetOptions } from '../context.js'
import { ExitCode, type ExitCodeValue } from '../errors.js'
import { byteProgress, type ProgressMode } from '../progress.js'
import { checkLocalLogExists, type Target } from '../target.js'
import { formatBytes, formatCount, formatDuration, messages, palette } from '../ui.js'

/** Options of `seglog verify`. */
export interface VerifyOptions extends TargetOptions {
  progress?: boolean
}

function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`
}

function progressMode(options: VerifyOptions): ProgressMode {
  return options.progress === undefined ? 'auto' : options.progress ? 'on' : 'off'
}

/** `seglog verify TARGET`: every checksum and index; exit 1 and a report of every fault when any. */
export async function verify(target: Target, options: VerifyOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const bar = byteProgress('verifying', progressMode(options))
  let report: VerifyReport | JournalVerifyReport
  try {
    if (target.kind === 'local') {
      checkLocalLogExists(target)
      report = await Log.verify(target.dir, { onProgress: (done, total) => bar.update(done, total) })
    } else {
      report = await Journal.verify(target.store, target.prefix, { onProgress: (done, total) => bar.update(done, total), signal: ctx.signal })
    }
  } catch (err) {
    if (ctx.signal.aborted) return ExitCode.Interrupted
    throw err
  } finally {
    bar.stop()
  }
  if (ctx.signal.aborted) return ExitCode.Interrupted
  if (options.json) {
    await ctx.out.write(`${JSON.stringify({ target: target.display, ...report }, null, 2)}\n`)
  } else {
    const p = palette(process.stdout)
    let text: string
    if ('segments' in report) {
      text = `${target.display}: ${report.segments} segment${report.segments === 1 ? '' : 's'}, ${plural(report.batches, 'batch', 'batches')}, ` +
        `${plural(report.records, 'record', 'records')} (offsets ${report.firstOffset}…${Math.max(report.firstOffset, report.nextOffset - 1)}), ` +
        `${formatBytes(report.bytes)} checked in ${formatDuration(report.durationMs)}\n`
    } else {
      text = `${target.display}: ${report.objects} object${report.objects === 1 ? '' : 's'}, ${plural(report.batches, 'batch', 'batches')}, ` +
        `${plural(report.events, 'event', 'events')}, ${formatBytes(report.bytes)} checked in ${formatDuration(report.durationMs)}\n`
    }
    for (const f of report.faults) {
      const where = 'key' in f ? f.key : path.relative(process.cwd(), f.file) || f.file
      const offset = 'offset' in f && f.offset !== undefined ? ` (first unreadable offset ${f.offset})` : ''
      text += `${p.red('FAULT')} ${f.kind.padEnd(13)} ${where} byte ${f.position}: ${f.message}${offset}\n`
    }
    if ('unrecognized' in report) {
      for (const key of report.unrecognized) text += `${p.yellow('OTHER')} ${key} is no journal object (readers ignore it)\n`
    }
    if ('gaps' in report) {
      for (const g of report.gaps) text += `${p.yellow('GAP')}   offsets ${g.from}…${g.to - 1} were lost to damage an earlier repair cut out (recorded; reads of them fail ERR_OFFSET_LOST)\n`
    }
    text += report.ok ? `${p.green('ok')}: no faults\n` : `${p.red(`${report.faults.length} fault${report.faults.length === 1 ? '' : 's'}`)}\n`
    await ctx.out.write(text)
  }
  await ctx.out.flush()
  if (report.ok) return ExitCode.Ok
  if (target.kind === 'local') {
    const onlyIndex = report.faults.every((f) => f.kind === 'index')
    messages.info(onlyIndex
      ? `next: index files are derived data; \`seglog repair ${target.display}\` deletes the bad ones (they are rebuilt on use)`
      : `next: \`seglog repair ${target.display} --dry-run\` shows what a repair would lose; \`seglog repair ${target.display}\` cuts out the damage and keeps every intact batch (a damaged segment is copied aside first)`)
  } else {
    messages.info('next: journal objects are write-once and never repaired in place; restore the damaged objects from a copy, or drop everything before them with Journal.deleteBefore()')
  }
  return ExitCode.DataFault
}
