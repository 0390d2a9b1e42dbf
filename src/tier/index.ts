/**
 * Tiered storage, the remote side: ship sealed segments to an object store, list them, read them
 * back, and apply remote retention. The local log will call these (see docs/tiered.md).
 */
export { SegmentUploader, type SealedSegment, type UploaderOptions, type UploadResult, type UploadOutcome } from './uploader.js'
export { readCatalog, segmentFor, type Catalog, type CatalogOptions, type RemoteSegment } from './catalog.js'
export { openRemoteLog, RemoteLog, type RemoteLogOptions, type RemoteIterateOptions, type TierClock } from './remote-log.js'
export { applyRemoteRetention, type RemoteRetentionOptions, type RemoteRetentionResult } from './remote-retention.js'
export { dataKey, sealKey, segmentsPrefix, parseSegmentKey, type SegmentKey } from './layout.js'
export { ByteLru } from './block-cache.js'
