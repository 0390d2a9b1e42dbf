// The public surface: re-exports only.
export { SeglogError, isSeglogError, type SeglogErrorCode, type SeglogErrorDetails } from './errors.js'
export { Log, copyRecord, type IterateOptions, type AppendBatchResult } from './local/log.js'
export type { LogRecord } from './local/segment.js'
export type { LogOptions, SyncMode, RetentionOptions } from './local/options.js'
export type { RecoveryReport } from './local/recovery.js'
export type { VerifyReport, VerifyFault, VerifyOptions } from './local/verify.js'
export { FORMAT_VERSION } from './format/index.js'
export type { RepairReport } from './local/repair.js'
export type { FileSystem, FileHandle, OpenMode, FileStat } from './io/file-system.js'
export { nodeFileSystem } from './io/file-system.js'
export { channels as diagnosticsChannels } from './diagnostics.js'
export {
  Journal, JOURNAL_START, parseCursor, formatCursor, compareCursors,
  type JournalOptions, type ReadOptions, type JournalEntry, type JournalCursor, type CompactResult,
  type FlushMessage, type CompactMessage, type JournalCodec,
  type FlushResult, type JournalIterateOptions, type JournalClock,
} from './journal/index.js'
export {
  MemoryStore, FsStore, S3Store, AzureBlobStore, PrefixStore, FaultStore, validateKey,
  type ObjectStore, type ObjectMeta, type PutMode, type PutOptions, type PutResult, type GetOptions, type GetResult,
  type ListOptions, type ByteRange, type FsStoreOptions, type S3StoreOptions, type AzureBlobStoreOptions,
  type Fault, type StoreOp, type RetryPolicy,
} from './objects/index.js'
export {
  LogWriter, RingDrainer, type WorkerHandle, type DrainSink, type RingDrainerOptions, type RingDrainerStats,
  type SkipEvent, type SkipReason, type DrainBatchEvent,
} from './threads/index.js'
