/** Journal cursors: a position `"<seq>:<index>"` that stays valid across compaction. */
import { SeglogError } from '../errors.js'

/**
 * A position in a journal: `"<seq>:<index>"`, the event `index` of batch `seq`. Cursors stay valid
 * across compaction (they name batches by sequence number, not by object key) and compare in
 * journal order with {@link compareCursors}.
 */
export type JournalCursor = string

/** The cursor before the first event: `read({ after: JOURNAL_START })` reads from the beginning. */
export const JOURNAL_START: JournalCursor = 'start'

/** Parses a cursor (`seq` -1 for {@link JOURNAL_START}); throws `ERR_INVALID_ARGUMENT` for anything else. */
export function parseCursor(cursor: JournalCursor): { seq: number; index: number } {
  if (cursor === JOURNAL_START) return { seq: -1, index: -1 }
  const m = typeof cursor === 'string' ? /^(\d{1,16}):(\d{1,10})$/.exec(cursor) : null
  const seq = m === null ? NaN : Number(m[1])
  const index = m === null ? NaN : Number(m[2])
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(index)) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid journal cursor ${JSON.stringify(cursor)}: expected "<seq>:<index>" as read() returns it`)
  }
  return { seq, index }
}

/** Formats a cursor. */
export function formatCursor(seq: number, index: number): JournalCursor {
  return `${seq}:${index}`
}

/** Orders two cursors (negative, zero, positive). */
export function compareCursors(a: JournalCursor, b: JournalCursor): number {
  const x = parseCursor(a)
  const y = parseCursor(b)
  return x.seq - y.seq || x.index - y.index
}
