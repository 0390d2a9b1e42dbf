// The follower alone: in the writing process an append wakes waiters; a read-only log keeps one
// directory watch (through the FileSystem seam) for all its waiters, opened on the first wait and
// closed with the log, and a change event re-checks every waiter.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Follower, type FollowHost } from '../../src/local/follower.js'
import type { FileSystem } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'

function host(readOnly: boolean): { host: FollowHost; watches: { opened: number; closed: number; fire: () => void }; setWritten: (n: number) => void } {
  let written = 10
  const watches = { opened: 0, closed: 0, fire: (): void => undefined }
  const fsys: FileSystem = {
    ...nodeFileSystem,
    watch(_dir, onChange) {
      watches.opened++
      watches.fire = onChange
      return { close: () => { watches.closed++ } }
    },
  }
  return {
    watches,
    setWritten: (n) => { written = n },
    host: { fsys, dir: '/nowhere', readOnly, pollMs: 60_000, written: () => written, isOpen: () => true, truncated: () => false, refresh: () => undefined },
  }
}

test('a waiter past the end resolves when woken; one before the end at once', async () => {
  const h = host(false)
  const follower = new Follower(h.host)
  await follower.wait(5, undefined)
  let done = false
  const waiting = follower.wait(10, undefined).then(() => { done = true })
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(done, false)
  follower.wake()
  await waiting
  assert.equal(h.watches.opened, 0, 'the writer needs no directory watch')
})

test('read-only: one directory watch serves every waiter; a change event re-checks them; close stops it', async () => {
  const h = host(true)
  const follower = new Follower(h.host)
  const results: number[] = []
  const a = follower.wait(10, undefined).then(() => results.push(10))
  const b = follower.wait(11, undefined).then(() => results.push(11))
  const ac = new AbortController()
  const c = follower.wait(50, ac.signal).then(() => results.push(50))
  assert.equal(h.watches.opened, 1, 'one watch for three waiters')
  h.setWritten(12)
  h.watches.fire()
  await Promise.all([a, b])
  assert.deepEqual(results.sort(), [10, 11])
  ac.abort()
  await c
  const d = follower.wait(60, undefined)
  assert.equal(h.watches.opened, 1, 'still the same watch')
  follower.close()
  await d
  assert.equal(h.watches.closed, 1)
})
