// A trap (RuntimeError) or a stack overflow (RangeError) inside wasm unwinds through Rust
// without running any destructor: RefCell borrows and yrs's document lock stay taken, and the
// allocator may be halfway through a change. Nothing in that instance can be trusted again.
// This rewrite of wasm-bindgen's glue puts every wasm export behind a guard: the first such
// exception poisons the instance, listeners registered with `onPoisoned` are told once (with
// a YsyncError of code INSTANCE_POISONED, its `cause` the original error), and every later
// call throws that error at once instead of running in the broken instance (where it would
// fail with DOC_BUSY, or worse, `memory access out of bounds`). Deallocations become no-ops
// so garbage collection of old objects stays quiet.
//
// The glue is the output of the pinned wasm-bindgen version (Cargo.toml); if its shape
// changes, this script fails rather than ship an unguarded package.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const hook = 'wasm = instance.exports;'

const guard = `
// ysync: see npm/guard.mjs.
let __ysyncPoison = null;
const __ysyncPoisonListeners = new Set();
function __ysyncPoisoned(cause) {
    if (__ysyncPoison === null) {
        __ysyncPoison = makeError('YsyncError', 'INSTANCE_POISONED', 'the ysync wasm instance trapped and cannot be used again: reload the page (stored edits are kept)', undefined);
        __ysyncPoison.cause = cause;
        for (const f of [...__ysyncPoisonListeners]) {
            try { f(__ysyncPoison); } catch (e) { setTimeout(() => { throw e; }); }
        }
    }
    return __ysyncPoison;
}
function __ysyncGuard(exports) {
    const out = {};
    for (const [name, f] of Object.entries(exports)) {
        if (typeof f !== 'function') { out[name] = f; continue; }
        const free = name.endsWith('_free');
        out[name] = function (...args) {
            if (__ysyncPoison !== null) {
                if (free) return undefined;
                throw __ysyncPoison;
            }
            try {
                return f(...args);
            } catch (e) {
                if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) throw __ysyncPoisoned(e);
                throw e;
            }
        };
    }
    return Object.freeze(out);
}
/**
 * Calls \`listener\` once if the wasm instance traps (its error has code INSTANCE_POISONED);
 * at once if it already has. Returns a function that removes the listener.
 */
export function onPoisoned(listener) {
    if (typeof listener !== 'function') throw new TypeError('onPoisoned: listener must be a function');
    if (__ysyncPoison !== null) { listener(__ysyncPoison); return () => {}; }
    __ysyncPoisonListeners.add(listener);
    return () => { __ysyncPoisonListeners.delete(listener); };
}
/** The INSTANCE_POISONED error once the wasm instance has trapped, else null. */
export function poisonedError() {
    return __ysyncPoison;
}
`

const typings = `
/**
 * Calls \`listener\` once if the wasm instance traps (a RuntimeError out of yrs, or a stack
 * overflow): from then on every call throws that error (\`code: 'INSTANCE_POISONED'\`, the
 * original error as \`cause\`); reload to recover, stored edits are kept. Called at once if the
 * instance already trapped. Returns a function that removes the listener.
 */
export function onPoisoned(listener: (error: Error & { name: 'YsyncError', code: 'INSTANCE_POISONED', cause: unknown }) => void): () => void;
/** The INSTANCE_POISONED error once the wasm instance has trapped, else null. */
export function poisonedError(): (Error & { name: 'YsyncError', code: 'INSTANCE_POISONED', cause: unknown }) | null;
`

/** Rewrites `dir/ysync.js` and `dir/ysync.d.ts` once (a second run changes nothing). */
export function guardGlue (dir) {
  const js = join(dir, 'ysync.js')
  let src = readFileSync(js, 'utf8')
  if (src.includes('__ysyncGuard(')) return
  if (src.split(hook).length !== 2) throw new Error(`npm/guard.mjs: '${hook}' not found once in ${js}`)
  if (!/^import \{[^}]*\bmakeError\b[^}]*\} from /m.test(src)) throw new Error(`npm/guard.mjs: makeError is not imported in ${js}`)
  src = src.replace(hook, 'wasm = __ysyncGuard(instance.exports);') + guard
  writeFileSync(js, src)
  const dts = join(dir, 'ysync.d.ts')
  writeFileSync(dts, readFileSync(dts, 'utf8') + typings)
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  for (const dir of process.argv.slice(2)) guardGlue(dir)
}
