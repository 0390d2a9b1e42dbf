export {
  Journal, parseCursor, formatCursor, compareCursors, JOURNAL_START, flushChannel, compactChannel,
  type JournalOptions, type ReadOptions, type JournalEntry, type JournalCursor, type CompactResult,
  type FlushMessage, type CompactMessage, type FlushResult, type JournalIterateOptions,
} from './journal.js'
export { decodeSections, type JournalCodec, type Section } from './codec.js'
export { parseKey, pad, JournalKeys, SEQ_DIGITS } from './keys.js'
export { ManualClock, systemClock, type JournalClock } from './clock.js'
export { validateJournalPrefix } from './prefix.js'
export {
  type JournalObjectInfo, type JournalObjectKind, type JournalListOptions,
  type JournalVerifyReport, type JournalVerifyFault, type JournalVerifyOptions,
} from './verify.js'
