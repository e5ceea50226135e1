//! Applies untrusted v1 updates in clock order, holding blocks that arrive past a gap until
//! the gap fills (what Yjs does with pending structs); see [`split_v1`](crate::core::split::split_v1) for why yrs
//! must not integrate them early.

use yrs::updates::decoder::Decode;
use yrs::{ClientID, ReadTxn, Transact, TransactionMut, Update};

use crate::core::error::DecodeError;
use crate::core::validate::Limits;

/// Updates held back because their blocks start past a gap, each with the origin of the
/// transaction it arrived in.
///
/// One gate per document: the server's frames, other tabs, stored rows and `applyUpdate` all
/// go through it, so a gap that one of them leaves is filled by whichever brings the missing
/// blocks. Blocks released by another path's update are applied under their own origin (in a
/// transaction of their own, by [`settle`](Gate::settle)), so each is still told apart as
/// what it is: the server's content is not sent back to it, an app's update is.
#[derive(Debug, Default)]
pub struct Gate {
    held: Vec<Held>,
}

#[derive(Debug)]
struct Held {
    origin: Option<Vec<u8>>,
    update: Vec<u8>,
}

/// A document's one gate, shared by its session, its storage and its API.
pub type SharedGate = std::rc::Rc<std::cell::RefCell<Gate>>;

fn yrs_err(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Yrs(e.to_string())
}

fn origin_of(txn: &TransactionMut) -> Option<Vec<u8>> {
    txn.origin().map(|o| o.as_ref().to_vec())
}

impl Gate {
    /// Held updates and their size in bytes.
    pub fn held(&self) -> (usize, usize) {
        (self.held.len(), self.bytes())
    }

    /// The held updates, e.g. to keep them in a compacted row.
    pub fn held_updates(&self) -> impl Iterator<Item = &[u8]> {
        self.held.iter().map(|h| h.update.as_slice())
    }

    fn bytes(&self) -> usize {
        self.held.iter().map(|h| h.update.len()).sum()
    }

    /// Checks `update` and applies what fits the document's clocks now, then whatever blocks
    /// held under the same origin fit after it. Held bytes are capped at `limits.max_frame`;
    /// past that the oldest are dropped (a later sync exchange sends them again). Blocks held
    /// under other origins wait for [`settle`](Self::settle), once `txn` is committed.
    pub fn apply(
        &mut self,
        txn: &mut TransactionMut,
        update: &[u8],
        limits: &Limits,
    ) -> Result<(), DecodeError> {
        let origin = origin_of(txn);
        self.step(txn, &origin, update, limits)?;
        self.retry(txn, &origin, limits);
        Ok(())
    }

    /// Applies the held blocks of every other origin that fit now, each origin in a
    /// transaction of its own; call it after the transaction of [`apply`](Self::apply) is
    /// committed. Returns whether any block went in.
    pub fn settle(&mut self, doc: &yrs::Doc, limits: &Limits) -> bool {
        let mut any = false;
        loop {
            let mut origins: Vec<Option<Vec<u8>>> = Vec::new();
            for h in &self.held {
                if !origins.contains(&h.origin) {
                    origins.push(h.origin.clone());
                }
            }
            let mut progress = false;
            for origin in origins {
                let txn = match &origin {
                    Some(o) => doc.try_transact_mut_with(o.as_slice()),
                    None => doc.try_transact_mut(),
                };
                let Ok(mut txn) = txn else { return any };
                progress |= self.retry(&mut txn, &origin, limits);
            }
            if !progress {
                return any;
            }
            any = true;
        }
    }

    /// Retries the blocks held under `origin` (as one update) while some of them fit; true if
    /// any did.
    fn retry(
        &mut self,
        txn: &mut TransactionMut,
        origin: &Option<Vec<u8>>,
        limits: &Limits,
    ) -> bool {
        let mut any = false;
        loop {
            let (mine, rest): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
                .into_iter()
                .partition(|h| &h.origin == origin);
            self.held = rest;
            if mine.is_empty() {
                return any;
            }
            let merged = if mine.len() == 1 {
                mine.into_iter()
                    .next()
                    .map(|h| h.update)
                    .unwrap_or_default()
            } else {
                match yrs::merge_updates_v1(mine.iter().map(|h| h.update.as_slice())) {
                    Ok(m) => m,
                    Err(e) => {
                        log::warn!(target: "ysync::gate", "dropped held blocks that do not merge: {e}");
                        return any;
                    }
                }
            };
            // The update itself is in: a held part that now fails its checks (e.g. it writes
            // our own clocks, which were still 0 when it was held) is dropped, not reported as
            // this update's error again and again.
            match self.step(txn, origin, &merged, limits) {
                Ok(0) => return any,
                Ok(_) => any = true,
                Err(e) => {
                    log::warn!(target: "ysync::gate", "dropped held blocks: {e}");
                    return any;
                }
            }
        }
    }

    /// Splits `update` at the first gap of each client, applies the part before (with the
    /// whole delete set) and holds the rest; returns how many blocks were applied.
    fn step(
        &mut self,
        txn: &mut TransactionMut,
        origin: &Option<Vec<u8>>,
        update: &[u8],
        limits: &Limits,
    ) -> Result<usize, DecodeError> {
        let sv = txn.state_vector();
        let own = Some(txn.doc().client_id().get());
        let split = crate::core::split::split_v1(update, limits, own, |c| {
            u64::from(sv.get(&ClientID::new(c)))
        })?;
        let now = split.now.as_deref().unwrap_or(update);
        txn.apply_update(Update::decode_v1(now).map_err(yrs_err)?)
            .map_err(yrs_err)?;
        if let Some(h) = split.held {
            self.hold(origin, h, limits);
        }
        Ok(split.now_blocks)
    }

    fn hold(&mut self, origin: &Option<Vec<u8>>, update: Vec<u8>, limits: &Limits) {
        self.held.push(Held {
            origin: origin.clone(),
            update,
        });
        while self.bytes() > limits.max_frame && !self.held.is_empty() {
            let dropped = self.held.remove(0);
            log::warn!(target: "ysync::gate", "dropped {} held bytes over the cap", dropped.update.len());
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
