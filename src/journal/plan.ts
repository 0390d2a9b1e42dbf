/** Which objects a reader or compactor reads, given a listing. */

/** A journal object as listed. */
export interface JournalObject {
  key: string
  kind: 'b' | 'c' | 'r'
  first: number
  last: number
  size: number
  /** `lastModified` as the store reports it (the store's clock, ms since the epoch). */
  modifiedMs: number
}

/** A step of a read or merge: read `obj` for sequence numbers from..to. */
export interface Step { obj: JournalObject; from: number; to: number }

/**
 * Chooses, from `from` upward (never below `marker`), which objects to read: at each position the
 * object covering it that reaches furthest (compacted before batch on ties, then the lower key).
 * Every choice holds the same bytes for a sequence number, so readers agree whatever they pick;
 * skips gaps. The steps are in order and do not overlap.
 */
export function planReads(batches: readonly JournalObject[], compacted: readonly JournalObject[], from: number, marker: number): Step[] {
  const steps: Step[] = []
  let s = Math.max(from, marker)
  const all = [...compacted, ...batches].filter((o) => o.last >= s)
  all.sort((a, b) => a.first - b.first || b.last - a.last || (a.kind === b.kind ? (a.key < b.key ? -1 : 1) : a.kind === 'c' ? -1 : 1))
  let i = 0
  for (;;) {
    let best: JournalObject | undefined
    // Every object starting at or before s is a candidate; the one reaching furthest wins.
    // Candidates not chosen end at or before best.last, so none is needed again.
    while (i < all.length && all[i].first <= s) {
      const o = all[i++]
      if (o.last >= s && (best === undefined || o.last > best.last || (o.last === best.last && o.kind === 'c' && best.kind === 'b'))) best = o
    }
    if (best === undefined) {
      // A gap (retention, or objects removed by hand): continue at the next object.
      if (i >= all.length) break
      s = all[i].first
      continue
    }
    steps.push({ obj: best, from: s, to: best.last })
    s = best.last + 1
  }
  return steps
}

/**
 * The first sequence number at or after `from` in first..last that no step covers, or undefined
 * when the steps cover all of it. Used for objects left out of a plan because they are damaged:
 * what they claim to hold must then come from other objects, or the reader cannot go on.
 */
export function firstUncovered(steps: readonly Step[], first: number, last: number, from: number): number | undefined {
  let pos = Math.max(first, from)
  for (const st of steps) {
    if (pos > last) return undefined
    if (st.to < pos) continue
    if (st.from > pos) return pos
    pos = st.to + 1
  }
  return pos > last ? undefined : pos
}
