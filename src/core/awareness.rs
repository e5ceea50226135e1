//! y-protocols awareness (presence) as a state machine with injected time: the states of every
//! client by id, the clock rules for applying remote entries, renewal of the local state and
//! expiry of remote ones.
//!
//! With the default timeout of 30 s (y-protocols' `outdatedTimeout`): the local state is renewed
//! every 15 s, a remote state not renewed for 30 s is dropped, and the check runs every 3 s.
//!
//! The states live in a map keyed by client, so applying a message costs time linear in the
//! message, not in the number of states known (a message of 20,000 entries from one hostile
//! peer must not freeze every tab in the room). yrs has a codec for awareness messages, which
//! is used, but its `Awareness` reads a wall clock, offers a state only as parsed JSON or by
//! copying it into a new update, and has no bound on how many clients it keeps.

use std::collections::HashMap;
use std::sync::Arc;

use yrs::block::ClientID;
use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};

use crate::core::order::sorted_by_u64;

/// y-protocols' `outdatedTimeout`: drop a remote state not renewed for this long (ms).
pub const OUTDATED_MS: u64 = 30_000;

/// Default cap on the remote clients known at once (with a state or a remembered clock).
pub const MAX_CLIENTS: usize = 50_000;

/// Why presence changed: the origins y-protocols' events carry (`'local'`, `'timeout'`, and
/// the provider for what came from, or left with, the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwarenessOrigin {
    /// This client set or renewed its own state.
    Local,
    /// An update from the server or another tab.
    Remote,
    /// Remote states expired (not renewed in time).
    Timeout,
    /// The connection closed: the states it brought are gone.
    Closed,
}

/// Client ids whose awareness state changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwarenessChange {
    /// Clients whose state was renewed with the same content (y-protocols' `update` event
    /// reports them, its `change` event does not).
    pub renewed: Vec<u64>,
    /// Clients that appeared.
    pub added: Vec<u64>,
    /// Clients whose state changed.
    pub updated: Vec<u64>,
    /// Clients that left or expired.
    pub removed: Vec<u64>,
    /// Entries of new clients refused because [`Awareness::max_clients`] were known already.
    pub refused: usize,
}

impl AwarenessChange {
    /// True when nothing changed and nothing was refused.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.updated.is_empty()
            && self.removed.is_empty()
            && self.renewed.is_empty()
            && self.refused == 0
    }

    /// True when some state appeared, changed or went away (y-protocols' `change` event).
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty())
    }

    /// True when some state appeared, changed, was renewed or went away (y-protocols' `update`
    /// event).
    pub fn touched(&self) -> bool {
        self.changed() || !self.renewed.is_empty()
    }
}

/// What is known of one client: y-protocols' `meta` (clock, last update) and its state.
#[derive(Debug, Clone)]
struct Entry {
    clock: u32,
    last_updated: u64,
    /// JSON text; `None` once the client left (its clock is still remembered).
    state: Option<Arc<str>>,
}

/// The awareness states of one document's clients, with time passed in.
#[derive(Debug)]
pub struct Awareness {
    me: u64,
    clients: HashMap<u64, Entry>,
    now: u64,
    next_check: u64,
    outdated_ms: u64,
    max_clients: usize,
    /// Bumped by every call that may change a state or a clock, so that a reader can keep
    /// what it built from them until it moves (`getStates()` is called on every editor
    /// redraw).
    version: u64,
}

fn entry(clock: u32, state: &Option<Arc<str>>) -> AwarenessUpdateEntry {
    AwarenessUpdateEntry {
        clock,
        json: state.clone().unwrap_or_else(|| "null".into()),
    }
}

impl Awareness {
    /// Awareness for client `me`, with time starting at `now` (ms), dropping remote states not
    /// renewed for `outdated_ms` (y-protocols: 30,000) and knowing at most `max_clients` remote
    /// clients at once.
    pub fn new(me: u64, now: u64, outdated_ms: u64, max_clients: usize) -> Self {
        let outdated_ms = outdated_ms.max(10);
        // As y-protocols' constructor: the local state starts as `{}` at clock 0, so that
        // `setLocalStateField` works from the start. Peers ignore a first sight at clock 0, so
        // it is not a presence until the app sets a state (clock 1) or it is renewed.
        let mut clients = HashMap::new();
        clients.insert(
            me,
            Entry {
                clock: 0,
                last_updated: now,
                state: Some(Arc::from("{}")),
            },
        );
        Awareness {
            me,
            clients,
            now,
            next_check: now + outdated_ms / 10,
            outdated_ms,
            max_clients,
            version: 0,
        }
    }

    /// See the `version` field: unchanged means no state and no clock has changed.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// y-protocols' `meta`: every known client's clock and when it was last updated (ms, on
    /// the clock `now` is given in), by client id.
    pub fn meta(&self) -> Vec<(u64, u32, u64)> {
        let v: Vec<(u64, u32, u64)> = self
            .clients
            .iter()
            .map(|(c, e)| (*c, e.clock, e.last_updated))
            .collect();
        sorted_by_u64(&v, |(c, ..)| *c)
    }

    /// Sets the current time (ms).
    pub fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    /// This client's id.
    pub fn client_id(&self) -> u64 {
        self.me
    }

    /// The cap on remote clients known at once.
    pub fn max_clients(&self) -> usize {
        self.max_clients
    }

    /// This client's JSON state, if any.
    pub fn local_state(&self) -> Option<String> {
        self.state(self.me)
    }

    /// JSON state of `client`, if it has one.
    pub fn state(&self, client: u64) -> Option<String> {
        self.clients
            .get(&client)
            .and_then(|e| e.state.as_deref().map(str::to_string))
    }

    /// Every client with a state, and that state as JSON, by client id.
    pub fn states(&self) -> Vec<(u64, String)> {
        let v: Vec<(u64, &str)> = self
            .clients
            .iter()
            .filter_map(|(c, e)| e.state.as_deref().map(|s| (*c, s)))
            .collect();
        sorted_by_u64(&v, |(c, _)| *c)
            .into_iter()
            .map(|(c, s)| (c, s.to_string()))
            .collect()
    }

    /// Sets (or with `None` clears) the local state; returns the update to broadcast.
    pub fn set_local(&mut self, json: Option<&str>) -> (AwarenessUpdate, AwarenessChange) {
        let me = self.me;
        let now = self.now;
        self.version += 1;
        let new: Option<Arc<str>> = json.map(Arc::from);
        let mut change = AwarenessChange::default();
        // Every state (null included) has the next clock: the first one set is clock 1.
        let e = self.clients.entry(me);
        let had = match e {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let o = o.get_mut();
                o.clock = o.clock.wrapping_add(1);
                o.last_updated = now;
                std::mem::replace(&mut o.state, new.clone())
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    clock: 1,
                    last_updated: now,
                    state: new.clone(),
                });
                None
            }
        };
        match (had, &new) {
            (None, Some(_)) => change.added.push(me),
            (Some(a), Some(b)) if a == *b => change.renewed.push(me),
            (Some(_), Some(_)) => change.updated.push(me),
            (Some(_), None) => change.removed.push(me),
            (None, None) => {}
        }
        (self.local_update(), change)
    }

    /// The local entry as an update (state or null), for broadcasting.
    pub fn local_update(&self) -> AwarenessUpdate {
        self.update_for(&[self.me])
    }

    /// Entries of the given known clients (null for those without a state); unknown clients
    /// are left out.
    pub fn update_for(&self, clients: &[u64]) -> AwarenessUpdate {
        let clients = clients
            .iter()
            .filter_map(|c| {
                let e = self.clients.get(c)?;
                Some((ClientID::new(*c), entry(e.clock, &e.state)))
            })
            .collect();
        AwarenessUpdate { clients }
    }

    /// Every client that has a state, as one update (the answer to a query).
    pub fn full_update(&self) -> AwarenessUpdate {
        let clients = self
            .clients
            .iter()
            .filter(|(_, e)| e.state.is_some())
            .map(|(c, e)| (ClientID::new(*c), entry(e.clock, &e.state)))
            .collect();
        AwarenessUpdate { clients }
    }

    /// Applies a validated remote update, entry by entry as y-protocols'
    /// `applyAwarenessUpdate`: an entry counts if its clock is higher than the known one, or
    /// equal with a null state for a client that has one. A remote null for our own state is
    /// not applied (our next renewal outbids it). Entries of new clients past the cap are
    /// refused and counted in [`AwarenessChange::refused`].
    pub fn apply(&mut self, update: AwarenessUpdate) -> AwarenessChange {
        let now = self.now;
        self.version += 1;
        let mut change = AwarenessChange::default();
        for (client, e) in update.clients {
            let client = client.get();
            let new: Option<Arc<str>> = (e.json.as_ref() != "null").then_some(e.json);
            match self.clients.get_mut(&client) {
                Some(known) => {
                    let leaves = known.clock == e.clock && new.is_none() && known.state.is_some();
                    if known.clock >= e.clock && !leaves {
                        continue;
                    }
                    known.last_updated = now;
                    if new.is_none() && client == self.me && known.state.is_some() {
                        // Somebody says we left: outbid them with our next clock.
                        known.clock = e.clock.wrapping_add(1);
                        continue;
                    }
                    known.clock = e.clock;
                    let old = std::mem::replace(&mut known.state, new);
                    // As y-protocols: for a client already known (by its clock), a null
                    // state is a removal and any other state an update, even when it had
                    // left (only a client never seen is added).
                    match (old, &known.state) {
                        (_, None) => change.removed.push(client),
                        (Some(a), Some(b)) if a == *b => change.renewed.push(client),
                        (_, Some(_)) => change.updated.push(client),
                    }
                }
                None => {
                    if e.clock == 0 {
                        // y-protocols ignores a first sight at clock 0: the `{}` every client
                        // starts with, sent on connect, is not a presence yet.
                        continue;
                    }
                    // Remote clients only: our own entry is always there.
                    if self.clients.len() > self.max_clients && !self.forget_one_gone() {
                        change.refused += 1;
                        continue;
                    }
                    if new.is_some() {
                        change.added.push(client);
                    }
                    self.clients.insert(
                        client,
                        Entry {
                            clock: e.clock,
                            last_updated: now,
                            state: new,
                        },
                    );
                }
            }
        }
        change
    }

    /// Makes room under the cap by forgetting the clock of one client that has left; false
    /// when every known client has a state. Only a client's own stale message could then be
    /// applied again, and it would be expired like any other state.
    fn forget_one_gone(&mut self) -> bool {
        let me = self.me;
        let gone = self
            .clients
            .iter()
            .find(|(c, e)| e.state.is_none() && **c != me)
            .map(|(c, _)| *c);
        gone.is_some_and(|c| self.clients.remove(&c).is_some())
    }

    /// Forgets every remote client (the connection closed). Unlike y-websocket, which keeps
    /// their clocks and so ignores their states after a reconnect until they renew (up to 15 s),
    /// the clocks are forgotten too: peers show up again as soon as the server re-sends them.
    pub fn remove_remote(&mut self) -> AwarenessChange {
        let me = self.me;
        self.version += 1;
        let removed: Vec<u64> = self
            .clients
            .iter()
            .filter(|(c, e)| **c != me && e.state.is_some())
            .map(|(c, _)| *c)
            .collect();
        let removed = sorted_by_u64(&removed, |c| *c);
        // Our own entry stays with its clock, or peers would ignore our next states.
        self.clients.retain(|c, _| *c == me);
        AwarenessChange {
            removed,
            ..AwarenessChange::default()
        }
    }

    /// When [`on_timeout`](Self::on_timeout) should run next.
    pub fn next_timeout(&self) -> u64 {
        self.next_check
    }

    /// Renews the local state if due (returns the update to broadcast, with its change) and
    /// expires remote states not renewed in time. An expired state keeps its clock
    /// (y-protocols: the owner's next renewal is accepted at once).
    pub fn on_timeout(
        &mut self,
        now: u64,
    ) -> (Option<(AwarenessUpdate, AwarenessChange)>, AwarenessChange) {
        self.set_now(now);
        if now < self.next_check {
            return (None, AwarenessChange::default());
        }
        self.next_check = now + self.outdated_ms / 10;
        self.version += 1;
        let (me, outdated) = (self.me, self.outdated_ms);
        let mut change = AwarenessChange::default();
        let mut renew = false;
        for (c, e) in self.clients.iter_mut() {
            let age = now.saturating_sub(e.last_updated);
            if *c == me {
                renew = e.state.is_some() && age >= outdated / 2;
            } else if e.state.is_some() && age >= outdated {
                e.state = None;
                e.last_updated = now;
                change.removed.push(*c);
            }
        }
        change.removed = sorted_by_u64(&change.removed, |c| *c);
        let renewed = renew.then(|| {
            let json = self.local_state();
            self.set_local(json.as_deref())
        });
        (renewed, change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn upd(entries: &[(u64, u32, &str)]) -> AwarenessUpdate {
        AwarenessUpdate {
            clients: entries
                .iter()
                .map(|(c, clock, json)| {
                    (
                        ClientID::new(*c),
                        AwarenessUpdateEntry {
                            clock: *clock,
                            json: (*json).into(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn clock_rules_are_y_protocols() {
        let mut a = Awareness::new(1, 0, OUTDATED_MS, MAX_CLIENTS);
        assert_eq!(a.apply(upd(&[(2, 1, "{\"n\":1}")])).added, vec![2]);
        // An older or equal clock with a state is ignored.
        assert!(a.apply(upd(&[(2, 1, "{\"n\":2}")])).is_empty());
        assert!(a.apply(upd(&[(2, 0, "{\"n\":2}")])).is_empty());
        // Same content, higher clock: renewed, not changed.
        let c = a.apply(upd(&[(2, 2, "{\"n\":1}")]));
        assert_eq!((c.changed(), c.renewed), (false, vec![2]));
        assert_eq!(a.apply(upd(&[(2, 3, "{\"n\":3}")])).updated, vec![2]);
        // Equal clock with null: the client left.
        assert_eq!(a.apply(upd(&[(2, 3, "null")])).removed, vec![2]);
        assert_eq!(a.state(2), None);
        // A first sight at clock 0 is not remembered, gone or not (the `{}` a client starts
        // with is not a presence yet).
        assert!(a.apply(upd(&[(7, 0, "null")])).is_empty());
        assert!(a.apply(upd(&[(8, 0, "{}")])).is_empty());
        assert_eq!(a.clients.len(), 2, "ours and client 2");
    }

    #[test]
    fn a_remote_null_for_our_state_is_outbid() {
        let mut a = Awareness::new(1, 0, OUTDATED_MS, MAX_CLIENTS);
        a.set_local(Some("{}"));
        a.set_local(Some("{\"x\":1}"));
        let clock = a.clients[&1].clock;
        assert!(a.apply(upd(&[(1, clock, "null")])).is_empty());
        assert_eq!(a.local_state().as_deref(), Some("{\"x\":1}"));
        assert_eq!(a.clients[&1].clock, clock + 1);
    }

    #[test]
    fn local_state_starts_as_an_empty_object_at_clock_zero_like_y_protocols() {
        let mut a = Awareness::new(1, 0, OUTDATED_MS, MAX_CLIENTS);
        assert_eq!(a.local_state().as_deref(), Some("{}"));
        assert_eq!(a.local_update().clients[&ClientID::new(1)].clock, 0);
        assert_eq!(a.states(), vec![(1, "{}".to_string())]);
        let (u, c) = a.set_local(Some("{\"user\":1}"));
        assert_eq!(c.updated, vec![1]);
        assert_eq!(u.clients[&ClientID::new(1)].clock, 1);
        let (u, c) = a.set_local(None);
        assert_eq!(c.removed, vec![1]);
        assert_eq!(u.clients[&ClientID::new(1)].clock, 2);
        assert_eq!(&*u.clients[&ClientID::new(1)].json, "null");
        let (_, c) = a.set_local(Some("{}"));
        assert_eq!(c.added, vec![1]);
    }

    #[test]
    fn renewal_and_expiry_follow_the_timeout() {
        let mut a = Awareness::new(1, 0, 30_000, MAX_CLIENTS);
        a.set_local(Some("{}"));
        a.apply(upd(&[(2, 1, "{}")]));
        let (renew, gone) = a.on_timeout(15_000);
        assert!(gone.is_empty());
        // A renewal is an update of the same state (y-protocols' `update`, not `change`).
        let (_, renewed) = renew.expect("renewed at half the timeout");
        assert_eq!(renewed.renewed, vec![1]);
        assert!(!renewed.changed());
        let (_, gone) = a.on_timeout(30_000);
        assert_eq!(gone.removed, vec![2]);
        // The expired client's next renewal is accepted at once: its clock was kept (and, as
        // in y-protocols, a known client coming back is an update).
        assert_eq!(a.apply(upd(&[(2, 2, "{}")])).updated, vec![2]);
    }

    #[test]
    fn new_clients_past_the_cap_are_refused_and_gone_ones_make_room() {
        let mut a = Awareness::new(1, 0, OUTDATED_MS, 3);
        let c = a.apply(upd(&[
            (2, 1, "{}"),
            (3, 1, "{}"),
            (4, 1, "{}"),
            (5, 1, "{}"),
        ]));
        assert_eq!((c.added.len(), c.refused), (3, 1));
        // Known clients still update past the cap.
        let first = c.added[0];
        assert_eq!(
            a.apply(upd(&[(first, 2, "{\"a\":1}")])).updated,
            vec![first]
        );
        // Once one leaves, a newcomer takes its place.
        a.apply(upd(&[(first, 2, "null")]));
        let c = a.apply(upd(&[(9, 1, "{}")]));
        assert_eq!((c.added, c.refused), (vec![9], 0));
    }

    #[test]
    fn twenty_thousand_entries_apply_renew_answer_and_expire() {
        // The size of the attack in the hostile-input issue; its cost is measured in the
        // browser (e2e/hostile.test.mjs), not here.
        let n = 20_000u64;
        let mut a = Awareness::new(1, 0, OUTDATED_MS, MAX_CLIENTS);
        let entries = |clock: u32| AwarenessUpdate {
            clients: (2..n + 2)
                .map(|c| {
                    (
                        ClientID::new(c),
                        AwarenessUpdateEntry {
                            clock,
                            json: "{}".into(),
                        },
                    )
                })
                .collect(),
        };
        assert_eq!(a.apply(entries(1)).added.len(), n as usize);
        assert_eq!(a.apply(entries(2)).renewed.len(), n as usize);
        assert_eq!(a.full_update().clients.len(), n as usize + 1, "and ours");
        let (_, gone) = a.on_timeout(OUTDATED_MS);
        assert_eq!(gone.removed.len(), n as usize);
        assert_eq!(a.states().len(), 1, "ours");
    }

    #[test]
    fn version_moves_with_every_change_and_meta_has_clocks() {
        let mut a = Awareness::new(1, 5, OUTDATED_MS, MAX_CLIENTS);
        assert_eq!(a.meta(), vec![(1, 0, 5)]);
        let v = a.version();
        a.apply(upd(&[(2, 3, "{}")]));
        assert!(a.version() > v);
        assert_eq!(a.meta(), vec![(1, 0, 5), (2, 3, 5)]);
        let v = a.version();
        a.set_local(Some("{\"n\":1}"));
        assert!(a.version() > v);
        let v = a.version();
        a.remove_remote();
        assert!(a.version() > v);
        let v = a.version();
        a.on_timeout(OUTDATED_MS);
        assert!(a.version() > v);
        let v = a.version();
        let _ = (a.states(), a.meta(), a.local_state());
        assert_eq!(a.version(), v, "reading moves nothing");
    }
}
