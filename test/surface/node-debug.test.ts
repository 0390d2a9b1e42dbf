/**
 * NODE_DEBUG=seglog bridges every diagnostics channel to util.debuglog('seglog'): one stderr line
 * per message. Without it no channel has a subscriber (publishers build nothing).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { tmpDir } from '../helpers/tmp.js'

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url))
const DIAGNOSTICS = fileURLToPath(new URL('../../src/diagnostics.js', import.meta.url))

// Writes enough to roll segments, then reports which channels have subscribers.
const CHILD = `
const { Log } = await import(${JSON.stringify(INDEX)})
const { channels } = await import(${JSON.stringify(DIAGNOSTICS)})
const log = await Log.open(process.argv[1], { segmentBytes: 1024 })
for (let i = 0; i < 40; i++) await log.append('record-' + i + '-'.repeat(60))
await log.close()
process.stdout.write(JSON.stringify(Object.entries(channels).map(([k, c]) => [k, c.hasSubscribers])))
`

function run(dir: string, nodeDebug: string | undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  delete env.NODE_DEBUG
  if (nodeDebug !== undefined) env.NODE_DEBUG = nodeDebug
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

for (const setting of ['seglog', 'fs,seglog']) {
  test(`NODE_DEBUG=${setting}: every channel is subscribed; write, fsync and roll print one line each`, async (t) => {
    const r = await run(tmpDir(t), setting)
    assert.equal(r.code, 0, r.stderr)
    const subscribed = JSON.parse(r.stdout) as [string, boolean][]
    assert.ok(subscribed.length >= 10)
    for (const [name, has] of subscribed) assert.equal(has, true, `channel ${name} is not bridged`)
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('SEGLOG '))
    for (const channel of ['seglog:log:write', 'seglog:log:fsync', 'seglog:log:roll', 'seglog:log:recovery']) {
      const line = lines.find((l) => new RegExp(`^SEGLOG \\d+: ${channel} \\{`).test(l))
      assert.ok(line, `no line for ${channel} in:\n${r.stderr}`)
      assert.match(line, /dir: '/)
    }
    assert.ok(lines.filter((l) => l.includes('seglog:log:roll')).length >= 2, 'each roll is its own line')
  })
}

test('without NODE_DEBUG (or with another module named) nothing subscribes and nothing is printed', async (t) => {
  for (const setting of [undefined, 'fs,net', 'seglogx']) {
    const r = await run(tmpDir(t), setting)
    assert.equal(r.code, 0, r.stderr)
    for (const [name, has] of JSON.parse(r.stdout) as [string, boolean][]) assert.equal(has, false, `${String(setting)}: channel ${name} has a subscriber`)
    assert.doesNotMatch(r.stderr, /SEGLOG/)
  }
})
