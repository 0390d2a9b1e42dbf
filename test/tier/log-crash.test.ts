// A real tiered-log writer SIGKILLed at every store call (before the call and just after it
// returned) while it appends and ships; then the log is opened again with tier and synced:
// every acknowledged record is there, the store holds exactly the local log (each segment once,
// nothing unsealed, no fork), and shipping resumed where the dead process stopped.
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { FsStore } from '../../src/objects/fs.js'
import { readCatalog } from '../../src/tier/index.js'
import { payload, tmpDir } from '../helpers/tmp.js'
import { collect } from './helpers.js'

const here = path.dirname(fileURLToPath(import.meta.url))

/** Runs the child until it stops at its kill point (then SIGKILLs it; resolves with the acknowledged count) or finishes. */
function runUntilKilled(root: string, dir: string, killAt: number, when: 'before' | 'after', mode: 'store' | 'unlink' = 'store'): Promise<number | 'done'> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(here, 'log-child.js'), [root, dir, String(killAt), when, mode], {
      env: { ...process.env, SEGLOG_TEST_CHILD: 'tier-log' }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    let err = ''
    let outcome: number | 'done' | undefined
    child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
    child.on('message', (m) => {
      const text = String(m)
      if (text.startsWith('stopped ')) { outcome = Number(text.slice(8)); child.kill('SIGKILL') } else if (text === 'done') outcome = 'done'
    })
    child.on('exit', (code, signal) => {
      if (typeof outcome === 'number' && signal === 'SIGKILL') resolve(outcome)
      else if (outcome === 'done' && code === 0) resolve('done')
      else reject(new Error(`tiered log child exited with ${code ?? signal}: ${err}`))
    })
  })
}

test('SIGKILL of a tiered log at every store call of shipping, then reopen: nothing lost, duplicated or forked', async (t) => {
  let killed = 0
  for (let killAt = 1; ; killAt++) {
    let finished = false
    for (const when of ['before', 'after'] as const) {
      const root = tmpDir(t, 'seglog-tierlog-crash-store')
      const dir = path.join(tmpDir(t, 'seglog-tierlog-crash'), 'log')
      const acked = await runUntilKilled(root, dir, killAt, when)
      if (acked === 'done') { finished = true; continue }
      killed++
      const store = new FsStore({ root })
      const log = await Log.open(dir, { segmentBytes: 4096, sync: 'always', tier: { store, prefix: 'logs' } })
      const held = log.nextOffset
      assert.ok(held >= acked, `kill at call ${killAt} ${when}: ${held} records held, ${acked} acknowledged`)
      await log.syncTier({ all: true })
      assert.deepEqual(log.tierState, { uploadedOffset: held, localFirstOffset: 0, pendingSegments: 0 })
      const local = await collect(log.iterate())
      assert.equal(local.length, held)
      local.forEach((r, i) => assert.ok(Buffer.from(r.data).equals(payload(i, 100)), `record ${i} as appended`))
      await log.close()
      const catalog = await readCatalog(store, 'logs')
      assert.equal(catalog.endOffset, held, `kill at call ${killAt} ${when}: the store ends where the local log does`)
      assert.equal(catalog.pending.length, 0)
      let objects = 0
      for await (const m of store.list('logs/')) if (m.key.length > 0) objects++
      assert.equal(objects, 2 * catalog.segments.length, 'each segment once: its data object and its seal')
      const remote = await Log.openRemote(store, 'logs')
      const shipped = await collect(remote.iterate())
      await remote.close()
      assert.equal(shipped.length, held)
      shipped.forEach((r, i) => {
        assert.equal(r.offset, local[i].offset)
        assert.equal(r.timestamp, local[i].timestamp)
        assert.ok(Buffer.from(r.data).equals(local[i].data), `remote record ${i} equals the local one`)
      })
    }
    if (finished) break
  }
  assert.ok(killed >= 10, `killed at ${killed} points`)
  t.diagnostic(`killed at ${killed} points`)
})

test('SIGKILL of a tiered log during local deletion after upload, then reopen: nothing lost, the store and the disk still make the whole log', async (t) => {
  let killed = 0
  for (let killAt = 1; ; killAt += 2) {
    let finished = false
    for (const when of ['before', 'after'] as const) {
      const root = tmpDir(t, 'seglog-tierlog-crashdel-store')
      const dir = path.join(tmpDir(t, 'seglog-tierlog-crashdel'), 'log')
      const acked = await runUntilKilled(root, dir, killAt, when, 'unlink')
      if (acked === 'done') { finished = true; continue }
      killed++
      const store = new FsStore({ root })
      const log = await Log.open(dir, { segmentBytes: 4096, sync: 'always', tier: { store, prefix: 'logs', localRetention: { maxBytes: 4096 } } })
      const held = log.nextOffset
      assert.ok(held >= acked, `kill at unlink ${killAt} ${when}: ${held} records held, ${acked} acknowledged`)
      assert.equal(log.firstOffset, 0, 'the whole log starts at 0, the store included')
      await log.syncTier({ all: true })
      const all = await collect(log.iterate())
      assert.equal(all.length, held)
      all.forEach((r, i) => {
        assert.equal(r.offset, i)
        assert.ok(Buffer.from(r.data).equals(payload(i, 100)), `record ${i} as appended`)
      })
      await log.close()
      const catalog = await readCatalog(store, 'logs')
      assert.equal(catalog.endOffset, held)
      assert.equal(catalog.firstOffset, 0)
    }
    if (finished) break
  }
  assert.ok(killed >= 4, `killed at ${killed} points`)
  t.diagnostic(`killed at ${killed} points`)
})
