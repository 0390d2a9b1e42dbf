/**
 * Compatibility path: the public `Log` used to live here. It is built at the composition root
 * (src/log.ts, above local/ and threads/); deep imports of this module keep working.
 */
export { Log, copyRecord, type TypedLog, type IterateOptions, type AppendBatchResult } from '../log.js'
