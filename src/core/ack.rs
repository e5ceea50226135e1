//! Which local changes the server has confirmed.
//!
//! Works on any y-websocket server without extensions. A probe is a sync step 1 whose state
//! vector is our own, lowered for every client that has unconfirmed changes to the first
//! unconfirmed clock. The server answers it with a step 2 holding everything it has above that
//! vector plus its whole delete set, so the answer shows, by content, which of our changes it
//! holds: an insertion is confirmed when its id range is in the answer, a deletion when its
//! range is in the answer's delete set. Because the server handles a connection's frames in
//! order, a change sent before the probe and absent from the answer was lost: it is sent again.

use std::collections::VecDeque;

use yrs::updates::decoder::Decode;
use yrs::IdSet;
use yrs::{StateVector, Update};

/// One local change not yet confirmed by the server.
#[derive(Debug)]
struct Entry {
    seq: u64,
    update: Vec<u8>,
    insertions: IdSet,
    deletions: IdSet,
    /// Id of the first probe sent after this change went out on the current connection.
    sent: Option<u64>,
    resent: u32,
    /// When it was made (ms).
    at: u64,
}

/// Unconfirmed local changes, oldest first.
#[derive(Debug, Default)]
pub struct AckTracker {
    entries: VecDeque<Entry>,
    next_seq: u64,
    next_probe: u64,
    bytes: usize,
    /// Everything the server confirmed so far: (insertions, deletions).
    confirmed: (IdSet, IdSet),
    /// What changes confirmed since the last [`take_newly_confirmed`](Self::take_newly_confirmed)
    /// held: (insertions, deletions), for the other tabs.
    fresh: (IdSet, IdSet),
}

/// What an answer to a probe confirmed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// How many changes it confirmed.
    pub confirmed: usize,
    /// Changes sent before the probe that the server does not hold (to send again), with the
    /// number of times each was already sent again.
    pub missing: Vec<(Vec<u8>, u32)>,
}

fn is_subset(a: &IdSet, b: &IdSet) -> bool {
    a.diff(b).iter().all(|(_, r)| r.is_empty())
}

impl AckTracker {
    /// Records a local change (a v1 update produced by the local document), `sent` if it goes
    /// out on the connection now; returns its sequence number. A change with no insertions and
    /// no deletions needs no confirmation. `now` dates it (for the age of the oldest).
    pub fn push(&mut self, update: Vec<u8>, sent: bool, now: u64) -> Option<u64> {
        // The update comes from our own document, not the network.
        let decoded = Update::decode_v1(&update).ok()?;
        let insertions = decoded.insertions(true);
        let deletions = decoded.delete_set().clone();
        if insertions.is_empty() && deletions.is_empty() {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += update.len();
        self.entries.push_back(Entry {
            seq,
            update,
            insertions,
            deletions,
            sent: sent.then_some(self.next_probe),
            resent: 0,
            at: now,
        });
        Some(seq)
    }

    /// When the oldest unconfirmed change was made, if any.
    pub fn oldest_at(&self) -> Option<u64> {
        self.entries.front().map(|e| e.at)
    }

    /// The sequence number the next change will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The sequence number of the oldest unconfirmed change, or [`next_seq`](Self::next_seq).
    pub fn first_seq(&self) -> u64 {
        self.entries.front().map_or(self.next_seq, |e| e.seq)
    }

    /// Every unconfirmed change went out (in a sync step 2).
    pub fn mark_all_sent(&mut self) {
        for e in &mut self.entries {
            e.sent.get_or_insert(self.next_probe);
        }
    }

    /// A new connection: nothing has been sent on it.
    pub fn reset_sent(&mut self) {
        for e in &mut self.entries {
            e.sent = None;
        }
    }

    /// Allocates the id of a probe about to be sent.
    pub fn next_probe(&mut self) -> u64 {
        self.next_probe += 1;
        self.next_probe - 1
    }

    /// Number of unconfirmed changes.
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// Total size of unconfirmed changes, in update bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The state vector to put in a probe: `local`, lowered to the first unconfirmed clock of
    /// every client that has unconfirmed insertions.
    pub fn probe_vector(&self, local: &StateVector) -> StateVector {
        let mut sv = local.clone();
        for e in &self.entries {
            for (client, ranges) in e.insertions.iter() {
                if let Some(start) = ranges.iter().map(|r| r.start).min() {
                    if start < sv.get(client) {
                        sv.set_min(*client, start);
                    }
                }
            }
        }
        sv
    }

    /// Applies the server's answer to probe `probe` (from [`next_probe`](Self::next_probe)):
    /// `have` are the ids of the blocks in its step 2, `deleted` its delete set. Changes it
    /// lacks that were sent before the probe are returned to be sent again.
    pub fn on_answer(&mut self, have: &IdSet, deleted: &IdSet, probe: u64) -> AckOutcome {
        let mut out = AckOutcome::default();
        let mut kept = VecDeque::with_capacity(self.entries.len());
        for mut e in std::mem::take(&mut self.entries) {
            if is_subset(&e.insertions, have) && is_subset(&e.deletions, deleted) {
                out.confirmed += 1;
                self.settle(e);
            } else {
                if e.sent.is_some_and(|p| p <= probe) {
                    out.missing.push((e.update.clone(), e.resent));
                    e.resent += 1;
                    e.sent = Some(self.next_probe);
                }
                kept.push_back(e);
            }
        }
        self.entries = kept;
        out
    }

    /// Records what the server sent: it holds those changes, so they are never ours to
    /// confirm (a state vector from storage read after the first sync must not make the
    /// server's own content look like unconfirmed local changes).
    pub fn server_holds(&mut self, insertions: &IdSet, deletions: &IdSet) {
        self.confirmed.0.merge_with(insertions.clone());
        self.confirmed.1.merge_with(deletions.clone());
    }

    /// True when every insertion and deletion of `update` is already tracked or was confirmed:
    /// recording it again would only send it twice.
    pub fn known(&self, update: &Update) -> bool {
        let (mut ins, mut del) = self.confirmed.clone();
        for e in &self.entries {
            ins.merge_with(e.insertions.clone());
            del.merge_with(e.deletions.clone());
        }
        is_subset(&update.insertions(true), &ins) && is_subset(update.delete_set(), &del)
    }

    /// The sequence numbers of every unconfirmed change, oldest first.
    pub fn seqs(&self) -> Vec<u64> {
        self.entries.iter().map(|e| e.seq).collect()
    }

    /// The server says it applied the changes `seqs` (ascending; a per-update
    /// acknowledgement): they are confirmed. Returns how many of them were still unconfirmed.
    pub fn confirm(&mut self, seqs: &[u64]) -> usize {
        let before = self.entries.len();
        let mut kept = VecDeque::with_capacity(before);
        for e in std::mem::take(&mut self.entries) {
            if seqs.binary_search(&e.seq).is_ok() {
                self.settle(e);
            } else {
                kept.push_back(e);
            }
        }
        self.entries = kept;
        before - self.entries.len()
    }

    /// An entry is confirmed: its content joins what the server holds.
    fn settle(&mut self, e: Entry) {
        self.bytes -= e.update.len();
        self.fresh.0.merge_with(e.insertions.clone());
        self.fresh.1.merge_with(e.deletions.clone());
        self.confirmed.0.merge_with(e.insertions);
        self.confirmed.1.merge_with(e.deletions);
    }

    /// Another tab says the server holds these ids (its confirmations, or content it got from
    /// the server): every change all of whose content the server is now known to hold is
    /// confirmed. Returns how many.
    pub fn confirm_covered(&mut self, insertions: &IdSet, deletions: &IdSet) -> usize {
        self.confirmed.0.merge_with(insertions.clone());
        self.confirmed.1.merge_with(deletions.clone());
        let before = self.entries.len();
        let mut kept = VecDeque::with_capacity(before);
        for e in std::mem::take(&mut self.entries) {
            if is_subset(&e.insertions, &self.confirmed.0)
                && is_subset(&e.deletions, &self.confirmed.1)
            {
                self.bytes -= e.update.len();
            } else {
                kept.push_back(e);
            }
        }
        self.entries = kept;
        before - self.entries.len()
    }

    /// What changes confirmed since the last call held (insertions, deletions), if any.
    pub fn take_newly_confirmed(&mut self) -> Option<(IdSet, IdSet)> {
        let fresh = std::mem::take(&mut self.fresh);
        (!(fresh.0.is_empty() && fresh.1.is_empty())).then_some(fresh)
    }

    /// Everything the server is known to hold: (insertions, deletions).
    pub fn confirmed_ids(&self) -> &(IdSet, IdSet) {
        &self.confirmed
    }

    /// Every unconfirmed change, as one v1 update (none if there are none).
    pub fn merged(&self) -> Option<Vec<u8>> {
        if self.entries.is_empty() {
            return None;
        }
        let updates: Vec<&[u8]> = self.entries.iter().map(|e| e.update.as_slice()).collect();
        crate::core::merge::merge_v1(&updates).ok()
    }

    /// Forgets every entry (the document was reset).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::updates::encoder::Encode;
    use yrs::{Doc, ReadTxn, Text, Transact};

    fn answer(tracker: &mut AckTracker, bytes: &[u8], probe: u64) -> AckOutcome {
        let u = Update::decode_v1(bytes).unwrap();
        tracker.on_answer(&u.insertions(true), u.delete_set(), probe)
    }

    #[test]
    fn confirms_by_content() {
        let doc = Doc::with_client_id(5);
        let t = doc.get_or_insert_text("t");
        let mut tracker = AckTracker::default();
        let sv0 = doc.transact().state_vector();
        t.insert(&mut doc.transact_mut(), 0, "abc");
        let u1 = doc.transact().encode_state_as_update_v1(&sv0);
        tracker.push(u1.clone(), true, 0);
        let probe = tracker.probe_vector(&doc.transact().state_vector());
        assert_eq!(probe.get(&yrs::block::ClientID::new(5)), 0);
        let p = tracker.next_probe();

        // A server without the change answers with an empty update: it is to be sent again.
        let out = answer(&mut tracker, &Update::new().encode_v1(), p);
        assert_eq!(out.confirmed, 0);
        assert_eq!(out.missing.len(), 1);
        assert_eq!(tracker.count(), 1);

        // A server holding it answers with its content.
        let server = Doc::new();
        server
            .transact_mut()
            .apply_update(Update::decode_v1(&u1).unwrap())
            .unwrap();
        let ans = server.transact().encode_state_as_update_v1(&probe);
        let p = tracker.next_probe();
        let out = answer(&mut tracker, &ans, p);
        assert_eq!(out.confirmed, 1);
        assert_eq!(tracker.count(), 0);
        assert_eq!(tracker.bytes(), 0);
    }

    #[test]
    fn unsent_changes_are_not_resent() {
        let doc = Doc::with_client_id(5);
        let t = doc.get_or_insert_text("t");
        let mut tracker = AckTracker::default();
        t.insert(&mut doc.transact_mut(), 0, "abc");
        let u = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        tracker.push(u, false, 0);
        let p = tracker.next_probe();
        let out = answer(&mut tracker, &Update::new().encode_v1(), p);
        assert!(out.missing.is_empty());
        tracker.mark_all_sent();
        let p = tracker.next_probe();
        let out = answer(&mut tracker, &Update::new().encode_v1(), p);
        assert_eq!(out.missing.len(), 1);
    }

    #[test]
    fn deletion_needs_the_servers_delete_set() {
        let doc = Doc::with_client_id(5);
        let t = doc.get_or_insert_text("t");
        t.insert(&mut doc.transact_mut(), 0, "abc");
        let server = Doc::new();
        let full = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        server
            .transact_mut()
            .apply_update(Update::decode_v1(&full).unwrap())
            .unwrap();
        let sv = doc.transact().state_vector();
        t.remove_range(&mut doc.transact_mut(), 0, 1);
        let del = doc.transact().encode_state_as_update_v1(&sv);
        let mut tracker = AckTracker::default();
        tracker.push(del.clone(), true, 0);
        let probe = tracker.probe_vector(&doc.transact().state_vector());
        let ans = server.transact().encode_state_as_update_v1(&probe);
        let p = tracker.next_probe();
        assert_eq!(answer(&mut tracker, &ans, p).confirmed, 0);
        server
            .transact_mut()
            .apply_update(Update::decode_v1(&del).unwrap())
            .unwrap();
        let ans = server.transact().encode_state_as_update_v1(&probe);
        let p = tracker.next_probe();
        assert_eq!(answer(&mut tracker, &ans, p).confirmed, 1);
    }
}
