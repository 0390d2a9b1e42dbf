// The package as users get it. Packs the repository (which runs `prepare`), installs the tarball
// and a git+file:// URL of the committed repository into fresh projects, and uses each one the
// way users do: ESM import, CommonJS require, a strict TypeScript project (skipLibCheck: false)
// without the optional cloud SDKs, and `npx seglog --help`.
//
// Not part of `npm test`: it installs from the npm registry and takes a minute or two. Run it with
// `npm run test:package` (CI does, from .ci/run, on every Node major it tests).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-package-'))
const TIMEOUT = { timeout: 10 * 60_000 }
const repoPkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  version: string
  devDependencies: Record<string, string>
}

interface Run { code: number | null; stdout: string; stderr: string }

/** The environment for child npm/node runs: none of the outer `npm run`'s own settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_TEST_CONTEXT' && k !== 'NODE_OPTIONS') env[k] = v
  }
  // Children run on the Node that runs this check (CI runs it on several majors).
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`
  return {
    ...env, npm_config_loglevel: 'error', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false',
  }
}

function run(cmd: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8') })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

async function ok(cmd: string, args: string[], cwd: string): Promise<Run> {
  const r = await run(cmd, args, cwd)
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} in ${cwd} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}

/** A fresh project that depends on `spec` (and on the compiler and Node types, to type-check). */
async function project(name: string, spec: string): Promise<string> {
  const dir = path.join(work, name)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true, type: 'module' }, null, 2))
  await ok('npm', ['install', '--no-package-lock', spec,
    `typescript@${repoPkg.devDependencies.typescript}`, `@types/node@${repoPkg.devDependencies['@types/node']}`], dir)
  return dir
}

const ESM_APP = `
import { Log, Journal, MemoryStore, FsStore, PrefixStore, LogWriter, SeglogError, isSeglogError, FORMAT_VERSION } from 'seglog'
import * as root from 'seglog'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
for (const f of [Log, Journal, MemoryStore, FsStore, PrefixStore, LogWriter, SeglogError, isSeglogError]) {
  if (typeof f !== 'function') throw new Error('missing export')
}
if (FORMAT_VERSION !== 1) throw new Error('FORMAT_VERSION')
// Cloud stores, test utilities and internals are not in the root entry point.
for (const name of ['S3Store', 'AzureBlobStore', 'FaultStore', 'nodeFileSystem', 'RingDrainer', 'validateKey']) {
  if (name in root) throw new Error(name + ' is exported from the root')
}
const { S3Store } = await import('seglog/s3')
const { AzureBlobStore } = await import('seglog/azure')
const { FaultStore, nodeFileSystem } = await import('seglog/testing')
if (typeof S3Store !== 'function' || typeof AzureBlobStore !== 'function' || typeof FaultStore !== 'function' || typeof nodeFileSystem.open !== 'function') {
  throw new Error('subpath exports')
}
// The cloud SDKs are not installed: using a cloud store says what to install.
const err = await new S3Store({ bucket: 'b', endpoint: 'http://127.0.0.1:9' }).get('k').catch((e) => e)
if (!isSeglogError(err) || !/npm install @aws-sdk\\/client-s3/.test(err.message)) throw new Error('S3Store without the SDK: ' + err)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esm-'))
const log = await Log.open(dir)
const off = await log.append('hello')
const rec = await log.read(off)
await log.close()
fs.rmSync(dir, { recursive: true })
const j = await Journal.open(new MemoryStore(), 'j')
await j.append({ a: 1 })
await j.close()
console.log('esm ok', Buffer.from(rec.data).toString())
`

const CJS_APP = `
const { Log, SeglogError } = require('seglog')
const { FaultStore } = require('seglog/testing')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
if (typeof SeglogError !== 'function' || typeof FaultStore !== 'function') throw new Error('exports')
;(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjs-'))
  const log = await Log.open(dir)
  await log.append('from require')
  const rec = await log.read(0)
  await log.close()
  fs.rmSync(dir, { recursive: true })
  console.log('cjs ok', Buffer.from(rec.data).toString())
})()
`

const TS_APP = `
import { Log, type LogOptions, type LogRecord, type ObjectStore, type FileSystem } from 'seglog'
import { FaultStore } from 'seglog/testing'
const options: LogOptions = { sync: 'always' }
export async function first(dir: string): Promise<LogRecord | undefined> {
  const log = await Log.open(dir, options)
  try {
    return await log.read(log.firstOffset)
  } finally {
    await log.close()
  }
}
export const wrap = (s: ObjectStore): ObjectStore => new FaultStore(s, () => 'ok')
export type Seam = FileSystem
`

// CommonJS written in TypeScript: TypeScript 5.8+ knows that Node loads ESM through require().
const TS_CJS_APP = `
import seglog = require('seglog')
const open = (dir: string): Promise<seglog.Log> => seglog.Log.open(dir)
export = { open }
`

const TSCONFIG = {
  compilerOptions: {
    strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', skipLibCheck: false,
    noEmit: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, verbatimModuleSyntax: true,
    types: ['node'],
  },
  include: ['*.ts', '*.cts'],
}

/** ESM, CommonJS, strict TypeScript and the CLI, in a project where seglog is installed. */
async function usePackage(dir: string): Promise<void> {
  const installed = path.join(dir, 'node_modules', 'seglog')
  assert.ok(fs.existsSync(path.join(installed, 'dist', 'src', 'index.js')), 'the installed package has its build')
  assert.ok(!fs.existsSync(path.join(dir, 'node_modules', '@aws-sdk', 'client-s3')), 'the optional AWS SDK is not installed')
  assert.ok(!fs.existsSync(path.join(dir, 'node_modules', '@azure', 'storage-blob')), 'the optional Azure SDK is not installed')

  fs.writeFileSync(path.join(dir, 'app.mjs'), ESM_APP)
  assert.match((await ok(process.execPath, ['app.mjs'], dir)).stdout, /esm ok hello/)

  fs.writeFileSync(path.join(dir, 'app.cjs'), CJS_APP)
  const cjs = await ok(process.execPath, ['app.cjs'], dir)
  assert.match(cjs.stdout, /cjs ok from require/)
  assert.doesNotMatch(cjs.stderr, /ExperimentalWarning/, 'require() of seglog loads without a warning')

  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2))
  fs.writeFileSync(path.join(dir, 'app.ts'), TS_APP)
  fs.writeFileSync(path.join(dir, 'legacy.cts'), TS_CJS_APP)
  const tsc = await run(process.execPath, [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], dir)
  assert.equal(tsc.code, 0, `strict TypeScript without the cloud SDKs:\n${tsc.stdout}${tsc.stderr}`)

  const help = await ok('npx', ['--no-install', 'seglog', '--help'], dir)
  assert.match(help.stdout, /Usage: seglog/)
  const version = await ok('npx', ['--no-install', 'seglog', '--version'], dir)
  assert.equal(version.stdout.trim(), repoPkg.version)
}

let tarball = ''

before(async () => {
  const packed = await ok('npm', ['pack', '--silent', '--pack-destination', work], repoRoot)
  tarball = path.join(work, packed.stdout.trim().split('\n').pop() ?? '')
  assert.ok(fs.existsSync(tarball), `npm pack made ${tarball}`)
})

after(() => fs.rmSync(work, { recursive: true, force: true }))

test('the tarball has a build, a LICENSE, and no source maps pointing at unshipped sources', TIMEOUT, async () => {
  const list = (await ok('tar', ['-tzf', tarball], work)).stdout.split('\n').filter((l) => l !== '')
  for (const f of ['package/LICENSE', 'package/README.md', 'package/dist/src/index.js', 'package/dist/src/index.d.ts',
    'package/dist/src/s3.d.ts', 'package/dist/src/azure.d.ts', 'package/dist/src/testing/index.d.ts', 'package/dist/src/cli/main.js']) {
    assert.ok(list.includes(f), `${f} is in the tarball`)
  }
  assert.deepEqual(list.filter((f) => f.endsWith('.map')), [])
  assert.deepEqual(list.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/') || f.startsWith('package/dist/test/')), [])
  const unpacked = path.join(work, 'unpacked')
  fs.mkdirSync(unpacked)
  await ok('tar', ['-xzf', tarball, '-C', unpacked], work)
  for (const f of list.filter((l) => /\.(js|d\.ts)$/.test(l))) {
    assert.doesNotMatch(fs.readFileSync(path.join(unpacked, f), 'utf8'), /sourceMappingURL/, `${f} names no source map`)
  }
})

test('installed from the packed tarball: ESM, CommonJS, strict TypeScript without the SDKs, the CLI', TIMEOUT, async () => {
  await usePackage(await project('from-tarball', tarball))
})

test('installed from a git+file:// URL of the repository: built by prepare, then the same checks', TIMEOUT, async () => {
  const head = (await ok('git', ['rev-parse', 'HEAD'], repoRoot)).stdout.trim()
  // A bare clone of the committed state: what a user's `npm install git+https://…` fetches.
  const clone = path.join(work, 'seglog.git')
  await ok('git', ['clone', '--quiet', '--bare', repoRoot, clone], work)
  await usePackage(await project('from-git', `git+file://${clone}#${head}`))
})
