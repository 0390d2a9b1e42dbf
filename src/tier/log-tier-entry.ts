/**
 * What `Log` needs of tiered storage, in one module that `src/log.ts` imports on first use
 * (`Log.open` with `tier`, `Log.openRemote`): the bundle then keeps the tier's code in a chunk of
 * its own, which a program that never tiers a log does not load (issue 13, import cost).
 */
export { fenceError, LogTier, planTier, ReadOnlyTier } from './tiered-log.js'
export { openRemoteLog } from './remote-log.js'
export { checkHeldSegments } from './held-check.js'
