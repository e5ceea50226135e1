// Differential convergence against Yjs (see differential.mjs), run by scripts/test.sh as its own
// step (longer than the e2e per-file timeout): the regression seeds, then a CI-sized set of seeds.
// YSYNC_DIFF_SEEDS / YSYNC_DIFF_OPS change the set (YSYNC_DIFF_HP_SEEDS the Hocuspocus one);
// the soak runs `node e2e/differential.mjs --seeds 1000 --ops 1000 [--hocuspocus]` on other seeds.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setup, runSeed } from './differential.mjs'

// A seed that ever failed is added here with what it found, and runs on every CI run.
const REGRESSION_SEEDS = []

const SEEDS = Number(process.env.YSYNC_DIFF_SEEDS ?? 200)
const OPS = Number(process.env.YSYNC_DIFF_OPS ?? 1000)
const HP_SEEDS = Number(process.env.YSYNC_DIFF_HP_SEEDS ?? 50)

let env
before(async () => { env = await setup() })
after(async () => { await env?.close() })

async function run (dialect, seeds, first) {
  const totals = { seeds: 0, ops: 0, cuts: 0, restarts: 0, reloads: 0, peerReconnects: 0 }
  const started = Date.now()
  for (const seed of [...REGRESSION_SEEDS, ...Array.from({ length: seeds }, (_, i) => first + i)]) {
    const res = await runSeed(env, seed, OPS, { dialect })
    totals.seeds++
    for (const k of ['ops', 'cuts', 'restarts', 'reloads', 'peerReconnects']) totals[k] += res[k]
  }
  console.log(`differential (${dialect}): ${totals.seeds} seeds, ${totals.ops} operations, ${totals.cuts} cut connections, ${totals.restarts} server restarts, ${totals.reloads} page reloads from IndexedDB, ${totals.peerReconnects} Yjs peer reconnects, ${((Date.now() - started) / 1000).toFixed(0)} s`)
  assert.equal(totals.seeds, seeds + REGRESSION_SEEDS.length)
}

test(`5 replicas (3 ysync pages, 2 Yjs peers) converge with Yjs through @y/websocket-server: ${SEEDS} seeds x ${OPS} operations`, { timeout: 60 * 60_000 }, () =>
  run('y-websocket', SEEDS, 20261122))

test(`the same through Hocuspocus 4.7 (HocuspocusProvider pages, @hocuspocus/provider peers): ${HP_SEEDS} seeds x ${OPS} operations`, { timeout: 60 * 60_000 }, () =>
  run('hocuspocus', HP_SEEDS, 20261203))
