/**
 * `seglog/testing`: utilities for testing code built on seglog, not for production paths.
 * - {@link FaultStore} wraps any {@link ObjectStore} and fails chosen operations, to test how a
 *   journal (or your code) behaves when the store misbehaves.
 * - {@link nodeFileSystem} and the {@link FileSystem} seam: `Log.open(dir, { fileSystem })` takes
 *   any implementation, so a test can drop unsynced writes, tear writes or fail an fsync.
 * - {@link storeConformance}: the conformance suite every {@link ObjectStore} must pass; run it on
 *   your own store from a `node:test` test.
 */
export { FaultStore, type Fault, type StoreOp } from '../objects/wrappers.js'
export type { ObjectStore } from '../objects/types.js'
export { nodeFileSystem, type FileSystem, type FileHandle, type OpenMode, type FileStat, type EntryStat, type EntryType } from '../io/file-system.js'
export { storeConformance, type StoreCapabilities } from './store-conformance.js'
