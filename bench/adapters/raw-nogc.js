// `raw` without group commit: every durable append gets its own write + fdatasync, one at a
// time. Only meaningful for W2 (for every other workload it is the same code as `raw`).
import * as raw from './raw.js'

export const info = {
  name: 'raw-nogc',
  durable: 'fdatasync per append (no sharing)',
  powerLossDurable: true,
  only: ['W2'],
  maxRecords: { W2: 5_000 }, // one fdatasync per append: the rate is what matters
  notes: 'Same writer as raw; W2 only.',
}

export function open(dir, opts = {}) {
  return raw.open(dir, { ...opts, groupCommit: false })
}
