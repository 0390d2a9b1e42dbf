// Journal.close() aborts background work that waits on the store: follow polls and compaction.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { Journal } from '../../src/journal/index.js'
import { MemoryStore, abortedError } from '../../src/objects/index.js'
import type { ListOptions, ObjectMeta } from '../../src/objects/index.js'

/** A MemoryStore whose listings hang (once `hang` is set) until their signal aborts. */
class HangingStore extends MemoryStore {
  hang = false
  /** Resolves when a listing starts hanging. */
  hanging: Promise<void>
  #started!: () => void
  constructor() {
    super()
    this.hanging = new Promise((r) => { this.#started = r })
  }

  override async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    if (this.hang) {
      const signal = options.signal
      this.#started()
      await new Promise<void>((_resolve, reject) => {
        if (signal === undefined) return // without a signal this listing never ends
        signal.addEventListener('abort', () => reject(abortedError(signal, this.name, 'list', prefix)), { once: true })
      })
    }
    yield* super.list(prefix, options)
  }
}

test('close() ends a follow whose store call hangs, and flushes pending appends first', async () => {
  const store = new HangingStore()
  const j = await Journal.open(store, 'j', { followPollMs: 10 })
  await j.appendDurable('first')
  const seen: unknown[] = []
  const follow = (async () => {
    for await (const e of j.read({ follow: true })) {
      seen.push(e.value)
      store.hang = true // the next poll's listing hangs
    }
  })()
  await store.hanging
  await j.append('pending')
  await j.close()
  await follow // ends without error
  assert.deepEqual(seen, ['first'])
  store.hang = false
  const again = await Journal.open(store, 'j', { readOnly: true })
  const all: unknown[] = []
  for await (const e of again.read()) all.push(e.value)
  assert.deepEqual(all, ['first', 'pending'], 'the pending append was flushed by close()')
})

test('close() stops a compaction run waiting on the store with ERR_CLOSED; nothing is lost', async () => {
  const store = new HangingStore()
  const j = await Journal.open(store, 'j', { flushEvents: 1, graceMs: 0 })
  for (let i = 0; i < 3; i++) await j.appendDurable(i)
  store.hang = true
  const run = j.compact()
  await store.hanging
  await j.close()
  await assert.rejects(run, (e) => isSeglogError(e, 'ERR_CLOSED'))
  store.hang = false
  const again = await Journal.open(store, 'j', { readOnly: true })
  const all: unknown[] = []
  for await (const e of again.read()) all.push(e.value)
  assert.deepEqual(all, [0, 1, 2])
})
