// A chart of the ratios ysync / Yjs from bench/run.mjs's results, as a standalone SVG: one bar
// a scenario on a log2 axis centred at 1 (left of it ysync is faster or smaller).
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function chart ({ results, machine, date, quick }) {
  const rows = results.filter((r) => r.yjs)
  const label = (r) => r.group + ': ' + r.scenario
  // About 6.5 px a character at 12 px sans-serif.
  const labelW = 40 + Math.ceil(Math.max(...rows.map((r) => label(r).length)) * 6.5)
  const plotW = 420
  const rowH = 22
  const top = 56
  const h = top + rows.length * rowH + 40
  const span = 5 // log2 range each side: 1/32 .. 32
  const x = (ratio) => labelW + plotW / 2 + (Math.max(-span, Math.min(span, Math.log2(ratio))) / span) * (plotW / 2)
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 90}" height="${h}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    `<text x="10" y="20" font-size="15" font-weight="bold">ysync / Yjs stack, same run (log scale; left of 1: ysync faster or smaller)</text>`,
    `<text x="10" y="38" fill="#555">${esc(date.slice(0, 10))}${quick ? ' (quick run)' : ''}: ${esc(machine)}</text>`
  ]
  for (const t of [1 / 16, 1 / 4, 1, 4, 16]) {
    const tx = x(t)
    out.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${h - 30}" stroke="${t === 1 ? '#000' : '#ddd'}"/>`)
    out.push(`<text x="${tx}" y="${h - 14}" text-anchor="middle" fill="#555">${t >= 1 ? t + 'x' : '1/' + 1 / t + 'x'}</text>`)
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH
    const ratio = r.ysync / r.yjs
    const x0 = x(1)
    const x1 = x(ratio)
    const colour = ratio <= 1 ? '#2e7d32' : '#c62828'
    out.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(label(r))}</text>`)
    out.push(`<rect x="${Math.min(x0, x1)}" y="${y + 4}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${rowH - 8}" fill="${colour}"/>`)
    out.push(`<text x="${Math.max(x0, x1) + 4}" y="${y + 15}" fill="${colour}">${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2)}x</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

// node bench/chart.mjs RESULTS.json OUT.svg: the chart of a saved run (target/bench/results.json).
if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFileSync, writeFileSync } = await import('node:fs')
  writeFileSync(process.argv[3], chart(JSON.parse(readFileSync(process.argv[2], 'utf8'))))
}
