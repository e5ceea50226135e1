// An editing trace replayed through a text's JS API, one edit per call, for the benchmarks
// (bench/b4.mjs, bench/ab.mjs, bench/profile.mjs in their pages, bench/corpus.mjs in node):
// both libraries and every build replay it the same way.

/** Applies `patches` (`[pos, deleted, inserted]` each) to `text`, which may be ysync's or Yjs's. */
export const replayTrace = (text, patches) => {
  for (const [pos, del, ins] of patches) {
    if (del > 0) text.delete(pos, del)
    if (ins.length > 0) text.insert(pos, ins)
  }
}
