export { Journal } from './journal.js'
export { parseCursor, formatCursor, compareCursors, JOURNAL_START, type JournalCursor } from './cursor.js'
export type { JournalOptions } from './options.js'
export type {
  ReadOptions, JournalEntry, CompactResult, FlushMessage, CompactMessage, FlushResult, JournalIterateOptions,
} from './types.js'
export { decodeSections, type JournalCodec, type Section } from './codec.js'
export { parseKey, pad, JournalKeys, SEQ_DIGITS } from './keys.js'
export { ManualClock, systemClock, type JournalClock } from './clock.js'
export { validateJournalPrefix } from './prefix.js'
export type { JournalObject } from './plan.js'
export {
  JournalCatalog, listJournalObjects,
  type JournalListing, type JournalObjectInfo, type JournalObjectKind, type JournalListOptions,
} from './catalog.js'
export {
  type JournalVerifyReport, type JournalVerifyFault, type JournalVerifyOptions,
} from './verify.js'
