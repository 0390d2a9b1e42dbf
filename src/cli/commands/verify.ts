import path from 'node:path'
import { Journal, Log, type JournalVerifyReport, type VerifyReport } from '../../index.js'
import type { CommandContext, TargetOptions } from '../context.js'
import { ExitCode, type ExitCodeValue } from '../errors.js'
import { byteProgress, type ProgressMode } from '../progress.js'
import { checkLocalLogExists, type ReadTarget, type TieredTarget } from '../target.js'
import { verifyRemote, type RemoteVerifyReport } from '../tier-verify.js'
import type { OffsetRange } from '../tiered.js'
import { openTiered } from './read.js'
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

/** What `verify` finds on a tiered log: its local directory (when given) and its store. */
interface TieredVerifyReport {
  ok: boolean
  local: VerifyReport | null
  remote: RemoteVerifyReport
  /** Offsets in neither place (the store ends before the directory starts). */
  missing: OffsetRange | null
}

async function verifyTiered(target: TieredTarget, options: VerifyOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const view = await openTiered(target)
  let report: TieredVerifyReport
  const bar = byteProgress('verifying', progressMode(options))
  try {
    const remoteTotal = view.remote.segments.reduce((n, s) => n + s.size, 0)
    let localDone = 0
    let localTotal = 0
    const local = target.dir === undefined ? null
      : await Log.verify(target.dir.dir, { signal: ctx.signal, onProgress: (done, total) => { localDone = done; localTotal = total; bar.update(done, total + remoteTotal) } })
    const remote = await verifyRemote(view, { signal: ctx.signal, onProgress: (done) => bar.update(localDone + done, localTotal + remoteTotal) })
    const missing = view.missing ?? null
    report = { ok: (local?.ok ?? true) && remote.ok && missing === null, local, remote, missing }
  } catch (err) {
    if (ctx.signal.aborted) return ExitCode.Interrupted
    throw err
  } finally {
    bar.stop()
    await view.close()
  }
  if (ctx.signal.aborted) return ExitCode.Interrupted
  if (options.json) {
    await ctx.out.write(`${JSON.stringify({ target: target.display, tier: target.store.display, ...report }, null, 2)}\n`)
  } else {
    const p = palette(process.stdout)
    let text = ''
    if (report.local !== null) text += localText(target.dir?.display ?? target.display, report.local, p)
    const r = report.remote
    text += `${target.store.display}: ${r.segments} segment${r.segments === 1 ? '' : 's'} in the store, ${plural(r.records, 'record', 'records')} ` +
      `(offsets ${r.nextOffset > r.firstOffset ? `${r.firstOffset}…${r.nextOffset - 1}` : 'none'}), ${formatBytes(r.bytes)} checked in ${formatDuration(r.durationMs)}\n`
    for (const f of r.faults) text += `${p.red('FAULT')} ${f.kind.padEnd(13)} ${f.key} byte ${f.position}: ${f.message} (first unreadable offset ${f.offset})\n`
    if (report.missing !== null) {
      text += `${p.red('FAULT')} ${'missing'.padEnd(13)} offsets ${report.missing.from}…${report.missing.to - 1} are neither in the store (it ends at ${report.missing.from}) nor in the directory (it starts at ${report.missing.to})\n`
    }
    for (const key of r.unsealed) text += `${p.yellow('OTHER')} ${key} has no seal: an upload in progress or interrupted (the writer completes it on its next open; readers ignore it)\n`
    if (r.deletedWhileChecking > 0) text += `${p.yellow('NOTE')}  remote retention deleted ${formatCount(r.deletedWhileChecking)} records while they were being checked\n`
    const faults = (report.local?.faults.length ?? 0) + r.faults.length + (report.missing === null ? 0 : 1)
    text += report.ok ? `${p.green('ok')}: no faults\n` : `${p.red(`${faults} fault${faults === 1 ? '' : 's'}`)}\n`
    await ctx.out.write(text)
  }
  await ctx.out.flush()
  if (report.ok) return ExitCode.Ok
  messages.info(report.remote.faults.length > 0 || report.missing !== null
    ? 'next: objects in the store are never repaired in place; restore the damaged objects from a copy (or from a directory that still holds those segments); local faults: `seglog repair DIR --dry-run`'
    : `next: \`seglog repair ${target.dir?.display ?? 'DIR'} --dry-run\` shows what a repair would lose`)
  return ExitCode.DataFault
}

function localText(display: string, report: VerifyReport, p: ReturnType<typeof palette>): string {
  let text = `${display}: ${report.segments} segment${report.segments === 1 ? '' : 's'}, ${plural(report.batches, 'batch', 'batches')}, ` +
    `${plural(report.records, 'record', 'records')} (offsets ${report.firstOffset}…${Math.max(report.firstOffset, report.nextOffset - 1)}), ` +
    `${formatBytes(report.bytes)} checked in ${formatDuration(report.durationMs)}\n`
  for (const f of report.faults) {
    const where = path.relative(process.cwd(), f.file) || f.file
    const offset = f.offset !== undefined ? ` (first unreadable offset ${f.offset})` : ''
    text += `${p.red('FAULT')} ${f.kind.padEnd(13)} ${where} byte ${f.position}: ${f.message}${offset}\n`
  }
  for (const g of report.gaps) text += `${p.yellow('GAP')}   offsets ${g.from}…${g.to - 1} were lost to damage an earlier repair cut out (recorded; reads of them fail ERR_OFFSET_LOST)\n`
  return text
}

/** `seglog verify TARGET`: every checksum and index; exit 1 and a report of every fault when any. */
export async function verify(target: ReadTarget, options: VerifyOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  if (target.kind === 'tiered') return verifyTiered(target, options, ctx)
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
