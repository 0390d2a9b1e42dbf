// Journal options through the shared option schema.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { Journal } from '../../src/journal/index.js'
import type { JournalOptions } from '../../src/journal/index.js'
import { MemoryStore } from '../../src/objects/index.js'

test("readOnly: 'true' is refused (it used to open the journal writable); nothing is written", async () => {
  const store = new MemoryStore()
  const w = await Journal.open(store, 'j')
  await w.appendDurable({ before: true })
  await assert.rejects(Journal.open(store, 'j', { readOnly: 'true' } as unknown as JournalOptions),
    (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && e.details.option === 'readOnly')
  const got: unknown[] = []
  for await (const e of w.read()) got.push(e.value)
  assert.deepEqual(got, [{ before: true }])
  await w.close()
})

test('unknown options (with a suggestion) and wrong types are ERR_INVALID_ARGUMENT naming details.option', async () => {
  const store = new MemoryStore()
  const cases: [Record<string, unknown>, string][] = [
    [{ flushEvent: 3 }, 'flushEvent'],
    [{ lingerMs: -1 }, 'lingerMs'],
    [{ codec: 'json' }, 'codec'],
    [{ retry: { maxAttempt: 2 } }, 'retry.maxAttempt'],
    [{ graceMs: '100' }, 'graceMs'],
    [{ onError: 'log' }, 'onError'],
    [{ followPollMs: 10, pollMs: 20 }, 'pollMs'],
  ]
  for (const [options, option] of cases) {
    await assert.rejects(Journal.open(store, 'j', options as JournalOptions), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && e.details.option === option, JSON.stringify(options))
  }
  await assert.rejects(Journal.open(store, 'j', { flushEvent: 3 } as unknown as JournalOptions), /Did you mean 'flushEvents'/)
  const j = await Journal.open(store, 'j')
  await assert.rejects(j.compact({ grace: 0 } as unknown as { graceMs: number }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && e.details.option === 'grace')
  await assert.rejects(j.retain({} as { maxAgeMs: number }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && e.details.option === 'maxAgeMs')
  await j.close()
  assert.equal(store.size, 0, 'nothing was written')
})
