// The shape of the published entry points, checked on the build in the normal suite (the slower
// install-from-tarball check is package.check.ts): what each exports, and that nothing the root
// entry point's declarations reach names an optional SDK.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath, pathToFileURL } from 'node:url'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; default: string } | string>
  engines: { node: string }
  peerDependencies: Record<string, string>
}
const OPTIONAL_SDKS = ['@aws-sdk/client-s3', '@azure/storage-blob']

function entry(subpath: string): { types: string; default: string } {
  const e = pkg.exports[subpath]
  assert.ok(typeof e === 'object', `exports["${subpath}"] has conditions`)
  return e
}

/** Every module specifier a declaration file imports or re-exports (`import("x")` types too). */
function specifiers(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8')
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1])
}

/** The declaration files reachable from `file` through relative imports, and the packages they name. */
function declarationClosure(file: string): { files: string[]; packages: Set<string> } {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const queue = [file]
  while (queue.length > 0) {
    const f = queue.pop() as string
    if (seen.has(f)) continue
    seen.add(f)
    for (const s of specifiers(f)) {
      if (s.startsWith('.')) queue.push(path.resolve(path.dirname(f), s.replace(/\.js$/, '.d.ts')))
      else packages.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0])
    }
  }
  return { files: [...seen], packages }
}

test('the root entry point names no optional SDK, anywhere its declarations reach', () => {
  const { files, packages } = declarationClosure(path.join(repoRoot, entry('.').types))
  assert.ok(files.length > 10, `followed ${files.length} declaration files`)
  for (const sdk of OPTIONAL_SDKS) assert.ok(!packages.has(sdk), `the root's types import ${sdk}`)
  // And the subpaths that exist for the SDKs do name them (the check above can see an import).
  assert.ok(declarationClosure(path.join(repoRoot, entry('./s3').types)).packages.has('@aws-sdk/client-s3'))
  assert.ok(declarationClosure(path.join(repoRoot, entry('./azure').types)).packages.has('@azure/storage-blob'))
  assert.ok(!declarationClosure(path.join(repoRoot, entry('./testing').types)).packages.has('@aws-sdk/client-s3'))
})

test('each entry point exports what the docs say, and the root no internals', async () => {
  const load = (subpath: string): Promise<Record<string, unknown>> => import(path.join(repoRoot, entry(subpath).default))
  const [root, s3, azure, testing] = await Promise.all(['.', './s3', './azure', './testing'].map(load))
  for (const name of ['Log', 'LogWriter', 'Journal', 'MemoryStore', 'FsStore', 'PrefixStore', 'SeglogError', 'isSeglogError', 'copyRecord',
    'diagnosticsChannels', 'FORMAT_VERSION', 'JOURNAL_START', 'parseCursor', 'formatCursor', 'compareCursors']) {
    assert.ok(name in root, `seglog exports ${name}`)
  }
  for (const name of ['S3Store', 'AzureBlobStore', 'FaultStore', 'nodeFileSystem', 'RingDrainer', 'validateKey', 'createWorkerBridge']) {
    assert.ok(!(name in root), `seglog does not export ${name}`)
  }
  assert.deepEqual(Object.keys(s3), ['S3Store'])
  assert.deepEqual(Object.keys(azure), ['AzureBlobStore'])
  for (const name of ['FaultStore', 'nodeFileSystem']) assert.ok(name in testing, `seglog/testing exports ${name}`)
})

test('package metadata: engines, peer ranges, and every export condition points at a built file', () => {
  assert.equal(pkg.engines.node, '>=20.19')
  assert.equal(pkg.peerDependencies['@azure/storage-blob'], '^12.32.0')
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
      assert.ok(fs.existsSync(path.join(repoRoot, file)), `exports["${subpath}"] → ${file} exists`)
    }
  }
})

/** The files a module loads statically (relative imports, followed), and the packages it names. */
function staticClosure(file: string): { files: string[]; packages: Set<string> } {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const queue = [file]
  while (queue.length > 0) {
    const f = queue.pop() as string
    if (seen.has(f)) continue
    seen.add(f)
    // Static imports and re-exports only: `import("x")` expressions load on first use.
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]/gm)) {
      const s = m[1] ?? m[2]
      if (s.startsWith('.')) queue.push(path.resolve(path.dirname(f), s))
      else if (!s.startsWith('node:')) packages.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0])
    }
  }
  return { files: [...seen], packages }
}

// Import cost (issue 13): Node's ESM loader costs about 1 ms a file, and the root used to load ~90.
test('import("seglog") loads a handful of files and no optional SDK', () => {
  const { files, packages } = staticClosure(path.join(repoRoot, entry('.').default))
  assert.ok(files.length <= 8, `the root entry point loads ${files.length} files: ${files.map((f) => path.relative(repoRoot, f)).join(', ')}`)
  assert.deepEqual([...packages].sort(), [])
  for (const sub of ['./s3', './azure', './testing']) {
    const c = staticClosure(path.join(repoRoot, entry(sub).default))
    for (const sdk of OPTIONAL_SDKS) assert.ok(!c.packages.has(sdk), `${sub} imports ${sdk} at load (it must load on first use)`)
  }
})

test('the entry points share one copy of each class (instanceof holds across them)', async () => {
  const load = (subpath: string): Promise<Record<string, unknown>> => import(path.join(repoRoot, entry(subpath).default))
  const [root, s3, testing] = await Promise.all(['.', './s3', './testing'].map(load))
  const SeglogError = root.SeglogError as new (...args: never[]) => Error
  const S3Store = s3.S3Store as new (options: object) => unknown
  assert.throws(() => new S3Store({}), (err: unknown) => err instanceof SeglogError && (err as { code?: string }).code === 'ERR_INVALID_ARGUMENT')
  // The bundle keeps class names as written (stack traces and inspect() show them).
  assert.equal(SeglogError.name, 'SeglogError')
  assert.equal(S3Store.name, 'S3Store')
  const FaultStore = testing.FaultStore as new (inner: unknown) => { put(key: string, data: Uint8Array): Promise<unknown> }
  const MemoryStore = root.MemoryStore as new () => unknown
  const store = new FaultStore(new MemoryStore())
  await assert.rejects(store.put('', new Uint8Array(1)), (err: unknown) => err instanceof SeglogError)
})

// Import cost (issue 13): the bundle takes Node's built-ins through process.getBuiltinModule, and
// those only some paths need (crypto, stream, os) load on first use (scripts/bundle.mjs). A fresh
// process shows which built-ins `import('seglog')` loaded, then uses each lazy one through the
// bundle: a new log (crypto for its identity; os for the lock's host name only where
// /proc/sys/kernel/hostname cannot be read), an append, and a read stream (stream). Opening a log
// loads no perf_hooks either (about 1 ms in a process that has not used it yet).
test('import("seglog") loads no crypto, stream or os; the bundle loads them when a log needs them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-imp-'))
  try {
    const url = pathToFileURL(path.join(repoRoot, entry('.').default)).href
    const code = `
      const before = new Set(process.moduleLoadList)
      const { Log } = await import(${JSON.stringify(url)})
      const loaded = process.moduleLoadList.filter((m) => !before.has(m) && /^NativeModule (crypto|stream|os)$/.test(m))
      const log = await Log.open(${JSON.stringify(dir)})
      await log.append(new Uint8Array([1, 2, 3]))
      const seen = []
      for await (const r of log.createReadStream()) seen.push([...r.data])
      await log.close()
      const after = process.moduleLoadList.filter((m) => /^NativeModule (crypto|stream|os|perf_hooks)$/.test(m))
      console.log(JSON.stringify({ loaded, seen, after }))`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { loaded: string[]; seen: number[][]; after: string[] }
    assert.deepEqual(out.loaded, [], 'built-ins loaded by the import alone')
    assert.deepEqual(out.seen, [[1, 2, 3]])
    const procHostname = fs.existsSync('/proc/sys/kernel/hostname')
    assert.deepEqual(out.after.sort(), ['NativeModule crypto', ...(procHostname ? [] : ['NativeModule os']), 'NativeModule stream'])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
