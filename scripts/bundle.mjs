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
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const entries = ['index', 's3', 'azure', 'testing/index']

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
})
