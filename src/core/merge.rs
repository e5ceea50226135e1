//! Many updates merged into one (Yjs's `mergeUpdates`) in time that grows as n log n.
//!
//! yrs's `merge_updates_v1`, like Yjs's `mergeUpdates`, sorts the cursors of all its inputs
//! again before each run of blocks it writes, so merging n one-edit updates takes time that
//! grows as n² (examples/one_transaction.rs; figures in docs/benchmarks.md). ysync merges a
//! tab's unconfirmed changes when another tab takes the lead, batches of rows for IndexedDB,
//! and whatever an app hands to `mergeUpdates`: thousands of keystrokes made offline would
//! block the page for seconds. Merged in groups of [`GROUP`], then the groups' results in
//! groups again, each merge has few inputs. A merged update holds the union of its inputs'
//! blocks and deletions, whatever the grouping, so the result holds the same changes.

use yrs::encoding::read::Error;

/// How many updates one call of yrs's merge gets: few enough that its re-sorting stays cheap.
const GROUP: usize = 16;

/// One v1 update holding every change of `updates` (each a v1 update yrs can decode).
pub fn merge_v1<B: AsRef<[u8]>>(updates: &[B]) -> Result<Vec<u8>, Error> {
    let mut level = merge_groups(updates)?;
    while level.len() > 1 {
        level = merge_groups(&level)?;
    }
    match level.pop() {
        Some(one) => Ok(one),
        None => yrs::merge_updates_v1(std::iter::empty::<&[u8]>()),
    }
}

/// Each group of `GROUP` consecutive updates merged into one.
fn merge_groups<B: AsRef<[u8]>>(updates: &[B]) -> Result<Vec<Vec<u8>>, Error> {
    updates
        .chunks(GROUP)
        .map(|group| yrs::merge_updates_v1(group.iter().map(AsRef::as_ref)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

    /// The text and whole state of a new document after applying `updates`.
    fn applied(updates: &[Vec<u8>]) -> (String, Vec<u8>) {
        let doc = Doc::with_client_id(1);
        let t = doc.get_or_insert_text("t");
        {
            let mut txn = doc.transact_mut();
            for u in updates {
                txn.apply_update(Update::decode_v1(u).expect("decodes"))
                    .expect("applies");
            }
        }
        let txn = doc.transact();
        (
            t.get_string(&txn),
            txn.encode_state_as_update_v1(&StateVector::default()),
        )
    }

    /// Updates from `peers` documents editing one text concurrently and syncing now and then:
    /// inserts, deletes (of others' text too), in the order they were made.
    fn edits(seed: u64, peers: u64, n: usize) -> Vec<Vec<u8>> {
        let mut rng = fastrand::Rng::with_seed(seed);
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let docs: Vec<Doc> = (0..peers)
            .map(|p| {
                let d = Doc::with_client_id(10 + p);
                let sink = log.clone();
                d.observe_update_v1("log", move |_, e| sink.borrow_mut().push(e.update.clone()))
                    .expect("a fresh document");
                d
            })
            .collect();
        for _ in 0..n {
            let d = &docs[rng.usize(..docs.len())];
            let t = d.get_or_insert_text("t");
            let mut txn = d.transact_mut();
            let len = t.len(&txn);
            if len > 0 && rng.u8(..4) == 0 {
                let at = rng.u32(..len);
                t.remove_range(&mut txn, at, rng.u32(1..=(len - at).min(3)));
            } else {
                let s: String = (0..rng.usize(1..4)).map(|_| rng.alphabetic()).collect();
                t.insert(&mut txn, rng.u32(..=len), &s);
            }
            drop(txn);
            if rng.u8(..8) == 0 {
                // Two peers sync: what one lacks of the other, both ways.
                let (a, b) = (
                    &docs[rng.usize(..docs.len())],
                    &docs[rng.usize(..docs.len())],
                );
                let ua = a
                    .transact()
                    .encode_state_as_update_v1(&b.transact().state_vector());
                let ub = b
                    .transact()
                    .encode_state_as_update_v1(&a.transact().state_vector());
                b.transact_mut()
                    .apply_update(Update::decode_v1(&ua).expect("decodes"))
                    .expect("applies");
                a.transact_mut()
                    .apply_update(Update::decode_v1(&ub).expect("decodes"))
                    .expect("applies");
            }
        }
        let out = log.borrow().clone();
        out
    }

    #[test]
    fn holds_what_the_updates_hold_as_one_merge_does() {
        for seed in 0..12 {
            for n in [1, 15, 16, 17, 40, 300] {
                let updates = edits(seed, 1 + seed % 4, n);
                let want = applied(&updates);
                let flat =
                    yrs::merge_updates_v1(updates.iter().map(Vec::as_slice)).expect("merges");
                let tree = merge_v1(&updates).expect("merges");
                assert_eq!(applied(&[tree]), want, "seed {seed}, {n} edits");
                assert_eq!(applied(&[flat]), want, "seed {seed}, {n} edits (flat)");
            }
        }
    }

    #[test]
    fn merges_in_any_order_of_arrival() {
        // Updates out of causal order: the merge keeps what cannot be placed yet.
        for seed in 0..8 {
            let mut updates = edits(seed, 3, 120);
            let want = applied(&updates);
            fastrand::Rng::with_seed(seed).shuffle(&mut updates);
            assert_eq!(
                applied(&[merge_v1(&updates).expect("merges")]),
                want,
                "seed {seed}"
            );
        }
    }

    #[test]
    fn none_is_the_empty_update_and_one_stays_itself() {
        let none: [&[u8]; 0] = [];
        assert_eq!(merge_v1(&none).expect("merges"), [0, 0]);
        let one = edits(1, 1, 1);
        assert_eq!(applied(&[merge_v1(&one).expect("merges")]), applied(&one));
    }

    #[test]
    fn refuses_bytes_yrs_cannot_decode() {
        let mut updates = edits(2, 2, 40);
        updates[33] = vec![1, 1]; // one client, one block, then nothing
        assert!(merge_v1(&updates).is_err());
    }
}
