// The sections of a wasm module, for scripts/size.mjs (what each weighs) and npm/package.mjs
// (dropping custom sections the browser does not need).

const NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'data count']

/** Each section of the module in `b` (a Buffer): its name (`custom:<name>` for custom ones) and its bytes, header included. */
export function sections (b) {
  let p = 8
  const leb = () => { let r = 0; let s = 0; let x; do { x = b[p++]; r |= (x & 0x7f) << s; s += 7 } while (x & 0x80); return r >>> 0 }
  const out = []
  while (p < b.length) {
    const at = p
    const id = b[p++]
    const len = leb()
    const start = p
    let name = NAMES[id] ?? 'id' + id
    if (id === 0) { const n = leb(); name = 'custom:' + b.subarray(p, p + n).toString() }
    p = start + len
    out.push({ name, size: len, bytes: b.subarray(at, p) })
  }
  return out
}

/** The module in `b` without the custom sections named in `drop`. */
export function withoutCustom (b, drop) {
  const dropped = new Set(drop.map((n) => 'custom:' + n))
  const keep = sections(b).filter((s) => !dropped.has(s.name))
  return Buffer.concat([b.subarray(0, 8), ...keep.map((s) => s.bytes)])
}
