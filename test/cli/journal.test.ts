// The `seglog` binary against journals: s3:// through s3rver (behind the enforcing proxy),
// az:// through Azurite, file:// on a folder. Each server is started once for its test.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { startAzurite, startS3 } from '../helpers/servers.js'
import { tmpDir } from '../helpers/tmp.js'
import { ndjson, runCli, startCli } from './helpers.js'

test('s3:// journal: append prints cursors; cat, tail, info, verify and compact', async (t) => {
  const s3 = await startS3()
  t.after(() => s3.stop())
  const env = { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey, AWS_REGION: s3.region }
  const url = `s3://${s3.bucket}/journals/orders`
  const conn = ['--endpoint', s3.endpoint, '--path-style']

  const a = await runCli(['append', url, ...conn, '--batch-events', '2'], { env, input: '{"id":1}\n{"id":2}\n\n{"id":3}\n' })
  assert.equal(a.code, 0, a.stderr)
  assert.equal(a.stdout, '0:0\n0:1\n1:0\n')
  assert.match(a.stderr, /appended 3 events to s3:\/\//)
  const b = await runCli(['append', url, ...conn, '--codec', 'binary'], { env, input: 'raw bytes\n' })
  assert.equal(b.stdout, '2:0\n')

  const c = await runCli(['cat', url, ...conn], { env })
  assert.equal(c.code, 0, c.stderr)
  const recs = ndjson(c.stdout)
  assert.deepEqual(recs.map((r) => r.cursor), ['0:0', '0:1', '1:0', '2:0'])
  assert.deepEqual(recs.map((r) => r.value ?? r.data), [{ id: 1 }, { id: 2 }, { id: 3 }, 'raw bytes'])
  assert.deepEqual(ndjson((await runCli(['cat', url, ...conn, '--after', '0:1', '--limit', '1'], { env })).stdout).map((r) => r.cursor), ['1:0'])
  assert.equal((await runCli(['cat', url, ...conn, '--format', 'raw'], { env })).stdout, '{"id":1}\n{"id":2}\n{"id":3}\nraw bytes\n')
  assert.deepEqual(ndjson((await runCli(['tail', url, ...conn, '-n', '2'], { env })).stdout).map((r) => r.cursor), ['1:0', '2:0'])

  const info = JSON.parse((await runCli(['info', url, ...conn, '--json', '--count'], { env })).stdout) as Record<string, unknown>
  assert.deepEqual(info.objects, { total: 3, batches: 3, compacted: 0, markers: 0, other: 0 })
  assert.equal(info.firstBatch, 0)
  assert.equal(info.lastBatch, 2)
  assert.equal(info.events, 4)

  const v = await runCli(['verify', url, ...conn], { env })
  assert.equal(v.code, 0, v.stdout + v.stderr)
  assert.match(v.stdout, /3 objects, 3 batches, 4 events/)

  const k = await runCli(['compact', url, ...conn, '--grace-ms', '0', '--progress'], { env })
  assert.equal(k.code, 0, k.stderr)
  assert.match(k.stdout, /merged 3 objects into journals\/orders\/c\/0{20}-0{19}2/)
  assert.match(k.stdout, /deleted 3 objects/)
  assert.match(k.stderr, /compacting \[.*100%/)
  const after = JSON.parse((await runCli(['info', url, ...conn, '--json'], { env })).stdout) as { objects: Record<string, number> }
  assert.deepEqual(after.objects, { total: 1, batches: 0, compacted: 1, markers: 0, other: 0 })
  assert.deepEqual(ndjson((await runCli(['cat', url, ...conn], { env })).stdout).map((r) => r.cursor), ['0:0', '0:1', '1:0', '2:0'])

  // A JSON journal rejects a line that is not JSON (usage error), keeping what came before.
  const bad = await runCli(['append', url, ...conn], { env, input: '{"id":4}\nnot json\n' })
  assert.equal(bad.code, 2)
  assert.equal(bad.stdout, '3:0\n')
  assert.match(bad.stderr, /record 2 is not JSON: "not json"\nhint: .*--codec binary/)

  // An unreachable store is an I/O error (exit 3) with what to check.
  const down = await runCli(['cat', url, '--endpoint', 'http://127.0.0.1:9', '--path-style'], { env })
  assert.equal(down.code, 3, down.stderr)
  assert.match(down.stderr, /hint: check the URL, --endpoint, credentials/)
})

test('az:// journal via Azurite: append, cat, verify, compact, and tail -f ends with 0 on Ctrl-C', async (t) => {
  const az = await startAzurite()
  t.after(() => az.stop())
  const env = { AZURE_STORAGE_CONNECTION_STRING: az.connectionString }
  const url = `az://${az.container}/app/events`

  const a = await runCli(['append', url], { env, input: '"first"\n"second"\n' })
  assert.equal(a.code, 0, a.stderr)
  assert.equal(a.stdout, '0:0\n0:1\n')
  const c = await runCli(['cat', url, '--format', 'json'], { env })
  assert.deepEqual((JSON.parse(c.stdout) as { value: unknown }[]).map((r) => r.value), ['first', 'second'])
  // The connection string can also be given as an option.
  const viaOption = await runCli(['info', url, '--connection-string', az.connectionString], { env: { AZURE_STORAGE_CONNECTION_STRING: '' } })
  assert.equal(viaOption.code, 0, viaOption.stderr)
  assert.match(viaOption.stdout, /objects +1: 1 batch/)

  const tail = startCli(['tail', '-f', '-n', '1', url, '--poll-ms', '100'], { env })
  assert.deepEqual((await tail.waitForLines(1)).map((l) => JSON.parse(l).value), ['second'])
  const more = await runCli(['append', url], { env, input: '"third"\n' })
  assert.equal(more.stdout, '1:0\n')
  const lines = await tail.waitForLines(2)
  assert.deepEqual(JSON.parse(lines[1]), { cursor: '1:0', timestamp: JSON.parse(lines[1]).timestamp, value: 'third' })
  tail.child.kill('SIGINT')
  const end = await tail.exited
  assert.equal(end.code, 0, end.stderr)

  assert.equal((await runCli(['verify', url], { env })).code, 0)
  const k = await runCli(['compact', url, '--json'], { env })
  assert.equal(k.code, 0, k.stderr)
  const res = JSON.parse(k.stdout) as { merged: { objects: number }[]; deleted: string[] }
  assert.deepEqual(res.merged.map((m) => m.objects), [2])
  assert.deepEqual(res.deleted, [], 'originals wait for the grace period')
  assert.deepEqual(ndjson((await runCli(['cat', url], { env })).stdout).map((r) => r.value), ['first', 'second', 'third'])

  // Messages name the store by the scheme the CLI accepts (az://), so it can be pasted back.
  const info = await runCli(['info', url], { env })
  assert.match(info.stdout, new RegExp(`az://${az.container}`))
  const missing = await runCli(['info', 'az://no-such-container/app'], { env })
  assert.equal(missing.code, 3, missing.stderr)
  assert.match(missing.stderr, /az:\/\/no-such-container: list/)
  for (const text of [info.stdout, info.stderr, missing.stdout, missing.stderr]) assert.doesNotMatch(text, /azure:\/\//)
})

test('file:// journal: a damaged object fails verify with exit 1 and names the object and byte', async (t) => {
  const root = tmpDir(t)
  const url = `file://${root}`
  for (let n = 0; n < 3; n++) {
    const a = await runCli(['append', url], { input: `{"n":${n}}\n` })
    assert.equal(a.code, 0, a.stderr)
    assert.equal(a.stdout, `${n}:0\n`)
  }
  assert.equal((await runCli(['verify', url])).code, 0)
  const obj = path.join(root, 'b', '00000000000000000001')
  const bytes = fs.readFileSync(obj)
  bytes[bytes.length - 3] ^= 0x20
  fs.writeFileSync(obj, bytes)
  const v = await runCli(['verify', url])
  assert.equal(v.code, 1)
  assert.match(v.stdout, /FAULT corrupt +b\/0{19}1 byte \d+: /)
  assert.match(v.stdout, /1 fault\n$/)
  assert.match(v.stderr, /write-once and never repaired in place/)
  const json = await runCli(['verify', url, '--json'])
  assert.equal(json.code, 1)
  const report = JSON.parse(json.stdout) as { ok: boolean; batches: number; events: number; faults: { key: string; kind: string }[] }
  assert.deepEqual([report.ok, report.batches, report.events], [false, 2, 2])
  assert.deepEqual(report.faults.map((f) => [f.kind, f.key]), [['corrupt', 'b/00000000000000000001']])
  const c = await runCli(['cat', url])
  assert.equal(c.code, 1)
  assert.match(c.stderr, /b\/0{19}1/)
})
