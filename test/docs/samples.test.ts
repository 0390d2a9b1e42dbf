// Every ```ts / ```js code block in README.md and docs/*.md runs as written, so no sample rots.
//
// Each page gets a fresh directory (the samples' relative paths such as ./data/orders land there)
// whose node_modules/seglog is this repository, built. Each block is transpiled (types removed,
// nothing else) and run in its own Node process, in page order, and must exit 0 and leave no
// LOCK file behind (a sample that opens a log must close it). A block whose code uses S3Store
// gets s3rver behind the enforcing proxy (its sample endpoint http://127.0.0.1:9000 is pointed at
// it, and credentials come through the AWS SDK's environment variables); one that uses
// AzureBlobStore gets Azurite through AZURE_STORAGE_CONNECTION_STRING.
//
// Fence tags after the language: `file=NAME` writes the block to NAME for a later block to use
// (a worker script, say) instead of running it; `norun` marks a block that is deliberately not
// runnable. Keep those few: the test fails when there are more than MAX_NORUN.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, test } from 'node:test'
import ts from 'typescript'
import { repoRoot, startAzurite, startS3, type AzuriteServer, type S3Server } from '../helpers/servers.js'

const MAX_NORUN = 2
const SAMPLE_S3_ENDPOINT = 'http://127.0.0.1:9000'
const SAMPLE_BUCKET = 'my-bucket'
const SAMPLE_CONTAINER = 'events'

interface Sample {
  page: string
  line: number
  lang: string
  tags: string[]
  code: string
}

/** The fenced ts/js blocks of a Markdown page, with their fence tags. */
function extractSamples(page: string, text: string): Sample[] {
  const samples: Sample[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i])
    if (open === null) continue
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l))
    assert.ok(end > i, `${page}:${i + 1}: unclosed code fence`)
    const lang = open[1].toLowerCase()
    if (['ts', 'typescript', 'js', 'javascript', 'mjs'].includes(lang)) {
      samples.push({ page, line: i + 1, lang, tags: open[2].split(/\s+/).filter((t) => t !== ''), code: lines.slice(i + 1, end).join('\n') })
    }
    i = end
  }
  return samples
}

const pages = ['README.md', ...fs.readdirSync(path.join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)]
const samplesByPage = new Map(pages.map((p) => [p, extractSamples(p, fs.readFileSync(path.join(repoRoot, p), 'utf8'))]))

function transpile(sample: Sample): string {
  const out = ts.transpileModule(sample.code, {
    fileName: `sample.${sample.lang.startsWith('j') || sample.lang === 'mjs' ? 'mjs' : 'mts'}`,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  })
  const errors = (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  assert.deepEqual(errors, [], `${sample.page}:${sample.line} does not parse`)
  return out.outputText
}

let s3: Promise<S3Server> | undefined
let azurite: Promise<AzuriteServer> | undefined
after(async () => {
  await Promise.all([s3?.then((s) => s.stop()), azurite?.then((a) => a.stop())])
})

/** What a sample needs from outside: servers, as environment and endpoint rewrites. */
async function environment(sample: Sample): Promise<{ env: NodeJS.ProcessEnv; rewrite: (code: string) => string }> {
  const env: NodeJS.ProcessEnv = {}
  let rewrite = (code: string): string => code
  if (/\bS3Store\b/.test(sample.code)) {
    s3 ??= startS3({ bucket: SAMPLE_BUCKET })
    const server = await s3
    Object.assign(env, { AWS_ACCESS_KEY_ID: server.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey, AWS_REGION: server.region })
    rewrite = (code) => code.replaceAll(SAMPLE_S3_ENDPOINT, server.endpoint)
  }
  if (/\bAzureBlobStore\b/.test(sample.code)) {
    azurite ??= startAzurite({ container: SAMPLE_CONTAINER })
    env.AZURE_STORAGE_CONNECTION_STRING = (await azurite).connectionString
  }
  return { env, rewrite }
}

function runNode(file: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env }
    delete childEnv.NODE_TEST_CONTEXT
    const child = spawn(process.execPath, [file], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString('utf8') })
    child.stderr.on('data', (d: Buffer) => { output += d.toString('utf8') })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, output }))
  })
}

function locksUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => path.basename(f) === 'LOCK' && !f.startsWith('node_modules'))
}

/** A directory where `import … from 'seglog'` is this repository's build. */
function sampleDir(page: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `seglog-doc-${page.replace(/\W+/g, '-')}-`))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'doc-sample', private: true, type: 'module' }))
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(repoRoot, path.join(dir, 'node_modules', 'seglog'), 'dir')
  return dir
}

test('the pages have samples, and few are marked norun', () => {
  const all = [...samplesByPage.values()].flat()
  assert.ok(samplesByPage.get('README.md')?.some((s) => /Log\.open/.test(s.code)), 'README.md has the Quick start')
  const norun = all.filter((s) => s.tags.includes('norun'))
  assert.ok(norun.length <= MAX_NORUN, `${norun.length} blocks are marked norun: ${norun.map((s) => `${s.page}:${s.line}`).join(', ')}`)
  assert.ok(all.length - norun.length >= 8, `only ${all.length - norun.length} runnable samples`)
})

for (const [page, samples] of samplesByPage) {
  if (samples.length === 0) continue
  test(`${page}: every code sample runs`, { timeout: 10 * 60_000 }, async (t) => {
    const dir = sampleDir(page)
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    for (const sample of samples) {
      if (sample.tags.includes('norun')) continue
      const where = `${sample.page}:${sample.line}`
      const { env, rewrite } = await environment(sample)
      const js = rewrite(transpile(sample))
      const file = sample.tags.find((tag) => tag.startsWith('file='))?.slice('file='.length)
      if (file !== undefined) {
        fs.writeFileSync(path.join(dir, file), js)
        continue
      }
      const script = path.join(dir, `sample-${sample.line}.mjs`)
      fs.writeFileSync(script, js)
      const r = await runNode(script, dir, env)
      // 13 is Node's exit code for a top-level await that never settles (a loop that never ends).
      assert.equal(r.code, 0, `${where} exited with ${r.code ?? r.signal}:\n${r.output}`)
      assert.deepEqual(locksUnder(dir), [], `${where} left a log open (LOCK remains)`)
    }
  })
}

test('relative links in README.md and docs/*.md name files that exist, and headings that exist', () => {
  const broken: string[] = []
  const slug = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s/g, '-')
  for (const page of pages) {
    const text = fs.readFileSync(path.join(repoRoot, page), 'utf8').replace(/```[\s\S]*?```/g, '')
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]
      if (/^[a-z]+:/i.test(target)) continue
      const [file, anchor] = target.split('#')
      const resolved = file === '' ? path.join(repoRoot, page) : path.join(repoRoot, path.dirname(page), file)
      if (!fs.existsSync(resolved)) {
        broken.push(`${page}: ${target} (no such file)`)
        continue
      }
      if (anchor !== undefined && resolved.endsWith('.md')) {
        const headings = fs.readFileSync(resolved, 'utf8').split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, '')))
        if (!headings.includes(anchor)) broken.push(`${page}: ${target} (no such heading)`)
      }
    }
  }
  assert.deepEqual(broken, [])
})

test('every runnable sample type-checks, strictly, against the published declarations', (t) => {
  const dir = sampleDir('typecheck')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const files: string[] = []
  for (const sample of [...samplesByPage.values()].flat()) {
    if (sample.tags.includes('norun')) continue
    const named = sample.tags.find((tag) => tag.startsWith('file='))?.slice('file='.length)
    const ext = sample.lang.startsWith('j') || sample.lang === 'mjs' ? 'mjs' : 'mts'
    const file = path.join(dir, named ?? `${sample.page.replace(/\W+/g, '-')}-${sample.line}.${ext}`)
    fs.writeFileSync(file, sample.code)
    files.push(file)
  }
  const program = ts.createProgram(files, {
    strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022, lib: ['lib.es2023.d.ts'], allowJs: true, checkJs: false, skipLibCheck: true,
    types: ['node'], typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
  })
  const errors = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file === undefined ? '' : `${path.basename(d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: `
    return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
  })
  assert.deepEqual(errors, [])
})
