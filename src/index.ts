/**
 * The root entry point, `seglog`: the local log, worker-thread writers, the journal and the stores
 * that need no optional SDK. Nothing reachable from here may import an optional peer's types (a
 * strict TypeScript project without the cloud SDKs must compile), so the cloud stores live at
 * `seglog/s3` and `seglog/azure`, and test utilities at `seglog/testing`.
 */
export {
  SeglogError, isSeglogError, type SeglogErrorCode, type SeglogErrorDetails, type SeglogErrorDetailsByCode, type SeglogErrorDetailsFor, type SeglogErrorData,
} from './errors.js'
export {
  Log, copyRecord, type IterateOptions, type AppendBatchResult, type TypedLog,
  type TieredLogOptions, type TierOptions, type TierState, type RemoteLog, type RemoteLogOptions, type RemoteIterateOptions, type TierClock,
} from './log.js'
export { verifyLog, repairLog, lockHolder } from './local/log-tools.js'
export type { LogEncoding, DecodedRecord } from './local/encoding.js'
export type { LockHolderReport } from './local/lock.js'
export type { LogRecord } from './local/segment.js'
export type { LogOptions, SyncMode, RetentionOptions, LogClock } from './local/options.js'
export { systemClock } from './local/options.js'
export type { RecoveryReport } from './local/recovery.js'
export type { VerifyReport, VerifyFault, VerifyOptions } from './local/verify.js'
export type { RepairReport } from './local/repair.js'
export { FORMAT_VERSION } from './format/index.js'
// LogOptions.fileSystem takes one of these, so the types are part of the root surface; the
// implementation (nodeFileSystem) is a test utility and lives in seglog/testing.
export type { FileSystem, FileHandle, OpenMode, FileStat, EntryStat, EntryType, DirectoryWatch } from './io/file-system.js'
export type { RepairOptions } from './local/repair.js'
export type { Gap } from './local/gaps.js'
export { channels as diagnosticsChannels } from './diagnostics.js'
export {
  Journal, JOURNAL_START, parseCursor, formatCursor, compareCursors,
  type JournalOptions, type ReadOptions, type JournalEntry, type JournalCursor, type CompactResult,
  type FlushMessage, type CompactMessage, type JournalCodec,
  type FlushResult, type JournalIterateOptions, type JournalClock,
  JournalCatalog, type JournalListing, type JournalObject,
  type JournalObjectInfo, type JournalObjectKind, type JournalListOptions,
  type JournalVerifyReport, type JournalVerifyFault, type JournalVerifyOptions,
} from './journal/index.js'
export type {
  ObjectStore, ObjectMeta, PutMode, PutOptions, PutResult, GetOptions, GetResult, ListOptions, ByteRange,
} from './objects/types.js'
export type { RetryPolicy } from './objects/retry.js'
export { MemoryStore } from './objects/memory.js'
export { FsStore, type FsStoreOptions } from './objects/fs.js'
export { PrefixStore } from './objects/wrappers.js'
export { RetryStore, type RetryStoreOptions } from './objects/retry-store.js'
export type { RetryTiming } from './objects/retry.js'
export {
  LogWriter, type WorkerHandle, type SkipEvent, type SkipReason, type DrainBatchEvent,
} from './threads/index.js'
