// The conformance suite every ObjectStore must pass, shipped so that authors of their own stores
// can run it. Modelled on the Rust object_store crate's src/integration.rs, with seglog's own
// promises added (create-only races, if-match on a missing key, code-point key order, hostile
// keys). It imports only node: built-ins and seglog's own modules, never test helpers.
// Each group of cases lives in conformance/; this runs them in order.
import type { TestContext } from 'node:test'
import type { ObjectStore } from '../objects/types.js'
import { resolveCapabilities, type StoreCapabilities } from './conformance/capabilities.js'
import { conditionalPutCases } from './conformance/conditional-puts.js'
import { folderCases } from './conformance/folders.js'
import { listingCases, manyKeysCase } from './conformance/listing.js'
import { objectCases } from './conformance/objects.js'
import { refusalCases } from './conformance/refusals.js'
import { conformanceRun } from './conformance/run.js'

export type { StoreCapabilities } from './conformance/capabilities.js'

/**
 * Runs the object-store conformance suite as subtests of `t`, against `store`, under the key
 * prefix `base` (a fresh, unique folder: the suite writes and deletes keys below it only).
 *
 * ```ts
 * import { test } from 'node:test'
 * import { storeConformance } from 'seglog/testing'
 * test('my store', (t) => storeConformance(t, new MyStore(), `run-${Date.now()}`, { manyKeys: 1100 }))
 * ```
 *
 * @param t - the test context the subtests run under.
 * @param store - the store under test.
 * @param base - a unique key prefix for this run, such as `run-<timestamp>`.
 * @param capabilities - what the store can do; see {@link StoreCapabilities}.
 */
export async function storeConformance(t: TestContext, store: ObjectStore, base: string, capabilities: StoreCapabilities = {}): Promise<void> {
  const run = conformanceRun(t, store, base, resolveCapabilities(store, capabilities))
  await objectCases(run)
  await conditionalPutCases(run)
  await listingCases(run)
  await folderCases(run)
  await refusalCases(run)
  await manyKeysCase(run)
}
