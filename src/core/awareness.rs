//! y-protocols awareness timers around yrs's [`Awareness`] (which has the codec, not the timers).
//!
//! With the default timeout of 30 s (y-protocols' `outdatedTimeout`): the local state is renewed
//! every 15 s, a remote state not renewed for 30 s is dropped, and the check runs every 3 s.
//! Time is passed in: yrs's awareness reads it through a shared cell.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use yrs::sync::awareness::{AwarenessUpdate, AwarenessUpdateEntry};
use yrs::sync::Awareness;
use yrs::Doc;

/// y-protocols' `outdatedTimeout`: drop a remote state not renewed for this long (ms).
pub const OUTDATED_MS: u64 = 30_000;

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
}

impl AwarenessChange {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.updated.is_empty()
            && self.removed.is_empty()
            && self.renewed.is_empty()
    }

    /// True when some state appeared, changed or went away (y-protocols' `change` event).
    pub fn changed(&self) -> bool {
        !(self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty())
    }
}

/// Awareness with injected time.
pub struct TimedAwareness {
    inner: Awareness,
    now: Arc<AtomicU64>,
    next_check: u64,
    outdated_ms: u64,
}

impl std::fmt::Debug for TimedAwareness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedAwareness")
            .field("client_id", &self.inner.client_id().get())
            .finish()
    }
}

fn ids(v: &[yrs::block::ClientID]) -> Vec<u64> {
    v.iter().map(|c| c.get()).collect()
}

impl TimedAwareness {
    /// Awareness over `doc`, with time starting at `now` (ms), dropping remote states not
    /// renewed for `outdated_ms` (y-protocols: 30,000).
    pub fn new(doc: Doc, now: u64, outdated_ms: u64) -> Self {
        let outdated_ms = outdated_ms.max(10);
        let cell = Arc::new(AtomicU64::new(now));
        let clock = {
            let cell = cell.clone();
            move || cell.load(Ordering::Relaxed)
        };
        TimedAwareness {
            inner: Awareness::with_clock(doc, clock),
            now: cell,
            next_check: now + outdated_ms / 10,
            outdated_ms,
        }
    }

    /// Sets the current time (ms).
    pub fn set_now(&self, now: u64) {
        self.now.store(now, Ordering::Relaxed);
    }

    /// The wrapped yrs awareness.
    pub fn inner(&self) -> &Awareness {
        &self.inner
    }

    /// This client's id.
    pub fn client_id(&self) -> u64 {
        self.inner.client_id().get()
    }

    /// This client's JSON state, if any.
    pub fn local_state(&self) -> Option<String> {
        self.inner.local_state_raw().map(|s| s.to_string())
    }

    /// JSON state of `client`, if it has one.
    pub fn state(&self, client: u64) -> Option<String> {
        self.inner
            .iter()
            .find(|(c, _)| c.get() == client)
            .and_then(|(_, s)| s.data.as_ref().map(|d| d.to_string()))
    }

    /// Every client with a state, and that state as JSON.
    pub fn states(&self) -> Vec<(u64, String)> {
        let mut v: Vec<(u64, String)> = self
            .inner
            .iter()
            .filter_map(|(c, s)| s.data.as_ref().map(|d| (c.get(), d.to_string())))
            .collect();
        v.sort_unstable_by_key(|(c, _)| *c);
        v
    }

    /// Sets (or with `None` clears) the local state; returns the update to broadcast.
    pub fn set_local(&mut self, json: Option<&str>) -> (AwarenessUpdate, AwarenessChange) {
        let me = self.client_id();
        let had = self.local_state();
        match json {
            Some(j) => self.inner.set_local_state_raw(j),
            None => self.inner.clean_local_state(),
        }
        let mut change = AwarenessChange::default();
        match (had.as_deref(), json) {
            (None, Some(_)) => change.added.push(me),
            (Some(a), Some(b)) if a == b => change.renewed.push(me),
            (Some(_), Some(_)) => change.updated.push(me),
            (Some(_), None) => change.removed.push(me),
            (None, None) => {}
        }
        (self.local_update(), change)
    }

    /// The local entry as an update (state or null), for broadcasting.
    pub fn local_update(&self) -> AwarenessUpdate {
        self.update_for(&[self.client_id()])
    }

    /// Entries of the given known clients (null for those without a state).
    pub fn update_for(&self, clients: &[u64]) -> AwarenessUpdate {
        let mut out = AwarenessUpdate {
            clients: Default::default(),
        };
        for (c, s) in self.inner.iter() {
            if clients.contains(&c.get()) {
                let json = s.data.clone().unwrap_or_else(|| "null".into());
                out.clients.insert(
                    c,
                    AwarenessUpdateEntry {
                        clock: s.clock,
                        json,
                    },
                );
            }
        }
        out
    }

    /// Every client that has a state, as one update (the answer to a query).
    pub fn full_update(&self) -> AwarenessUpdate {
        let ids: Vec<u64> = self.states().into_iter().map(|(c, _)| c).collect();
        self.update_for(&ids)
    }

    /// Applies a validated remote update.
    pub fn apply(&mut self, update: AwarenessUpdate) -> AwarenessChange {
        let before: Vec<(u64, Option<String>)> = update
            .clients
            .keys()
            .map(|c| (c.get(), self.state(c.get())))
            .collect();
        match self.inner.apply_update_summary(update) {
            Ok(Some(s)) => {
                let mut updated = Vec::new();
                let mut renewed = Vec::new();
                for c in ids(&s.updated) {
                    let old = before
                        .iter()
                        .find(|(b, _)| *b == c)
                        .and_then(|(_, s)| s.clone());
                    if old == self.state(c) {
                        renewed.push(c);
                    } else {
                        updated.push(c);
                    }
                }
                AwarenessChange {
                    added: ids(&s.added),
                    updated,
                    removed: ids(&s.removed),
                    renewed,
                }
            }
            _ => AwarenessChange::default(),
        }
    }

    /// Forgets every remote client (the connection closed). Unlike y-websocket, which keeps
    /// their clocks and so ignores their states after a reconnect until they renew (up to 15 s),
    /// the clocks are forgotten too: peers show up again as soon as the server re-sends them.
    pub fn remove_remote(&mut self) -> AwarenessChange {
        let me = self.client_id();
        let removed: Vec<u64> = self
            .states()
            .into_iter()
            .map(|(c, _)| c)
            .filter(|c| *c != me)
            .collect();
        let own = self.update_for(&[me]);
        let clock = {
            let cell = self.now.clone();
            move || cell.load(Ordering::Relaxed)
        };
        let mut fresh = Awareness::with_clock(self.inner.doc().clone(), clock);
        // Keep our own entry with its clock, or peers would ignore our next states.
        let _ = fresh.apply_update(own);
        self.inner = fresh;
        AwarenessChange {
            removed,
            ..AwarenessChange::default()
        }
    }

    /// Marks states as gone without bumping their clock (y-protocols semantics: the owner's next
    /// renewal is accepted at once).
    fn expire(&mut self, clients: &[u64]) -> AwarenessChange {
        let mut upd = self.update_for(clients);
        for e in upd.clients.values_mut() {
            e.json = "null".into();
        }
        self.apply(upd)
    }

    /// When [`on_timeout`](Self::on_timeout) should run next.
    pub fn next_timeout(&self) -> u64 {
        self.next_check
    }

    /// Renews the local state if due (returns the update to broadcast) and expires remote
    /// states not renewed in time.
    pub fn on_timeout(&mut self, now: u64) -> (Option<AwarenessUpdate>, AwarenessChange) {
        self.set_now(now);
        if now < self.next_check {
            return (None, AwarenessChange::default());
        }
        self.next_check = now + self.outdated_ms / 10;
        let me = self.client_id();
        let mut renew = None;
        let mut stale = Vec::new();
        for (c, s) in self.inner.iter() {
            let age = now.saturating_sub(s.last_updated);
            if c.get() == me {
                if s.data.is_some() && age >= self.outdated_ms / 2 {
                    renew = s.data.clone();
                }
            } else if s.data.is_some() && age >= self.outdated_ms {
                stale.push(c.get());
            }
        }
        let renewed = renew.map(|json| {
            self.inner.set_local_state_raw(json);
            self.local_update()
        });
        (renewed, self.expire(&stale))
    }
}
