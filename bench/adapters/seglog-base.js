// seglog from another build (run.js --base <repo or dist dir>), run interleaved with this
// checkout's build so that a before/after comparison shares the machine's load.
import { packageEntry, seglogAdapter } from '../lib/seglog-adapter.js'

const base = process.env.SEGLOG_BENCH_BASE_DIST
const entry = base ? packageEntry(base) : '/nonexistent'

export const { info, available: availableBuild, open } = await seglogAdapter(entry, 'seglog-base')
export const available = async () => (base ? availableBuild() : 'pass --base <dist directory of another build> to compare two builds')
