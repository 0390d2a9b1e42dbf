// Bundles the published entry points (dist/src/{index,s3,azure,testing/index}.js, built by tsc)
// into dist/pkg/, which package.json `exports` points at.
//
// Why: Node's ESM loader costs about 0.7–1 ms per module file (resolve, package scope lookup, an
// asynchronous read, compile), and the root entry reaches about 90 of them: `import('seglog')`
// took ~95 ms over bare node, almost all of it in the loader (node --cpu-prof: loadAndTranslate,
// defaultResolve, compileSourceTextModule), not in seglog's own top-level code. One bundle per
// entry point loads in a few files.
//
// The entry points are bundled together with code splitting, so what two of them share (SeglogError,
// the stores' helpers) lives in one shared chunk: `seglog` and `seglog/testing` loaded side by
// side see the same classes, and `instanceof` holds across them. Packages stay external (the
// optional SDKs are still imported only when a store first needs them). The declarations stay in
// dist/src (tsc's), and so do the modules the tests and the CLI import directly.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const entries = ['index', 's3', 'azure', 'testing/index']

// Node built-ins come from `process.getBuiltinModule` (Node >= 20.16; engines says >= 20.19), not
// from `import ... from 'node:fs'`. Why: an ESM import of a built-in builds its namespace by reading
// every export, which runs the lazy getters behind them (`node:fs` then loads the fs streams and all
// of `stream`). Here each built-in becomes a small module that exports only the names the sources
// import from it (a namespace or default import gets the module object itself), read once.
// The built-ins only some paths need load on first use: crypto (a lock owner's token, a new log's
// identity, the journal), stream (createReadStream), os (the lock's host name), fs/promises (the
// folder store; reading `promises` off node:fs would load it, and on Node 24 readline and os too). Their named imports
// must be plain functions (a wrapper calls through), and their default export reads each name when
// it is used, so `import('seglog')` does not pay for crypto and the whole of `stream` up front.
const loadOnFirstUse = new Set(['node:crypto', 'node:stream', 'node:os', 'node:fs/promises'])

/** For each `node:` module the built sources import: the names imported, and whether `* as` is used. */
function builtinImports(dir) {
  const uses = new Map()
  const use = (id) => uses.get(id) ?? uses.set(id, { names: new Set(), namespace: false }).get(id)
  const clause = /^\s*import\s+([^'";]*?)\s+from\s*['"](node:[^'"]+)['"]/gm
  for (const file of fs.readdirSync(dir, { recursive: true })) {
    if (!file.endsWith('.js')) continue
    for (const [, what, id] of fs.readFileSync(path.join(dir, file), 'utf8').matchAll(clause)) {
      const u = use(id)
      const braces = /\{([^}]*)\}/.exec(what)
      if (braces) for (const spec of braces[1].split(',')) { const name = spec.trim().split(/\s+as\s+/)[0]; if (name && !name.startsWith('type ')) u.names.add(name) }
      if (/^\*\s*as\s/.test(what)) u.namespace = true
    }
  }
  return uses
}

function builtinModule(id, use) {
  const real = process.getBuiltinModule(id)
  const names = new Set(use?.names)
  const key = JSON.stringify
  if (use?.namespace) {
    // `import * as x` needs every name; reading them all is safe only where none is a lazy getter.
    const getters = Object.entries(Object.getOwnPropertyDescriptors(real)).filter(([, d]) => d.get).map(([n]) => n)
    if (loadOnFirstUse.has(id) || getters.length > 0) throw new Error(`bundle: \`import * as\` from ${id} would load all of it; import its default instead`)
    for (const n of Object.keys(real)) if (n !== 'default') names.add(n)
  }
  if (!loadOnFirstUse.has(id)) {
    return [`const m = process.getBuiltinModule(${key(id)})`, 'export default m',
      ...[...names].map((n) => `export const ${n} = m[${key(n)}]`)].join('\n')
  }
  for (const n of names) {
    const v = real[n]
    if (typeof v !== 'function' || /^class\b/.test(Function.prototype.toString.call(v)) || /^[A-Z]/.test(n)) {
      throw new Error(`bundle: ${id} loads on first use, so its named import ${n} must be a plain function; import the module's default and read ${n} from it`)
    }
  }
  const all = Object.keys(real).filter((n) => n !== 'default')
  return [
    'let loaded',
    `const load = () => (loaded ??= process.getBuiltinModule(${key(id)}))`,
    `export default {`, ...all.map((n) => `  get ${key(n)}() { return load()[${key(n)}] },`), '}',
    ...[...names].map((n) => `export function ${n}(...args) { return load()[${key(n)}](...args) }`),
  ].join('\n')
}

const builtinsByGetter = {
  name: 'builtins-by-getter',
  setup(b) {
    const uses = builtinImports(path.join(root, 'dist', 'src'))
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-builtin' }))
    b.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({ contents: builtinModule(args.path, uses.get(args.path)), loader: 'js' }))
  },
}

// A clean output directory: chunk names are content hashes, and a stale chunk would ship in the package.
fs.rmSync(path.join(root, 'dist', 'pkg'), { recursive: true, force: true })

await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(entries.map((e) => [e, path.join('dist', 'src', `${e}.js`)])),
  outdir: path.join('dist', 'pkg'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  // Readable output: stack traces into the package stay legible without source maps.
  minify: false,
  // Classes and functions keep their names (esbuild would otherwise rename a class that refers to
  // itself: `new SeglogError().constructor.name` would read `_SeglogError`).
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [builtinsByGetter],
})
