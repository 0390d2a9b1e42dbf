// Regression tests for issue 10, defects 4 and 10. They use only the API that existed at 0aa50b0,
// so they can be run against it (both fail there: 30 of 30 events deleted; prefixes accepted).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { isSeglogError, type SeglogError } from '../../src/errors.js'
import { Journal } from '../../src/journal/index.js'
import { FsStore, MemoryStore, PrefixStore, type ObjectStore } from '../../src/objects/index.js'
import { readAll } from './helpers.js'

type Ev = { w: string | number; i: number }

const pad = (n: number): string => String(n).padStart(20, '0')

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const m of store.list(prefix)) out.push(m.key)
  return out
}

/** Writes `n` one-event batches b/0..b/n-1 under `prefix`, returns their bytes in order. */
async function batches(store: ObjectStore, prefix: string, n: number, w: string): Promise<Buffer[]> {
  const j = await Journal.open<Ev>(store, prefix, { flushEvents: 1000, graceMs: 0 })
  for (let i = 0; i < n; i++) { await j.append({ w, i }); await j.flush() }
  await j.close()
  const out: Buffer[] = []
  for (let i = 0; i < n; i++) out.push((await store.get(`${prefix}/b/${pad(i)}`))?.data ?? Buffer.alloc(0))
  return out
}

function namesKey(e: unknown, key: string): boolean {
  if (!isSeglogError(e, 'ERR_CORRUPT')) return false
  const d = (e as SeglogError).details
  return d.file === key || (Array.isArray(d.keys) && d.keys.includes(key))
}

describe('regression (issue 10 defect 4): compaction never deletes on the strength of a name', () => {
  const cases: { name: string; key: string; data: (own: Buffer[], foreign: Buffer[]) => Buffer; readable: boolean }[] = [
    { name: 'random bytes', key: `d/c/${pad(0)}-${pad(29)}`, data: () => randomBytes(600), readable: true },
    {
      name: 'a bit flip in a real merge', key: `d/c/${pad(0)}-${pad(29)}`, readable: true,
      data: (own) => { const b = Buffer.concat(own.map((x) => Buffer.from(x))); b[own.slice(0, 16).reduce((n, x) => n + x.length, 0) - 3] ^= 0x04; return b },
    },
    { name: 'a truncated merge', key: `d/c/${pad(0)}-${pad(29)}`, data: (own) => Buffer.concat(own).subarray(0, -7), readable: true },
    // Valid sections of another journal with the same numbers: readers cannot tell them from
    // this journal's (no journal identity in format 1), but compaction compares bytes.
    { name: 'valid sections of another journal', key: `d/c/${pad(0)}-${pad(29)}`, data: (_own, foreign) => Buffer.concat(foreign), readable: false },
    { name: 'a name wider than the content', key: `d/c/${pad(0)}-${pad(29)}`, data: (own) => Buffer.concat(own.slice(0, 20)), readable: true },
    { name: 'a name narrower than the content', key: `d/c/${pad(0)}-${pad(19)}`, data: (own) => Buffer.concat(own), readable: true },
  ]
  for (const c of cases) {
    test(`${c.name} under ${c.key.slice(2)}`, async () => {
      const store = new MemoryStore()
      const own = await batches(store, 'd', 30, 'own')
      const foreign = await batches(new MemoryStore(), 'other', 30, 'foreign')
      await store.put(c.key, c.data(own, foreign))
      const j = await Journal.open<Ev>(store, 'd', { graceMs: 0 })
      await assert.rejects(j.compact(), (e) => namesKey(e, c.key), 'compaction reports the object, naming it')
      // Nothing is deleted on the strength of the bad object: its originals stay (unless a good
      // merge made here, checked byte for byte, replaced them).
      const left = await keys(store, 'd/')
      const kept = left.filter((k) => k.startsWith('d/b/')).length === 30
      assert.ok(kept || (c.key !== `d/c/${pad(0)}-${pad(29)}` && left.includes(`d/c/${pad(0)}-${pad(29)}`)), left.join())
      const expected = Array.from({ length: 30 }, (_, i) => ({ w: 'own', i }))
      if (c.readable) assert.deepEqual((await readAll(j)).map((e) => e.value), expected, 'readers use the originals')
      // Once the object is removed by hand, everything is there, and compaction works again.
      await store.delete(c.key)
      assert.deepEqual((await readAll(j)).map((e) => e.value), expected)
      await j.compact()
      assert.deepEqual((await readAll(j)).map((e) => e.value), expected)
      assert.deepEqual(await keys(store, 'd/'), [`d/c/${pad(0)}-${pad(29)}`])
      await j.close()
    })
  }
})

describe('regression (issue 10 defect 10): prefixes under which a journal could never flush are refused at open', () => {
  test('.seglog-tmp, a segment over 255 bytes, and no room for the longest key', async () => {
    const store = new MemoryStore()
    const bad = [
      '.seglog-tmp', '.seglog-tmp/j', `${'x'.repeat(300)}`, `a/${'é'.repeat(128)}/b`,
      'p/'.repeat(491), // 981 bytes once the trailing "/" is removed: 980 is the most that leaves room for P/c/<20>-<20>
      'y'.repeat(200) + '/' + 'y'.repeat(200) + '/' + 'y'.repeat(200) + '/' + 'y'.repeat(200) + '/' + 'y'.repeat(181),
    ]
    for (const p of bad) {
      await assert.rejects(Journal.open(store, p), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && /journal prefix/.test(e.message), p.slice(0, 40))
      await assert.rejects(Journal.open(store, p, { readOnly: true }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'), p.slice(0, 40))
    }
    // A store's own prefix counts too.
    const inner = new PrefixStore(store, 'z'.repeat(200))
    const fits = Array.from({ length: 4 }, () => 'y'.repeat(200)).join('/')
    await Journal.open(store, fits)
    await assert.rejects(Journal.open(inner, fits),
      (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && /at most \d+ bytes/.test(e.message))
    assert.equal(store.size, 0)
  })

  test('the longest accepted prefix flushes, compacts and reads, on a real folder too', async () => {
    const longest = ['a'.repeat(255), 'b'.repeat(255), 'c'.repeat(255), 'd'.repeat(214)].join('/') // 982 bytes
    const dir = await mkdtemp(path.join(tmpdir(), 'seglog-prefix-'))
    try {
      for (const store of [new MemoryStore(), new FsStore({ root: dir })] as ObjectStore[]) {
        const p = longest.slice(0, 980)
        const j = await Journal.open<number>(store, p, { graceMs: 0, flushEvents: 1 })
        for (let i = 0; i < 3; i++) { await j.append(i); await j.flush() }
        await j.compact()
        assert.deepEqual((await readAll(j)).map((e) => e.value), [0, 1, 2])
        await j.close()
        await assert.rejects(Journal.open(store, longest.slice(0, 981)), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
