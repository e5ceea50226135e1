//! Applies untrusted v1 updates in clock order, holding blocks that arrive past a gap until
//! the gap fills (what Yjs does with pending structs); see
//! [`split_v1`](crate::core::split::split_v1) for why yrs must not integrate them early.
//!
//! Held blocks are indexed by client and first clock, so the work an update costs depends on
//! that update (and on the held runs it makes fit), never on how much is held; what is held is
//! capped in blocks and bytes. The index is hash maps and a heap per client, not B-trees: the
//! standard B-tree's code, compiled again for each key and value type, cost the npm build more
//! (docs/size.md). Client ids are hashed as the awareness table hashes them; yrs's own tables
//! of clients do not hash them at all.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use yrs::updates::decoder::Decode;
use yrs::{ClientID, ReadTxn, StateVector, Transact, TransactionMut, Update};

use crate::core::error::DecodeError;
use crate::core::split::HeldRun;
use crate::core::validate::Limits;

/// Blocks held back because they start past a gap, each run with the origin of the
/// transaction it arrived in.
///
/// One gate per document: the server's frames, other tabs, stored rows and `applyUpdate` all
/// go through it, so a gap that one of them leaves is filled by whichever brings the missing
/// blocks. Blocks released by another path's update are applied under their own origin (in a
/// transaction of their own, by [`settle`](Gate::settle)), so each is still told apart as
/// what it is: the server's content is not sent back to it, an app's update is.
#[derive(Debug)]
pub struct Gate {
    /// Held runs by client. A client listed in `ready` keeps its entry, runs or not.
    held: HashMap<u64, Runs>,
    /// Clients whose clock advanced since their first held run was last looked at, each once
    /// ([`Runs::ready`]), in the order they became ready: the order runs are retried in does
    /// not depend on a hasher.
    ready: Vec<u64>,
    blocks: usize,
    bytes: usize,
    /// Bytes of updates the gate split or applied (what its work is proportional to).
    examined: u64,
    /// The estimated memory of what the gate applied, and the most it may apply.
    charged: u64,
    budget: u64,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            held: HashMap::new(),
            ready: Vec::new(),
            blocks: 0,
            bytes: 0,
            examined: 0,
            charged: 0,
            budget: DEFAULT_BUDGET,
        }
    }
}

/// The default memory budget of a document: 1 GiB of the 4 GiB a wasm32 instance can have.
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// What yrs's memory for one new block is taken to be, and for each byte of it (content,
/// keys): an estimate above what wasm32 measured (docs/hostile.md). Delete ranges are not
/// counted.
const BLOCK_COST: u64 = 512;
const BYTE_COST: u64 = 8;

/// The estimated memory an update of `bytes` with `blocks` blocks takes in yrs.
pub fn cost(blocks: usize, bytes: usize) -> u64 {
    blocks as u64 * BLOCK_COST + bytes as u64 * BYTE_COST
}

#[derive(Debug)]
struct Held {
    origin: Option<Vec<u8>>,
    run: HeldRun,
}

/// One client's held runs.
#[derive(Debug, Default)]
struct Runs {
    /// The first clocks of `by_start`, the smallest on top: the run that can fit first.
    starts: BinaryHeap<Reverse<u64>>,
    /// The runs by first clock.
    by_start: HashMap<u64, Held>,
    /// Listed in [`Gate::ready`].
    ready: bool,
}

impl Runs {
    /// The run with the smallest first clock.
    fn first(&self) -> Option<(u64, &Held)> {
        let Reverse(start) = *self.starts.peek()?;
        self.by_start.get(&start).map(|h| (start, h))
    }
}

/// What an update did at the gate.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Blocks past a gap that did not fit under the cap on held blocks and bytes: dropped
    /// (`(blocks, bytes)`). A later sync exchange sends them again.
    pub refused: Option<(usize, usize)>,
    /// Delete ranges for clocks the document has not received that did not fit under the
    /// cap on pending deletes: cut back to the clocks it has. A later sync exchange sends
    /// them again.
    pub deletes_cut: Option<usize>,
    /// Where the update's delete set starts (see [`server_ids`](crate::core::split::server_ids)).
    pub delete_set_at: usize,
    /// yrs applied exactly this update, unchanged, and no held blocks with it: the
    /// transaction's changes are this update's (a bridge may hand its bytes to the tap).
    pub whole: bool,
}

impl Applied {
    /// What was refused, as the typed error an event or a call reports: blocks over the cap
    /// on held blocks first, then delete ranges over the cap on pending deletes.
    pub fn error(&self) -> Option<crate::core::error::SyncError> {
        use crate::core::error::SyncError;
        match (self.refused, self.deletes_cut) {
            (Some((blocks, bytes)), _) => Some(SyncError::HeldLimit { blocks, bytes }),
            (None, Some(ranges)) => Some(SyncError::DeleteLimit { ranges }),
            (None, None) => None,
        }
    }
}

/// A document's one gate, shared by its session, its storage and its API.
pub type SharedGate = std::rc::Rc<std::cell::RefCell<Gate>>;

fn yrs_err(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Yrs(e.to_string())
}

fn origin_of(txn: &TransactionMut) -> Option<Vec<u8>> {
    txn.origin().map(|o| o.as_ref().to_vec())
}

/// Delete ranges yrs keeps for clocks the document has not received (its pending delete set).
pub fn pending_deletes(txn: &impl ReadTxn) -> usize {
    txn.store()
        .pending_ds()
        .map_or(0, |ds| ds.iter().map(|(_, r)| r.len()).sum())
}

fn clock(sv: &StateVector, client: u64) -> u64 {
    u64::from(sv.get(&ClientID::new(client)))
}

impl Gate {
    /// Held blocks and their size in bytes.
    pub fn held(&self) -> (usize, usize) {
        (self.blocks, self.bytes)
    }

    /// Sets the document's memory budget (bytes, estimated by [`cost`]): an update that would
    /// take what the gate applied past it is refused whole ([`DecodeError::OverBudget`]).
    pub fn set_budget(&mut self, bytes: u64) {
        self.budget = bytes;
    }

    /// The estimated memory of what the gate applied, and the budget.
    pub fn memory(&self) -> (u64, u64) {
        (self.charged, self.budget)
    }

    /// Bytes the gate has split or applied so far: its work, for tests that check it does not
    /// grow with what is held.
    pub fn examined(&self) -> u64 {
        self.examined
    }

    /// The held runs by client, then by first clock, e.g. to keep them in a compacted row.
    pub fn held_updates(&self) -> impl Iterator<Item = &[u8]> {
        let runs: Vec<(u64, u64, &[u8])> = self
            .held
            .iter()
            .flat_map(|(&client, runs)| {
                runs.by_start
                    .iter()
                    .map(move |(&start, h)| (client, start, h.run.update.as_slice()))
            })
            .collect();
        crate::core::order::sorted_by(&runs, |a, b| (a.0, a.1).cmp(&(b.0, b.1)))
            .into_iter()
            .map(|(_, _, update)| update)
    }

    /// Drops what is held under `origin` (a server's blocks, when its connection is replaced:
    /// the new connection's sync step 2 sends them again). Returns the blocks dropped.
    pub fn drop_origin(&mut self, origin: &[u8]) -> usize {
        let before = self.blocks;
        for runs in self.held.values_mut() {
            runs.by_start.retain(|_, h| {
                let keep = h.origin.as_deref() != Some(origin);
                if !keep {
                    self.blocks -= h.run.blocks;
                    self.bytes -= h.run.update.len();
                }
                keep
            });
            let by_start = &runs.by_start;
            runs.starts.retain(|Reverse(s)| by_start.contains_key(s));
        }
        self.held
            .retain(|_, runs| runs.ready || !runs.by_start.is_empty());
        before - self.blocks
    }

    /// Checks `update` and applies what fits the document's clocks now, then whatever blocks
    /// held under the same origin fit after it. Blocks past a gap are held up to
    /// `limits.max_held_blocks` / `limits.max_held_bytes`; past that they are refused (see
    /// [`Applied::refused`]). Blocks held under other origins wait for
    /// [`settle`](Self::settle), once `txn` is committed.
    pub fn apply(
        &mut self,
        txn: &mut TransactionMut,
        update: &[u8],
        limits: &Limits,
    ) -> Result<Applied, DecodeError> {
        let origin = origin_of(txn);
        let mut applied = self.step(txn, &origin, update, limits)?;
        let released = self.retry(txn, &origin, limits);
        applied.whole &= !released;
        Ok(applied)
    }

    /// Applies the held blocks of every other origin that fit now, each origin in a
    /// transaction of its own; call it after the transaction of [`apply`](Self::apply) is
    /// committed. Returns whether any block went in.
    pub fn settle(&mut self, doc: &yrs::Doc, limits: &Limits) -> bool {
        let mut any = false;
        // A state vector is built over every client the document knows: not when no held
        // run can fit.
        while !self.ready.is_empty() {
            let sv = match doc.try_transact() {
                Ok(t) => t.state_vector(),
                Err(_) => return any,
            };
            let Some((_, origin)) = self.first_fit(&sv, None) else {
                return any;
            };
            let txn = match &origin {
                Some(o) => doc.try_transact_mut_with(o.as_slice()),
                None => doc.try_transact_mut(),
            };
            let Ok(mut txn) = txn else { return any };
            if !self.retry(&mut txn, &origin, limits) {
                return any;
            }
            any = true;
        }
        any
    }

    /// A client whose first held run fits `sv` now (of origin `only`, if given), and that
    /// run's origin; clients whose first run does not fit leave the ready set.
    fn first_fit(
        &mut self,
        sv: &StateVector,
        only: Option<&Option<Vec<u8>>>,
    ) -> Option<(u64, Option<Vec<u8>>)> {
        let mut i = 0;
        while let Some(&c) = self.ready.get(i) {
            match self.held.get(&c).and_then(Runs::first) {
                Some((start, h)) if start <= clock(sv, c) => {
                    if only.is_none_or(|o| *o == h.origin) {
                        return Some((c, h.origin.clone()));
                    }
                    i += 1;
                }
                _ => {
                    // The last one moves into `i`, and is looked at next.
                    self.ready.swap_remove(i);
                    if let Some(runs) = self.held.get_mut(&c) {
                        runs.ready = false;
                        if runs.by_start.is_empty() {
                            self.held.remove(&c);
                        }
                    }
                }
            }
        }
        None
    }

    /// Lists `client` in the ready set, if it has held runs and is not listed yet.
    fn mark_ready(&mut self, client: u64) {
        if let Some(runs) = self.held.get_mut(&client) {
            if !runs.ready {
                runs.ready = true;
                self.ready.push(client);
            }
        }
    }

    /// Applies the held runs of `origin` that fit, one at a time, while any does; true if
    /// any did.
    fn retry(
        &mut self,
        txn: &mut TransactionMut,
        origin: &Option<Vec<u8>>,
        limits: &Limits,
    ) -> bool {
        let mut any = false;
        // As in `settle`: no state vector when no held run can fit.
        while !self.ready.is_empty() {
            let sv = txn.state_vector();
            let Some((c, _)) = self.first_fit(&sv, Some(origin)) else {
                return any;
            };
            let Some(h) = self.take_first(c) else {
                return any;
            };
            // The update itself is in: a held part that now fails its checks (e.g. it writes
            // our own clocks, which were still 0 when it was held) is dropped, not reported as
            // this update's error again and again.
            match self.step(txn, origin, &h.run.update, limits) {
                Ok(_) => any = true,
                Err(e) => {
                    log::warn!(target: "ysync::gate", "dropped held blocks: {e}");
                }
            }
        }
        any
    }

    fn take_first(&mut self, client: u64) -> Option<Held> {
        let runs = self.held.get_mut(&client)?;
        let Reverse(start) = runs.starts.pop()?;
        let h = runs.by_start.remove(&start)?;
        // A listed client keeps its entry until `first_fit` unlists it.
        if runs.by_start.is_empty() && !runs.ready {
            self.held.remove(&client);
        }
        self.blocks -= h.run.blocks;
        self.bytes -= h.run.update.len();
        Some(h)
    }

    /// Splits `update` at the first gap of each client, applies the part before (with the
    /// whole delete set) and holds the rest.
    fn step(
        &mut self,
        txn: &mut TransactionMut,
        origin: &Option<Vec<u8>>,
        update: &[u8],
        limits: &Limits,
    ) -> Result<Applied, DecodeError> {
        self.examined += update.len() as u64;
        let sv = txn.state_vector();
        let own = txn.doc().client_id().get();
        let room = limits
            .max_pending_deletes
            .saturating_sub(pending_deletes(txn));
        // A bridge's update is the app's own Yjs document writing this client id: the one
        // writer of its clocks, so not refused as another replica using them.
        let bridged = matches!(
            origin
                .as_deref()
                .and_then(crate::core::origin::Origin::parse),
            Some(crate::core::origin::Origin::Bridge(_))
        );
        let split = crate::core::split::split_v1(
            update,
            limits,
            (!bridged).then_some(own),
            |c| clock(&sv, c),
            room,
        )?;
        let now = split.now.as_deref().unwrap_or(update);
        // Checked before yrs decodes anything: past the budget the instance would run out of
        // memory (a trap) instead of refusing. Only what is new to the document counts (a
        // compaction applies every stored row again).
        let cost = cost(split.new_blocks, split.new_bytes);
        let left = self.budget.saturating_sub(self.charged);
        if cost > left {
            return Err(DecodeError::OverBudget { cost, left });
        }
        // Blocks yrs holds for a missing dependency on another client's blocks (its pending
        // update) go in when this update brings that dependency: their clients' clocks then
        // advance too, not only the clients of this update.
        let yrs_pending = txn.store().pending_update().is_some();
        txn.apply_update(Update::decode_v1(now).map_err(yrs_err)?)
            .map_err(yrs_err)?;
        self.charged += cost;
        for c in split.now_clients {
            self.mark_ready(c);
        }
        if yrs_pending {
            for (c, &at) in txn.state_vector().iter() {
                if at > sv.get(c) {
                    self.mark_ready(c.get());
                }
            }
        }
        // This document's own clock advances with local edits, outside the gate: its held
        // runs (its own past, loaded before it wrote anything) are looked at every time.
        self.mark_ready(own);
        let mut applied = Applied {
            delete_set_at: split.delete_set_at,
            whole: split.now.is_none(),
            ..Applied::default()
        };
        if split.deletes_cut {
            log::warn!(target: "ysync::gate", "cut {} delete ranges past the document's clocks: over the cap", split.late_deletes);
            applied.deletes_cut = Some(split.late_deletes);
        }
        let (blocks, bytes) = split
            .held
            .iter()
            .fold((0, 0), |(b, n), r| (b + r.blocks, n + r.update.len()));
        if blocks > 0 {
            if self.blocks + blocks > limits.max_held_blocks
                || self.bytes + bytes > limits.max_held_bytes
            {
                log::warn!(target: "ysync::gate", "refused {blocks} blocks past a gap ({bytes} bytes): over the cap");
                applied.refused = Some((blocks, bytes));
            } else {
                for run in split.held {
                    self.hold(origin, run);
                }
            }
        }
        Ok(applied)
    }

    fn hold(&mut self, origin: &Option<Vec<u8>>, run: HeldRun) {
        let client = run.client;
        let runs = self.held.entry(client).or_default();
        // The same first clock twice (a resent update): keep the longer run.
        if let Some(old) = runs.by_start.get(&run.start) {
            if old.run.end >= run.end {
                return;
            }
            self.blocks -= old.run.blocks;
            self.bytes -= old.run.update.len();
        } else {
            runs.starts.push(Reverse(run.start));
        }
        self.blocks += run.blocks;
        self.bytes += run.update.len();
        runs.by_start.insert(
            run.start,
            Held {
                origin: origin.clone(),
                run,
            },
        );
        // A run may fit at once (its gap was filled by an earlier part of this update).
        self.mark_ready(client);
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
            let applied = gate.apply(&mut dst.transact_mut(), &ups[i], &l).unwrap();
            assert!(!applied.whole, "held back");
        }
        assert_eq!(gate.held().0, 2, "k2 and k3 wait for k0 and k1");
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 0);
        let applied = gate.apply(&mut dst.transact_mut(), &ups[0], &l).unwrap();
        assert!(applied.whole, "in order, nothing released with it");
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 1);
        let applied = gate.apply(&mut dst.transact_mut(), &ups[1], &l).unwrap();
        assert!(!applied.whole, "k2 and k3 went in with it");
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
    fn only_a_bridge_writes_this_documents_own_clocks() {
        // The app's Yjs document and its replica share client id 7.
        let app = Doc::with_client_id(7);
        let ups = updates_of(
            &app,
            |d, i| {
                d.get_or_insert_text("t")
                    .insert(&mut d.transact_mut(), i as u32, "a");
            },
            3,
        );
        let replica = Doc::with_client_id(7);
        let mut gate = Gate::default();
        let l = Limits::default();
        let bridge = crate::core::origin::Origin::Bridge(1).encode();
        for u in &ups[..2] {
            let applied = gate
                .apply(&mut replica.transact_mut_with(bridge.as_str()), u, &l)
                .unwrap();
            assert!(applied.whole);
        }
        assert_eq!(
            replica
                .get_or_insert_text("t")
                .get_string(&replica.transact()),
            "aa"
        );
        // The same bytes from anywhere else are another replica using this client id.
        let server = crate::core::origin::Origin::Server(1).encode();
        let err = gate
            .apply(&mut replica.transact_mut_with(server.as_str()), &ups[2], &l)
            .unwrap_err();
        assert!(matches!(err, DecodeError::OwnClientId), "{err:?}");
        gate.apply(&mut replica.transact_mut_with(bridge.as_str()), &ups[2], &l)
            .unwrap();
        assert_eq!(
            replica.transact().state_vector(),
            app.transact().state_vector()
        );
    }

    fn map_sets(client: u64, n: usize) -> Vec<Vec<u8>> {
        updates_of(
            &Doc::with_client_id(client),
            |d, i| {
                d.get_or_insert_map("m")
                    .insert(&mut d.transact_mut(), format!("k{i}"), i as i64);
            },
            n,
        )
    }

    #[test]
    fn the_work_of_an_update_does_not_grow_with_what_is_held() {
        let ups = map_sets(9, 10_001);
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let l = Limits::default();
        // Every update but the first waits for it.
        for u in &ups[1..] {
            gate.apply(&mut dst.transact_mut(), u, &l).unwrap();
        }
        assert_eq!(gate.held().0, 10_000);
        let held_bytes = gate.held().1;
        let other = map_sets(8, 1);
        let before = gate.examined();
        gate.apply(&mut dst.transact_mut(), &other[0], &l).unwrap();
        let work = gate.examined() - before;
        assert_eq!(
            work,
            other[0].len() as u64,
            "an unrelated update costs its own bytes, not the {held_bytes} held"
        );
        // The missing first update releases every held one, each once.
        let before = gate.examined();
        gate.apply(&mut dst.transact_mut(), &ups[0], &l).unwrap();
        assert_eq!(gate.held(), (0, 0));
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 10_001);
        assert!(
            gate.examined() - before <= 2 * held_bytes as u64,
            "each held run is applied once"
        );
    }

    #[test]
    fn blocks_over_the_cap_are_refused_and_the_rest_applies() {
        let ups = map_sets(9, 6);
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let l = Limits {
            max_held_blocks: 3,
            ..Limits::default()
        };
        for u in &ups[2..5] {
            let a = gate.apply(&mut dst.transact_mut(), u, &l).unwrap();
            assert_eq!(a.refused, None);
        }
        let a = gate.apply(&mut dst.transact_mut(), &ups[5], &l).unwrap();
        assert_eq!(a.refused, Some((1, ups[5].len())), "the fourth held block");
        assert_eq!(gate.held().0, 3);
        let bytes = Limits {
            max_held_bytes: gate.held().1,
            ..Limits::default()
        };
        let a = gate
            .apply(&mut dst.transact_mut(), &ups[5], &bytes)
            .unwrap();
        assert!(a.refused.is_some(), "and past the byte cap");
        // What fits now is applied whatever the cap: k0 and k1 release k2..k4.
        for u in &ups[..2] {
            gate.apply(&mut dst.transact_mut(), u, &l).unwrap();
        }
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 5);
        assert_eq!(gate.held(), (0, 0));
    }

    #[test]
    fn an_update_past_the_memory_budget_is_refused_whole_before_yrs_sees_it() {
        let big = updates_of(
            &Doc::with_client_id(9),
            |d, _| {
                let m = d.get_or_insert_map("m");
                let mut txn = d.transact_mut();
                for i in 0..1000 {
                    m.insert(&mut txn, format!("k{i}"), i as i64);
                }
            },
            1,
        );
        let small = map_sets(8, 1);
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let l = Limits::default();
        gate.set_budget(cost(1000, big[0].len()) - 10_000);
        let e = gate
            .apply(&mut dst.transact_mut(), &big[0], &l)
            .unwrap_err();
        assert!(matches!(e, DecodeError::OverBudget { .. }), "{e:?}");
        assert_eq!(
            dst.get_or_insert_map("m").len(&dst.transact()),
            0,
            "nothing of it"
        );
        assert_eq!(gate.memory().0, 0);
        gate.apply(&mut dst.transact_mut(), &small[0], &l).unwrap();
        let charged = gate.memory().0;
        assert!(
            charged > 0 && charged <= cost(1, small[0].len()),
            "what fits is charged"
        );
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 1);
        // The same update again (as a compaction applies every stored row) adds nothing.
        gate.apply(&mut dst.transact_mut(), &small[0], &l).unwrap();
        assert_eq!(
            gate.memory().0,
            charged,
            "known blocks are not charged again"
        );
    }

    /// Three clients typing into one text, each edit seen by the others before their next
    /// (so blocks depend on other clients' blocks), as the updates they sent.
    fn interleaved_edits(rng: &mut fastrand::Rng, n: usize) -> (String, Vec<Vec<u8>>) {
        let docs: Vec<Doc> = (0..3).map(|i| Doc::with_client_id(20 + i)).collect();
        let mut ups = Vec::new();
        for i in 0..n {
            let d = &docs[rng.usize(..3)];
            let t = d.get_or_insert_text("t");
            let at = rng.u32(..=t.len(&d.transact()));
            let u = updates_of(
                d,
                |d, _| t.insert(&mut d.transact_mut(), at, &format!("{i},")),
                1,
            );
            for other in &docs {
                other
                    .transact_mut()
                    .apply_update(Update::decode_v1(&u[0]).unwrap())
                    .unwrap();
            }
            ups.extend(u);
        }
        let text = docs[0]
            .get_or_insert_text("t")
            .get_string(&docs[0].transact());
        (text, ups)
    }

    #[test]
    fn updates_in_any_order_from_several_origins_converge_and_nothing_stays_held() {
        let l = Limits::default();
        for seed in 0..40 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let (text, mut ups) = interleaved_edits(&mut rng, 30);
            rng.shuffle(&mut ups);
            let dst = Doc::with_client_id(1);
            let mut gate = Gate::default();
            for (i, u) in ups.iter().enumerate() {
                let origin = ["server", "app", "tab"][rng.usize(..3)];
                gate.apply(&mut dst.transact_mut_with(origin), u, &l)
                    .unwrap();
                gate.settle(&dst, &l);
                // A replaced connection drops what it had held; its next sync sends it again.
                if i == ups.len() / 2 {
                    gate.drop_origin(b"server");
                }
            }
            for u in &ups {
                gate.apply(&mut dst.transact_mut_with("server"), u, &l)
                    .unwrap();
                gate.settle(&dst, &l);
            }
            assert_eq!(gate.held(), (0, 0), "seed {seed}");
            assert_eq!(
                dst.get_or_insert_text("t").get_string(&dst.transact()),
                text,
                "seed {seed}"
            );
            assert!(gate.held.is_empty() && gate.ready.is_empty(), "seed {seed}");
        }
    }

    #[test]
    fn a_clients_held_runs_are_released_in_clock_order_whatever_order_they_came_in() {
        let ups = map_sets(9, 6);
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let l = Limits::default();
        for u in ups[1..].iter().rev() {
            gate.apply(&mut dst.transact_mut(), u, &l).unwrap();
        }
        let held: Vec<&[u8]> = gate.held_updates().collect();
        assert_eq!(held, ups[1..].iter().map(Vec::as_slice).collect::<Vec<_>>());
        gate.apply(&mut dst.transact_mut(), &ups[0], &l).unwrap();
        assert_eq!(gate.held(), (0, 0));
        assert_eq!(dst.get_or_insert_map("m").len(&dst.transact()), 6);
    }

    #[test]
    fn dropping_an_origin_keeps_the_others_runs() {
        let ups = map_sets(9, 3);
        let more = map_sets(8, 3);
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let l = Limits::default();
        gate.apply(&mut dst.transact_mut_with("server"), &ups[2], &l)
            .unwrap();
        gate.apply(&mut dst.transact_mut_with("app"), &more[2], &l)
            .unwrap();
        assert_eq!(gate.held().0, 2);
        assert_eq!(gate.drop_origin(b"server"), 1);
        assert_eq!(gate.held().0, 1);
        assert_eq!(gate.drop_origin(b"server"), 0);
        for u in &more[..2] {
            gate.apply(&mut dst.transact_mut_with("app"), u, &l)
                .unwrap();
        }
        assert_eq!(gate.held(), (0, 0));
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

    /// Client 42 writes "abcdef"; client 43, who has it, deletes "b", "d" and "f": three
    /// ranges of client 42 in a delete set of its own. Returns (42's insert, 43's deletes).
    fn deletes_of_an_unseen_client() -> (Vec<u8>, Vec<u8>) {
        let a = Doc::with_client_id(42);
        let ins = updates_of(
            &a,
            |d, _| {
                d.get_or_insert_text("t")
                    .insert(&mut d.transact_mut(), 0, "abcdef");
            },
            1,
        );
        let b = Doc::with_client_id(43);
        b.transact_mut()
            .apply_update(Update::decode_v1(&ins[0]).unwrap())
            .unwrap();
        let dels = updates_of(
            &b,
            |d, _| {
                let t = d.get_or_insert_text("t");
                let mut txn = d.transact_mut();
                for i in [4, 2, 0] {
                    t.remove_range(&mut txn, i + 1, 1);
                }
            },
            1,
        );
        (ins[0].clone(), dels[0].clone())
    }

    #[test]
    fn deletes_for_clocks_not_received_are_kept_sent_again_and_applied_later_like_yjs() {
        let (ins, dels) = deletes_of_an_unseen_client();
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let l = Limits::default();
        let a = gate.apply(&mut dst.transact_mut(), &dels, &l).unwrap();
        assert_eq!(a.error(), None);
        assert_eq!(pending_deletes(&dst.transact()), 3);
        // Yjs's encodeStateAsUpdate writes its pending delete set out again; so does yrs.
        let full = dst
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let sent = Update::decode_v1(&full).unwrap();
        assert!(sent
            .delete_set()
            .contains(&yrs::ID::new(ClientID::new(42), 1)));
        gate.apply(&mut dst.transact_mut(), &ins, &l).unwrap();
        let t = dst.get_or_insert_text("t");
        assert_eq!(t.get_string(&dst.transact()), "ace");
        assert_eq!(pending_deletes(&dst.transact()), 0);
    }

    #[test]
    fn pending_deletes_past_the_cap_are_cut_back_to_the_clocks_the_document_has() {
        let (ins, dels) = deletes_of_an_unseen_client();
        let l = Limits {
            max_pending_deletes: 2,
            ..Limits::default()
        };
        // Three ranges for clocks this document lacks: over a cap of 2, none is kept.
        let dst = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let a = gate.apply(&mut dst.transact_mut(), &dels, &l).unwrap();
        assert_eq!(a.deletes_cut, Some(3));
        assert_eq!(
            a.error(),
            Some(crate::core::error::SyncError::DeleteLimit { ranges: 3 })
        );
        assert_eq!(pending_deletes(&dst.transact()), 0);
        let full = dst
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert!(Update::decode_v1(&full).unwrap().delete_set().is_empty());
        gate.apply(&mut dst.transact_mut(), &ins, &l).unwrap();
        let t = dst.get_or_insert_text("t");
        assert_eq!(
            t.get_string(&dst.transact()),
            "abcdef",
            "a later sync sends them again"
        );
        // With the first four clocks of client 42 in, the ranges at 1 and 3 are within them and
        // apply; the one at 5 is late, alone under the cap, and kept.
        let part = Doc::with_client_id(1);
        let mut gate = Gate::default();
        let first = Doc::with_client_id(42);
        let ups = updates_of(
            &first,
            |d, _| {
                d.get_or_insert_text("t")
                    .insert(&mut d.transact_mut(), 0, "abcd");
            },
            1,
        );
        gate.apply(&mut part.transact_mut(), &ups[0], &l).unwrap();
        let a = gate.apply(&mut part.transact_mut(), &dels, &l).unwrap();
        assert_eq!(a.deletes_cut, None);
        assert_eq!(pending_deletes(&part.transact()), 1);
        let t = part.get_or_insert_text("t");
        assert_eq!(t.get_string(&part.transact()), "ac");
        // A cap of 0: the late range is cut, the ones within the clocks still apply.
        let none = Limits {
            max_pending_deletes: 0,
            ..Limits::default()
        };
        let cut = Doc::with_client_id(1);
        let mut gate = Gate::default();
        gate.apply(&mut cut.transact_mut(), &ups[0], &none).unwrap();
        let a = gate.apply(&mut cut.transact_mut(), &dels, &none).unwrap();
        assert_eq!(a.deletes_cut, Some(1));
        assert_eq!(pending_deletes(&cut.transact()), 0);
        let t = cut.get_or_insert_text("t");
        assert_eq!(t.get_string(&cut.transact()), "ac");
    }

    #[test]
    fn server_ids_keep_only_deletions_within_the_clocks_the_document_has() {
        let (ins, dels) = deletes_of_an_unseen_client();
        let at = |u: &[u8]| {
            let mut gate = Gate::default();
            let d = Doc::with_client_id(1);
            let mut txn = d.transact_mut();
            let at = gate.apply(&mut txn, u, &Limits::default()).unwrap();
            at.delete_set_at
        };
        let c42 = ClientID::new(42);
        // Nothing of client 42 known: no deletion can ever confirm a local one.
        let (i, d) = crate::core::split::server_ids(&dels, at(&dels), |_| 0).unwrap();
        assert!(i.is_empty() && d.is_empty());
        // Clocks 0..4 known: the ranges at 1 and 3, not the one at 5.
        let (_, d) = crate::core::split::server_ids(&dels, at(&dels), |_| 4).unwrap();
        assert!(d.contains(&yrs::ID::new(c42, 1)) && d.contains(&yrs::ID::new(c42, 3)));
        assert!(!d.contains(&yrs::ID::new(c42, 5)));
        let (i, d) = crate::core::split::server_ids(&ins, at(&ins), |_| 0).unwrap();
        assert!(i.contains(&yrs::ID::new(c42, 5)) && d.is_empty());
    }
}
