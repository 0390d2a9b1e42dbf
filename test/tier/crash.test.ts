// A real uploader process SIGKILLed at every store call of shipping three segments to a folder
// (before the call runs, and just after it returned), then a fresh uploader ships everything:
// every upload succeeds, each segment is there once, nothing unsealed is left, and the records
// read back equal the local log's.
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { FsStore } from '../../src/objects/fs.js'
import { openRemoteLog, readCatalog, SegmentUploader, type SealedSegment } from '../../src/tier/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { assertSameRecords, buildLocalLog, collect, snapshot } from './helpers.js'

const here = path.dirname(fileURLToPath(import.meta.url))

/** Runs the child until it stops at its kill point (then SIGKILLs it) or finishes. */
function runUntilKilled(root: string, killAt: number, when: 'before' | 'after', segments: SealedSegment[]): Promise<'killed' | 'done'> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(here, 'uploader-child.js'), [root, 'logs', String(killAt), when, JSON.stringify(segments)], {
      env: { ...process.env, SEGLOG_TEST_CHILD: 'tier-uploader' }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    let err = ''
    let outcome: 'killed' | 'done' | undefined
    child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
    child.on('message', (m) => {
      if (m === 'stopped') { outcome = 'killed'; child.kill('SIGKILL') } else if (m === 'done') outcome = 'done'
    })
    child.on('exit', (code, signal) => {
      if (outcome === 'killed' && signal === 'SIGKILL') resolve('killed')
      else if (outcome === 'done' && code === 0) resolve('done')
      else reject(new Error(`uploader child exited with ${code ?? signal}: ${err}`))
    })
  })
}

test('SIGKILL of an uploader at every store call, then a fresh uploader: nothing lost, duplicated or forked', async (t) => {
  const local = await buildLocalLog(t, { count: 150 })
  const segments = local.sealed.slice(0, 3)
  const want = local.records.slice(0, segments[2].end)
  let killed = 0
  for (let killAt = 1; ; killAt++) {
    let finished = false
    for (const when of ['before', 'after'] as const) {
      const root = tmpDir(t, 'seglog-tier-crash')
      // The first segment was shipped by an earlier, clean run.
      await new SegmentUploader(new FsStore({ root }), 'logs', { indexIntervalBytes: 1024 }).upload(segments[0])
      const result = await runUntilKilled(root, killAt, when, segments)
      if (result === 'done') { finished = true; continue }
      killed++
      const store = new FsStore({ root })
      const before = await readCatalog(store, 'logs')
      assert.ok(before.segments.length >= 1 && before.pending.length <= 1, `kill at call ${killAt} ${when}: ${JSON.stringify(before.pending)}`)
      const up = new SegmentUploader(store, 'logs', { indexIntervalBytes: 1024 })
      for (const seg of segments) assert.ok(['uploaded', 'resumed', 'present'].includes((await up.upload(seg)).outcome))
      const after = await readCatalog(store, 'logs')
      assert.deepEqual(after.segments.map((s) => [s.base, s.end]), segments.map((s) => [s.base, s.end]))
      assert.equal(after.pending.length, 0)
      assert.equal((await snapshot(store, 'logs/')).size, 2 * segments.length)
      assertSameRecords(await collect((await openRemoteLog(store, 'logs')).iterate()), want)
    }
    if (finished) break
  }
  assert.ok(killed >= 10, `killed at ${killed} points`)
  t.diagnostic(`killed at ${killed} points`)
})
