import type { ObjectStore } from '../../index.js'
import type { CommandContext, TargetOptions } from '../context.js'
import { ExitCode, type ExitCodeValue } from '../errors.js'
import { listJournal, openJournal } from '../journal.js'
import { byteProgress } from '../progress.js'
import { journalOnly, type Target } from '../target.js'
import { refuseTieredStore } from '../tiered.js'
import { formatBytes, formatCount, formatDuration, messages } from '../ui.js'

/** Options of `seglog compact`. */
export interface CompactOptions extends TargetOptions {
  graceMs?: number
  singleWriter?: boolean
  progress?: boolean
}

/**
 * The journal reports no progress of its own, so the store is wrapped to count the bytes that
 * compaction reads; the total is what the listing shows before it starts.
 */
function countingStore(store: ObjectStore, onRead: (bytes: number) => void): ObjectStore {
  return {
    name: store.name,
    enforcesCreateOnly: store.enforcesCreateOnly,
    createOnlyUnverified: store.createOnlyUnverified === true,
    put: (key, data, options) => store.put(key, data, options),
    get: async (key, options) => {
      const got = await store.get(key, options)
      if (got !== undefined) onRead(got.data.length)
      return got
    },
    head: (key, options) => store.head(key, options),
    list: (prefix, options) => store.list(prefix, options),
    delete: (key, options) => store.delete(key, options),
    deleteMany: (keys, options) => store.deleteMany(keys, options),
  }
}

/** `seglog compact TARGET`: merges a journal's small batch objects into larger ones. */
export async function compact(target: Target, options: CompactOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const jt = journalOnly(target, 'compact', 'a local log needs no compaction: its segments are already large; use retention to drop old ones')
  await refuseTieredStore(jt, 'compact')
  const started = performance.now()
  const before = await listJournal(jt)
  const batches = before.filter((o) => o.kind === 'batch')
  const total = batches.reduce((n, o) => n + o.size, 0)
  const bar = byteProgress('compacting', options.progress === undefined ? 'auto' : options.progress ? 'on' : 'off')
  let read = 0
  const store = countingStore(jt.store, (bytes) => {
    read += bytes
    bar.update(Math.min(read, total), total)
  })
  const j = await openJournal({ ...jt, store }, {
    ...(options.graceMs === undefined ? {} : { graceMs: options.graceMs }),
    ...(options.singleWriter ? { singleWriter: true } : {}),
  })
  let result
  try {
    result = await j.compact(options.graceMs === undefined ? {} : { graceMs: options.graceMs })
  } finally {
    bar.stop()
    await j.close()
  }
  const summary = {
    target: jt.display,
    before: { objects: before.length, batches: batches.length },
    merged: result.merged,
    deleted: result.deleted,
    durationMs: performance.now() - started,
  }
  if (options.json) {
    await ctx.out.write(`${JSON.stringify(summary, null, 2)}\n`)
  } else {
    let text = ''
    for (const m of result.merged) text += `merged ${formatCount(m.objects)} objects into ${m.key} (${formatBytes(m.bytes)})\n`
    if (result.merged.length === 0) text += 'nothing to merge (fewer than two adjacent batch objects)\n'
    text += `deleted ${formatCount(result.deleted.length)} object${result.deleted.length === 1 ? '' : 's'} in ${formatDuration(summary.durationMs)}\n`
    await ctx.out.write(text)
  }
  await ctx.out.flush()
  if (result.merged.length > 0 && result.deleted.length === 0 && options.graceMs !== 0) {
    messages.info('note: the merged originals are deleted once they are older than the grace period (default 60 s), so that readers in progress never see a gap; run `seglog compact` again later to delete them')
  }
  return ExitCode.Ok
}
