//! Applies untrusted v1 updates in clock order, holding blocks that arrive past a gap until
//! the gap fills (what Yjs does with pending structs); see [`validate::split_v1`] for why yrs
//! must not integrate them early.

use yrs::updates::decoder::Decode;
use yrs::{ClientID, ReadTxn, TransactionMut, Update};

use crate::core::error::DecodeError;
use crate::core::validate::{self, Limits};

/// Updates held back because their blocks start past a gap.
#[derive(Debug, Default)]
pub struct Gate {
    held: Vec<Vec<u8>>,
}

fn yrs_err(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Yrs(e.to_string())
}

impl Gate {
    /// Held updates and their size in bytes.
    pub fn held(&self) -> (usize, usize) {
        (self.held.len(), self.bytes())
    }

    /// The held updates, e.g. to keep them in a compacted row.
    pub fn held_updates(&self) -> &[Vec<u8>] {
        &self.held
    }

    fn bytes(&self) -> usize {
        self.held.iter().map(Vec::len).sum()
    }

    /// Checks `update` and applies what fits the document's clocks now, then whatever held
    /// blocks fit after it. Held bytes are capped at `limits.max_frame`; past that the oldest
    /// are dropped (a later sync exchange sends them again).
    pub fn apply(
        &mut self,
        txn: &mut TransactionMut,
        update: &[u8],
        limits: &Limits,
    ) -> Result<(), DecodeError> {
        self.step(txn, update, limits)?;
        // Retry the held blocks (as one update) while some of them fit.
        while !self.held.is_empty() {
            let held = std::mem::take(&mut self.held);
            let merged = if held.len() == 1 {
                held.into_iter().next().unwrap_or_default()
            } else {
                match yrs::merge_updates_v1(held.iter().map(|u| u.as_slice())) {
                    Ok(m) => m,
                    Err(e) => {
                        log::warn!(target: "ysync::gate", "dropped held blocks that do not merge: {e}");
                        break;
                    }
                }
            };
            // The update itself is in: a held part that now fails its checks (e.g. it writes
            // our own clocks, which were still 0 when it was held) is dropped, not reported as
            // this update's error again and again.
            match self.step(txn, &merged, limits) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    log::warn!(target: "ysync::gate", "dropped held blocks: {e}");
                    break;
                }
            }
        }
        Ok(())
    }

    /// Splits `update` at the first gap of each client, applies the part before (with the
    /// whole delete set) and holds the rest; returns how many blocks were applied.
    fn step(
        &mut self,
        txn: &mut TransactionMut,
        update: &[u8],
        limits: &Limits,
    ) -> Result<usize, DecodeError> {
        let sv = txn.state_vector();
        let own = Some(txn.doc().client_id().get());
        let split = validate::split_v1(update, limits, own, |c| {
            u64::from(sv.get(&ClientID::new(c)))
        })?;
        let now = split.now.as_deref().unwrap_or(update);
        txn.apply_update(Update::decode_v1(now).map_err(yrs_err)?)
            .map_err(yrs_err)?;
        if let Some(h) = split.held {
            self.hold(h, limits);
        }
        Ok(split.now_blocks)
    }

    fn hold(&mut self, update: Vec<u8>, limits: &Limits) {
        self.held.push(update);
        while self.bytes() > limits.max_frame && !self.held.is_empty() {
            let dropped = self.held.remove(0);
            log::warn!(target: "ysync::gate", "dropped {} held bytes over the cap", dropped.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::{Doc, GetString, Map, Text, Transact};

    fn updates_of(doc: &Doc, edits: impl Fn(&Doc, usize), n: usize) -> Vec<Vec<u8>> {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let o = out.clone();
        doc.observe_update_v1("t", move |_, e| o.lock().unwrap().push(e.update.clone()))
            .unwrap();
        for i in 0..n {
            edits(doc, i);
        }
        let v = out.lock().unwrap().clone();
        v
    }

    #[test]
    fn blocks_past_a_gap_are_held_until_it_fills() {
        // Map sets on distinct keys have no dependencies, so yrs alone would integrate the
        // later ones at once, out of clock order.
        let src = Doc::with_client_id(9);
        let ups = updates_of(
            &src,
            |d, i| {
                d.get_or_insert_map("m")
                    .insert(&mut d.transact_mut(), format!("k{i}"), i as i64);
            },
            4,
        );
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let l = Limits::default();
        for i in [2, 3] {
            gate.apply(&mut dst.transact_mut(), &ups[i], &l).unwrap();
        }
        assert_eq!(gate.held().0, 1, "k2 and k3 wait for k0 and k1");
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 0);
        gate.apply(&mut dst.transact_mut(), &ups[0], &l).unwrap();
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 1);
        gate.apply(&mut dst.transact_mut(), &ups[1], &l).unwrap();
        assert_eq!(gate.held(), (0, 0));
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 4);
        assert_eq!(dst.transact().state_vector(), src.transact().state_vector());
    }

    #[test]
    fn held_blocks_that_turn_invalid_are_dropped_not_reported_again() {
        // Held while this document had written nothing under its id (allowed then)...
        let twin = Doc::with_client_id(7);
        let ups = updates_of(
            &twin,
            |d, i| {
                d.get_or_insert_map("m")
                    .insert(&mut d.transact_mut(), format!("k{i}"), i as i64);
            },
            3,
        );
        let dst = Doc::with_client_id(7);
        let mut gate = Gate::default();
        let l = Limits::default();
        gate.apply(&mut dst.transact_mut(), &ups[2], &l).unwrap();
        assert_eq!(gate.held().0, 1);
        // ...then the document writes under its id: those blocks would now be refused.
        dst.get_or_insert_text("t")
            .insert(&mut dst.transact_mut(), 0, "own");
        let other = Doc::with_client_id(8);
        let up = updates_of(
            &other,
            |d, _| {
                d.get_or_insert_text("t")
                    .insert(&mut d.transact_mut(), 0, "x");
            },
            1,
        );
        gate.apply(&mut dst.transact_mut(), &up[0], &l).unwrap();
        assert_eq!(gate.held(), (0, 0));
        gate.apply(&mut dst.transact_mut(), &up[0], &l).unwrap();
    }

    #[test]
    fn in_order_updates_pass_unchanged_and_deletions_apply() {
        let src = Doc::with_client_id(9);
        let ups = updates_of(
            &src,
            |d, i| {
                let t = d.get_or_insert_text("t");
                let mut txn = d.transact_mut();
                if i == 2 {
                    t.remove_range(&mut txn, 0, 1);
                } else {
                    t.insert(&mut txn, 0, "ab");
                }
            },
            3,
        );
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        for u in &ups {
            gate.apply(&mut dst.transact_mut(), u, &Limits::default())
                .unwrap();
        }
        assert_eq!(gate.held(), (0, 0));
        let t = dst.get_or_insert_text("t");
        assert_eq!(t.get_string(&dst.transact()), "bab");
    }
}
