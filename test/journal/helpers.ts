import diagnostics_channel from 'node:diagnostics_channel'
import type { Journal, JournalEntry } from '../../src/journal/index.js'
import type { FlushMessage } from '../../src/journal/index.js'

/** Reads a journal to its current end (durable events only). */
export async function readAll<T>(j: Journal<T>, after?: string): Promise<JournalEntry<T>[]> {
  const out: JournalEntry<T>[] = []
  for await (const e of j.read({ pending: false, ...(after === undefined ? {} : { after }) })) out.push(e)
  return out
}

/** Resolves with the next flush message for `journal` matching `pred`. */
export function nextFlush(journal: string, pred: (m: FlushMessage) => boolean = () => true): Promise<FlushMessage> {
  return new Promise((resolve) => {
    const on = (msg: unknown): void => {
      const m = msg as FlushMessage
      if (m.journal === journal && pred(m)) {
        diagnostics_channel.unsubscribe('seglog:journal:flush', on)
        resolve(m)
      }
    }
    diagnostics_channel.subscribe('seglog:journal:flush', on)
  })
}

/** Asserts every (writer, i) appears exactly once and each writer's events are in order. */
export function checkExactlyOnce(values: { w: string | number; i: number }[], writers: (string | number)[], perWriter: number): string | undefined {
  const seen = new Map<string, number>()
  const lastByWriter = new Map<string, number>()
  for (const v of values) {
    const id = `${v.w}/${v.i}`
    if (seen.has(id)) return `duplicate ${id}`
    seen.set(id, 1)
    const last = lastByWriter.get(String(v.w)) ?? -1
    if (v.i <= last) return `writer ${v.w} out of order: ${v.i} after ${last}`
    lastByWriter.set(String(v.w), v.i)
  }
  for (const w of writers) for (let i = 0; i < perWriter; i++) if (!seen.has(`${w}/${i}`)) return `missing ${w}/${i}`
  if (seen.size !== writers.length * perWriter) return `expected ${writers.length * perWriter} events, got ${seen.size}`
  return undefined
}
