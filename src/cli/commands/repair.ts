import path from 'node:path'
import { Log } from '../../index.js'
import type { CommandContext, TargetOptions } from '../context.js'
import { ExitCode, usage, type ExitCodeValue } from '../errors.js'
import { checkLocalLogExists, type Target } from '../target.js'
import { formatBytes, formatCount, palette } from '../ui.js'

/** Options of `seglog repair`. */
export interface RepairOptions extends TargetOptions {
  dryRun?: boolean
}

/**
 * `seglog repair TARGET`: cuts out damaged bytes (copying a damaged segment aside first), keeps
 * every intact batch at its offset, records lost ranges as gaps and prints exactly what was lost. With --dry-run it changes nothing and exits 1 when a
 * repair would change something, so scripts can ask "does this need a repair?".
 */
export async function repair(target: Target, options: RepairOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  if (target.kind !== 'local') {
    throw usage('journals are never repaired in place: their objects are write-once',
      `run \`seglog verify ${target.display}\` to list damaged objects; restore them from a copy, or drop everything before them with Journal.deleteBefore()`)
  }
  checkLocalLogExists(target)
  const report = await Log.repair(target.dir, { dryRun: options.dryRun === true })
  if (options.json) {
    await ctx.out.write(`${JSON.stringify({ target: target.display, ...report }, null, 2)}\n`)
    await ctx.out.flush()
    return report.dryRun && !report.clean ? ExitCode.DataFault : ExitCode.Ok
  }
  const p = palette(process.stdout)
  const dry = report.dryRun
  const verb = (now: string, past: string): string => (dry ? `would ${now}` : past)
  const rel = (f: string): string => path.basename(f)
  let text = ''
  if (report.clean) {
    text += `${target.display}: ${p.green('nothing to repair')}\n`
  } else {
    for (const f of report.faults) text += `found ${f.kind} at ${rel(f.file)} byte ${f.position}: ${f.message}\n`
    for (const b of report.backups) text += `${verb('copy', 'copied')} ${rel(b.slice(0, b.lastIndexOf('.damaged-')))} aside to ${b}\n`
    for (const l of report.lost) {
      text += `${verb('cut out', 'cut out')} ${rel(l.file)} from byte ${l.position}: ${dry ? 'lose' : 'lost'} offsets ${l.from}…${l.to - 1} ` +
        `(${formatCount(l.to - l.from)} records), recorded as a gap\n`
    }
    for (const s of report.createdSegments) text += `${verb('move', 'moved')} the intact batches after the damage to ${rel(s)} (offsets unchanged)\n`
    const cut = report.cut
    if (cut) {
      const dropped = cut.previousNextOffset - cut.fromOffset
      text += `${verb('cut', 'cut')} ${rel(cut.file)} at byte ${cut.position}: ${dry ? 'drop' : 'dropped'} ` +
        `${dropped > 0 ? `offsets ${cut.fromOffset}…${cut.previousNextOffset - 1} (${formatCount(dropped)} records)` : 'no records'}, ` +
        `${formatBytes(cut.droppedBytes)} (${formatCount(cut.droppedBytes)} bytes)\n`
      text += `the log ${report.dryRun ? 'would end' : 'now ends'} at offset ${cut.fromOffset}\n`
    }
    for (const i of report.removedIndexes) text += `${verb('delete', 'deleted')} index ${rel(i)} (damaged or stale; rebuilt on use)\n`
    if (report.dryRun) text += `dry run: nothing changed; run \`seglog repair ${target.display}\` to do it\n`
  }
  await ctx.out.write(text)
  await ctx.out.flush()
  return report.dryRun && !report.clean ? ExitCode.DataFault : ExitCode.Ok
}
