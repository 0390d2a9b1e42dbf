// A small SVG chart generator: horizontal bar charts (linear or log scale, one or more series)
// and line charts. No dependencies; the output is plain, self-contained SVG.

const FONT = "font-family='-apple-system,Segoe UI,Helvetica,Arial,sans-serif'"
const COLORS = { seglog: '#d9480f', raw: '#495057', 'raw-nogc': '#868e96', default: '#1c7ed6' }
const SERIES = ['#1c7ed6', '#f08c00', '#2f9e44', '#ae3ec9']

export function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function niceTicks(max, n = 5) {
  if (!(max > 0)) return [0, 1]
  const raw = max / n
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw)
  // the last tick is at or above max, so nothing is drawn past the axis
  const ticks = [0]
  while (ticks[ticks.length - 1] < max * 0.9999) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12))
  return ticks
}

// rows: [{ label, values: [number|null], note?, color?, hatched? }]; series: names of values
export function barChart({ title, subtitle, rows, series = ['value'], format = (v) => String(v), log = false, unit = '', footnote }) {
  const W = 820
  const left = 150
  const right = 210
  const rowH = series.length > 1 ? 14 * series.length + 10 : 24
  const top = subtitle ? 58 : 42
  const legendH = series.length > 1 ? 22 : 0
  const H = top + legendH + rows.length * rowH + 36 + (footnote ? 18 : 0)
  const plotW = W - left - right
  const all = rows.flatMap((r) => r.values).filter((v) => v != null && v > 0)
  const max = all.length ? Math.max(...all) : 1
  let x, ticks
  if (log) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(...(all.length ? all : [1]))))
    const hi = 10 ** Math.ceil(Math.log10(max))
    x = (v) => (v > 0 ? (Math.log10(v / lo) / Math.log10(hi / lo)) * plotW : 0)
    ticks = []
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t)
  } else {
    ticks = niceTicks(max)
    const hi = ticks[ticks.length - 1]
    x = (v) => (v > 0 ? (v / hi) * plotW : 0)
  }
  const o = []
  o.push(`<svg xmlns='http://www.w3.org/2000/svg' width='${W}' height='${H}' viewBox='0 0 ${W} ${H}' ${FONT} font-size='12'>`)
  o.push(`<defs><pattern id='hatch' width='6' height='6' patternUnits='userSpaceOnUse' patternTransform='rotate(45)'><rect width='6' height='6' fill='#ffffff'/><line x1='0' y1='0' x2='0' y2='6' stroke='#74c0fc' stroke-width='4'/></pattern></defs>`)
  o.push(`<rect width='100%' height='100%' fill='#ffffff'/>`)
  o.push(`<text x='12' y='22' font-size='15' font-weight='600' fill='#212529'>${esc(title)}</text>`)
  if (subtitle) o.push(`<text x='12' y='40' fill='#495057'>${esc(subtitle)}</text>`)
  const y0 = top + legendH
  if (series.length > 1) {
    series.forEach((s, k) => {
      o.push(`<rect x='${left + k * 110}' y='${top - 4}' width='12' height='12' fill='${SERIES[k]}'/><text x='${left + k * 110 + 17}' y='${top + 6}' fill='#212529'>${esc(s)}</text>`)
    })
  }
  const plotBottom = y0 + rows.length * rowH
  for (const t of ticks) {
    const tx = left + x(t)
    o.push(`<line x1='${tx.toFixed(1)}' y1='${y0 - 4}' x2='${tx.toFixed(1)}' y2='${plotBottom}' stroke='#e9ecef'/>`)
    o.push(`<text x='${tx.toFixed(1)}' y='${plotBottom + 14}' text-anchor='middle' fill='#868e96' font-size='10'>${esc(format(t))}</text>`)
  }
  if (unit) o.push(`<text x='${left + plotW}' y='${plotBottom + 28}' text-anchor='end' fill='#868e96' font-size='10'>${esc(unit)}${log ? ' (log scale)' : ''}</text>`)
  rows.forEach((r, i) => {
    const ry = y0 + i * rowH
    o.push(`<text x='${left - 8}' y='${ry + rowH / 2 + 4}' text-anchor='end' fill='#212529' font-weight='${r.label === 'seglog' ? 700 : 400}'>${esc(r.label)}</text>`)
    r.values.forEach((v, k) => {
      const bh = series.length > 1 ? 12 : 16
      const by = series.length > 1 ? ry + 5 + k * 14 : ry + (rowH - bh) / 2
      const color = series.length > 1 ? SERIES[k] : r.color ?? COLORS[r.label] ?? COLORS.default
      if (v == null) {
        o.push(`<text x='${left + 4}' y='${by + bh - 3}' fill='#c92a2a'>${esc(r.missing ?? 'n/a')}</text>`)
        return
      }
      const w = Math.max(1, x(v))
      const fill = r.hatched && series.length === 1 ? 'url(#hatch)' : color
      const stroke = r.hatched ? ` stroke='${color}'` : ''
      o.push(`<rect x='${left}' y='${by}' width='${w.toFixed(1)}' height='${bh}' fill='${fill}'${stroke} rx='2'/>`)
      const label = series.length > 1 ? format(v) : `${format(v)}${r.note ? `  ${r.note}` : ''}`
      o.push(`<text x='${(left + w + 5).toFixed(1)}' y='${by + bh - 3}' fill='#212529' font-size='11'>${esc(label)}</text>`)
    })
  })
  if (footnote) o.push(`<text x='12' y='${H - 8}' fill='#868e96' font-size='10.5'>${esc(footnote)}</text>`)
  o.push('</svg>')
  return o.join('\n') + '\n'
}

// lines: [{ label, points: [[x, y], ...] }]
export function lineChart({ title, subtitle, lines, xLabel, yLabel, formatX = String, formatY = String }) {
  const W = 820
  const H = 380
  const left = 70
  const right = 130
  const top = subtitle ? 60 : 44
  const bottom = 48
  const plotW = W - left - right
  const plotH = H - top - bottom
  const xs = lines.flatMap((l) => l.points.map((p) => p[0]))
  const ys = lines.flatMap((l) => l.points.map((p) => p[1]))
  const xt = niceTicks(Math.max(1e-9, ...xs))
  const yt = niceTicks(Math.max(1e-9, ...ys))
  const xHi = xt[xt.length - 1]
  const yHi = yt[yt.length - 1]
  const X = (v) => left + (v / xHi) * plotW
  const Y = (v) => top + plotH - (v / yHi) * plotH
  const o = []
  o.push(`<svg xmlns='http://www.w3.org/2000/svg' width='${W}' height='${H}' viewBox='0 0 ${W} ${H}' ${FONT} font-size='12'>`)
  o.push(`<rect width='100%' height='100%' fill='#ffffff'/>`)
  o.push(`<text x='12' y='22' font-size='15' font-weight='600' fill='#212529'>${esc(title)}</text>`)
  if (subtitle) o.push(`<text x='12' y='40' fill='#495057'>${esc(subtitle)}</text>`)
  for (const t of yt) o.push(`<line x1='${left}' y1='${Y(t).toFixed(1)}' x2='${left + plotW}' y2='${Y(t).toFixed(1)}' stroke='#e9ecef'/><text x='${left - 6}' y='${(Y(t) + 4).toFixed(1)}' text-anchor='end' fill='#868e96' font-size='10'>${esc(formatY(t))}</text>`)
  for (const t of xt) o.push(`<line x1='${X(t).toFixed(1)}' y1='${top}' x2='${X(t).toFixed(1)}' y2='${top + plotH}' stroke='#f1f3f5'/><text x='${X(t).toFixed(1)}' y='${top + plotH + 14}' text-anchor='middle' fill='#868e96' font-size='10'>${esc(formatX(t))}</text>`)
  o.push(`<text x='${left + plotW / 2}' y='${H - 10}' text-anchor='middle' fill='#495057'>${esc(xLabel)}</text>`)
  o.push(`<text x='14' y='${top + plotH / 2}' text-anchor='middle' fill='#495057' transform='rotate(-90 14 ${top + plotH / 2})'>${esc(yLabel)}</text>`)
  lines.forEach((l, k) => {
    const color = COLORS[l.label] ?? SERIES[k % SERIES.length]
    const d = l.points.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')
    o.push(`<path d='${d}' fill='none' stroke='${color}' stroke-width='2'/>`)
    o.push(`<rect x='${left + plotW + 12}' y='${top + k * 20}' width='12' height='12' fill='${color}'/><text x='${left + plotW + 30}' y='${top + k * 20 + 10}' fill='#212529'>${esc(l.label)}</text>`)
  })
  o.push('</svg>')
  return o.join('\n') + '\n'
}
