import path from 'node:path'
import { FORMAT_VERSION, isSeglogError, Log } from '../../index.js'
import type { CommandContext, TargetOptions } from '../context.js'
import { ExitCode, type ExitCodeValue } from '../errors.js'
import { listJournal, openJournal } from '../journal.js'
import { checkLocalLogExists, type JournalTarget, type LocalTarget, type ReadTarget, type TieredTarget } from '../target.js'
import { TieredView, unsealedObjects } from '../tiered.js'
import { openTiered } from './read.js'
import { formatBytes, formatCount, formatDuration, palette } from '../ui.js'

/** Options of `seglog info`. */
export interface InfoOptions extends TargetOptions {
  count?: boolean
}

/** What the first batch of each segment says about the log's format version. */
interface FormatSurvey {
  /** FORMAT_VERSION when a batch was read, else null (no batches yet). */
  version: number | null
  /** The first segment whose first batch is from a newer format, and that error's message. */
  newer?: { file: string; message: string; version?: number }
}

/**
 * Reads the first record of every non-empty segment through the public API: a batch this release
 * reads is FORMAT_VERSION; a newer one fails with ERR_FORMAT_VERSION, reported rather than thrown so
 * info still describes the log. Damage is left to `seglog verify`.
 */
async function surveyFormat(log: Log, segments: readonly { file: string; base: number; bytes: number }[]): Promise<FormatSurvey> {
  const survey: FormatSurvey = { version: null }
  for (const s of segments) {
    if (s.bytes === 0) continue
    try {
      if (await log.read(s.base) !== undefined) survey.version = FORMAT_VERSION
    } catch (err) {
      if (isSeglogError(err, 'ERR_FORMAT_VERSION')) {
        const version = err.details.version
        survey.newer ??= { file: s.file, message: err.message, ...(typeof version === 'number' ? { version } : {}) }
      } else if (!isSeglogError(err, 'ERR_CORRUPT') && !isSeglogError(err, 'ERR_OFFSET_LOST')) {
        throw err
      }
    }
  }
  return survey
}

/** The store side of a tiered directory, for `info`. */
async function tierSection(view: TieredView, segments: readonly { base: number }[]) {
  const remote = view.remote
  const shippedEnd = view.shipped ? remote.nextOffset : 0
  // Every local segment but the last is sealed; the next one's base is where it ends.
  let pendingSegments = 0
  for (let i = 0; i + 1 < segments.length; i++) if (segments[i + 1].base > shippedEnd && segments[i + 1].base > segments[i].base) pendingSegments++
  const unsealed = await unsealedObjects(view)
  return {
    url: view.store.display,
    store: view.store.store.name,
    prefix: view.store.prefix,
    uploadedOffset: view.shipped ? remote.nextOffset : view.localFirstOffset,
    localFirstOffset: view.localFirstOffset,
    pendingSegments,
    firstOffset: view.firstOffset,
    nextOffset: view.nextOffset,
    remote: remoteSummary(view, unsealed),
    missing: view.missing ?? null,
    // The store holds records past this directory's end: another machine has written since.
    remoteAhead: view.shipped && remote.nextOffset > view.nextOffset,
  }
}

function remoteSummary(view: TieredView, unsealed: string[]) {
  const r = view.remote
  return {
    segments: r.segments.length,
    firstOffset: r.firstOffset,
    nextOffset: r.nextOffset,
    records: r.nextOffset - r.firstOffset,
    bytes: r.segments.reduce((n, s) => n + s.size, 0),
    newestTimestamp: r.segments.length === 0 ? null : Math.max(...r.segments.map((s) => s.maxTimestamp)),
    unsealed,
  }
}

function offsetsText(first: number, next: number): string {
  return next <= first ? `none yet (next ${next})` : `${first} … ${next - 1} (next ${next})`
}

async function localInfo(target: LocalTarget, options: InfoOptions, ctx: CommandContext, view?: TieredView): Promise<ExitCodeValue> {
  checkLocalLogExists(target)
  const lock = Log.lockHolder(target.dir)
  const log = view?.local ?? await Log.open(target.dir, { readOnly: true })
  try {
    const segments = log.segmentsInfo().map((s) => ({ file: path.basename(s.path), base: s.base, bytes: s.bytes }))
    const bytes = segments.reduce((n, s) => n + s.bytes, 0)
    const format = await surveyFormat(log, segments)
    const info = {
      kind: 'local' as const,
      path: target.dir,
      segments,
      firstOffset: log.firstOffset,
      nextOffset: log.nextOffset,
      records: log.nextOffset - log.firstOffset - log.gaps.reduce((n, g) => n + Math.min(g.to, log.nextOffset) - Math.max(g.from, log.firstOffset), 0),
      bytes,
      // A newer format shows its number when the error carries it, else null (newerFormat says more).
      formatVersion: format.newer ? format.newer.version ?? null : format.version,
      ...(format.newer ? { newerFormat: format.newer } : {}),
      gaps: log.gaps,
      recovery: log.recovery,
      lock: lock === undefined ? null : lock,
      ...(view === undefined ? {} : { tier: await tierSection(view, segments) }),
    }
    if (options.json) {
      await ctx.out.write(`${JSON.stringify(info, null, 2)}\n`)
      return ExitCode.Ok
    }
    const p = palette(process.stdout)
    const lines: [string, string][] = []
    lines.push(['log', info.path])
    const segText = segments.length <= 6
      ? segments.map((s) => `${s.file} (${formatBytes(s.bytes)})`).join(', ')
      : `${segments[0].file} … ${segments[segments.length - 1].file}`
    lines.push(['segments', `${segments.length}${segments.length > 0 ? `: ${segText}` : ''}`])
    lines.push(['offsets', info.records === 0 ? `none yet (next ${info.nextOffset})` : `${info.firstOffset} … ${info.nextOffset - 1} (next ${info.nextOffset})`])
    lines.push(['records', formatCount(info.records)])
    lines.push(['bytes', `${formatBytes(bytes)} (${formatCount(bytes)})`])
    if (info.gaps.length > 0) {
      lines.push(['gaps', p.yellow(info.gaps.map((g) => `${g.from}…${g.to - 1}`).join(', ') + ' (lost to damage; recorded by repair)')])
    }
    lines.push(['format', format.newer ? p.yellow(`newer than version ${FORMAT_VERSION} in ${format.newer.file}: upgrade seglog to read it`)
      : info.formatVersion === null ? 'no batches yet' : `version ${info.formatVersion}`])
    const r = log.recovery
    let rec = r.clean ? 'clean shutdown: nothing to check' : `checked ${formatBytes(r.scannedBytes)} from ${path.basename(r.scannedFrom.segment)} byte ${r.scannedFrom.position}`
    rec += ` (${formatDuration(r.durationMs)})`
    if (r.truncated) {
      rec += `; ${p.yellow(`${r.truncated.reason} tail of ${r.truncated.bytes} bytes at ${path.basename(r.truncated.file)} byte ${r.truncated.position}`)}` +
        ' (a read-only look: the next writer cuts it off)'
    }
    lines.push(['recovery', rec])
    lines.push(['lock', lock === undefined ? 'none'
      : lock.unknownOwner ? 'held by an unknown owner (LOCK names no process; writers are refused until it is removed)'
      : lock.alive ? `held by process ${lock.pid} on ${lock.host} (running)` : `stale: process ${lock.pid} on ${lock.host} is gone (the next writer reclaims it)`])
    if (info.tier !== undefined) {
      const t = info.tier
      const r = t.remote
      lines.push(['tier', t.store === t.url || t.store === `${t.url}/` ? t.url : `${t.url} (${t.store})`])
      lines.push(['uploaded', r.segments === 0 ? 'nothing shipped yet'
        : `every record below ${t.uploadedOffset} is in the store: ${r.segments} segment${r.segments === 1 ? '' : 's'}, offsets ${offsetsText(r.firstOffset, r.nextOffset)}, ${formatBytes(r.bytes)} (${formatCount(r.bytes)})`])
      lines.push(['pending', `${t.pendingSegments} sealed local segment${t.pendingSegments === 1 ? '' : 's'} not in the store yet` +
        (r.unsealed.length === 0 ? '' : `; ${r.unsealed.length} upload${r.unsealed.length === 1 ? '' : 's'} without a seal (in progress, or completed by the writer's next open)`)])
      lines.push(['local', `from offset ${t.localFirstOffset}${t.localFirstOffset > t.firstOffset ? ' (offsets below are read from the store)' : ''}`])
      lines.push(['whole', `offsets ${offsetsText(t.firstOffset, t.nextOffset)}, store included`])
      if (t.missing !== null) lines.push(['missing', p.yellow(`offsets ${t.missing.from}…${t.missing.to - 1} are neither in the store nor on the disk: check that --tier names the store this log ships to`)])
      if (t.remoteAhead) lines.push(['fenced', p.yellow(`the store holds the log up to ${r.nextOffset}, past this directory's end ${t.nextOffset}: another machine has written since (Log.open with tier refuses this directory with ERR_CONFLICT)`)])
    }
    await ctx.out.write(lines.map(([k, v]) => `${p.bold(k.padEnd(9))} ${v}\n`).join(''))
    return ExitCode.Ok
  } finally {
    if (view === undefined) await log.close()
  }
}

/** `info` on a tiered log: the directory with its store, or the store alone. */
async function tieredInfo(target: TieredTarget, options: InfoOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const view = await openTiered(target)
  try {
    if (target.dir !== undefined) return await localInfo(target.dir, options, ctx, view)
    const r = remoteSummary(view, await unsealedObjects(view, ctx.signal))
    const info = { kind: 'tiered' as const, url: target.display, store: target.store.store.name, prefix: target.store.prefix, ...r }
    if (options.json) {
      await ctx.out.write(`${JSON.stringify(info, null, 2)}\n`)
      return ExitCode.Ok
    }
    const p = palette(process.stdout)
    const segs = view.remote.segments
    const name = (key: string): string => key.slice(key.lastIndexOf('/') + 1)
    const segText = segs.length <= 6
      ? segs.map((s) => `${name(s.dataKey)} (${formatBytes(s.size)})`).join(', ')
      : `${name(segs[0].dataKey)} … ${name(segs[segs.length - 1].dataKey)}`
    const lines: [string, string][] = [
      ['tiered', info.store === info.url || info.store === `${info.url}/` ? info.url : `${info.url} (${info.store})`],
      ['segments', `${segs.length}${segs.length > 0 ? `: ${segText}` : ''}`],
      ['offsets', offsetsText(r.firstOffset, r.nextOffset)],
      ['records', formatCount(r.records)],
      ['bytes', `${formatBytes(r.bytes)} (${formatCount(r.bytes)})`],
      ['newest', r.newestTimestamp === null ? 'no record yet' : new Date(r.newestTimestamp).toISOString()],
      ['unsealed', r.unsealed.length === 0 ? 'none' : p.yellow(`${r.unsealed.length}: ${r.unsealed.join(', ')} (uploads in progress or interrupted; the writer completes them on its next open)`)],
    ]
    await ctx.out.write(lines.map(([k, v]) => `${p.bold(k.padEnd(9))} ${v}\n`).join(''))
    return ExitCode.Ok
  } finally {
    await view.close()
  }
}

async function journalInfo(target: JournalTarget, options: InfoOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const objects = await listJournal(target)
  const count = { batches: 0, compacted: 0, markers: 0, other: 0 }
  let bytes = 0
  let first = Infinity
  let last = -1
  let marker = 0
  let newest = 0
  for (const o of objects) {
    bytes += o.size
    newest = Math.max(newest, o.lastModified.getTime())
    if (o.kind === 'batch') count.batches++
    else if (o.kind === 'compacted') count.compacted++
    else if (o.kind === 'marker') { count.markers++; marker = Math.max(marker, o.first); continue } else { count.other++; continue }
    first = Math.min(first, o.first)
    last = Math.max(last, o.last)
  }
  first = Math.max(first, marker)
  let events: number | null = null
  if (options.count) {
    const j = await openJournal(target, { readOnly: true })
    events = 0
    try {
      for await (const e of j.read({ pending: false, signal: ctx.signal })) if (e !== undefined) events++
    } finally {
      await j.close()
    }
  }
  const info = {
    kind: 'journal' as const,
    url: target.display,
    store: target.store.name,
    prefix: target.prefix,
    objects: { total: objects.length, ...count },
    bytes,
    firstBatch: last < 0 ? null : first,
    lastBatch: last < 0 ? null : last,
    retentionMarker: marker === 0 ? null : marker,
    events,
    lastModified: newest === 0 ? null : new Date(newest).toISOString(),
  }
  if (options.json) {
    await ctx.out.write(`${JSON.stringify(info, null, 2)}\n`)
    return ExitCode.Ok
  }
  const p = palette(process.stdout)
  const lines: [string, string][] = [
    ['journal', info.url === info.store ? info.url : `${info.url} (${info.store}${info.prefix === '' ? '' : `, prefix ${info.prefix}`})`],
    ['objects', `${formatCount(objects.length)}: ${count.batches} batch, ${count.compacted} compacted, ${count.markers} retention${count.other > 0 ? `, ${count.other} foreign` : ''}`],
    ['batches', last < 0 ? 'none yet' : `${first} … ${last}`],
    ['events', events === null ? 'not counted (add --count to read every object)' : formatCount(events)],
    ['bytes', `${formatBytes(bytes)} (${formatCount(bytes)})`],
    ['updated', info.lastModified ?? 'never'],
  ]
  if (marker > 0) lines.splice(3, 0, ['retention', `batches below ${marker} deleted`])
  await ctx.out.write(lines.map(([k, v]) => `${p.bold(k.padEnd(9))} ${v}\n`).join(''))
  return ExitCode.Ok
}

/** `seglog info TARGET`. */
export function info(target: ReadTarget, options: InfoOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  if (target.kind === 'tiered') return tieredInfo(target, options, ctx)
  return target.kind === 'local' ? localInfo(target, options, ctx) : journalInfo(target, options, ctx)
}
