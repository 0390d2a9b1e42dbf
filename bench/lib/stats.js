export function median(xs) {
  const a = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((p, q) => p - q)
  if (a.length === 0) return null
  const m = a.length >> 1
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2
}

// Nearest-rank percentile of an already sorted numeric array.
export function percentile(sorted, p) {
  if (sorted.length === 0) return null
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]
}

export function fmtRate(x) {
  if (x == null) return '—'
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M/s`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k/s`
  return `${x.toFixed(0)} /s`
}

export function fmtMs(x) {
  if (x == null) return '—'
  if (x < 0.1) return `${(x * 1000).toFixed(0)} µs`
  if (x < 10) return `${x.toFixed(2)} ms`
  if (x < 1000) return `${x.toFixed(1)} ms`
  return `${(x / 1000).toFixed(2)} s`
}
