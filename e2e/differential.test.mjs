// Differential convergence against Yjs (see differential.mjs), run by scripts/test.sh as its own
// step (longer than the e2e per-file timeout): the regression seeds, then a CI-sized set of seeds.
// YSYNC_DIFF_SEEDS / YSYNC_DIFF_OPS change the set; the soak runs
// `node e2e/differential.mjs --seeds 1000 --ops 1000` on other seeds.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setup, runSeed } from './differential.mjs'

// A seed that ever failed is added here with what it found, and runs on every CI run.
const REGRESSION_SEEDS = []

const SEEDS = Number(process.env.YSYNC_DIFF_SEEDS ?? 200)
const OPS = Number(process.env.YSYNC_DIFF_OPS ?? 1000)

let env
before(async () => { env = await setup() })
after(async () => { await env?.close() })

test(`5 replicas (3 ysync pages, 2 Yjs peers) converge with Yjs: ${SEEDS} seeds x ${OPS} operations`, { timeout: 60 * 60_000 }, async () => {
  const totals = { seeds: 0, ops: 0, cuts: 0, restarts: 0, reloads: 0, peerReconnects: 0 }
  const started = Date.now()
  for (const seed of [...REGRESSION_SEEDS, ...Array.from({ length: SEEDS }, (_, i) => 20261122 + i)]) {
    const res = await runSeed(env, seed, OPS)
    totals.seeds++
    for (const k of ['ops', 'cuts', 'restarts', 'reloads', 'peerReconnects']) totals[k] += res[k]
  }
  console.log(`differential: ${totals.seeds} seeds, ${totals.ops} operations, ${totals.cuts} cut connections, ${totals.restarts} server restarts, ${totals.reloads} page reloads from IndexedDB, ${totals.peerReconnects} Yjs peer reconnects, ${((Date.now() - started) / 1000).toFixed(0)} s`)
  assert.equal(totals.seeds, SEEDS + REGRESSION_SEEDS.length)
})
