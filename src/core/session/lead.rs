//! One connection per browser: the session's side of the tabs that share one server connection
//! for their document. Which tab leads is decided outside (the driver holds a Web Lock); here
//! is what each role does, over the control channel of `core::leader`:
//! - the leader connects, sends the server what every tab changed (the tabs' changes reach it
//!   on the y-websocket channel, as always), relays every frame the server sends it, passes on
//!   the presence of the tabs, says how its connection is, and tells the tabs which changes
//!   the server confirmed;
//! - a follower never connects: its status and `synced` are the leader's, it applies the
//!   relayed frames as the server's, counts every tab's change as unconfirmed until the leader
//!   says the server holds it, and hands its unconfirmed changes to each new leader, so a
//!   leader that closes or crashes loses nothing;
//! - solo (sharing off, or no Web Locks): as a tab on its own, with its own connection.

use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;

use super::{Conn, Event, Output, Session, Status};
use crate::core::awareness::AwarenessOrigin;
use crate::core::error::SyncError;
use crate::core::frame::Wire;
use crate::core::leader::Control;

/// What this tab does with its document's server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabRole {
    /// Its own connection, whatever the other tabs do.
    Solo,
    /// The connection of every tab of the document.
    Leader,
    /// No connection of its own: through the leading tab.
    Follower,
}

/// The leading tab, as a follower last heard of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LeaderView {
    tab: u64,
    status: Status,
    synced: bool,
}

/// The session's role among the tabs, and what it knows of the leader.
#[derive(Debug)]
pub(super) struct Lead {
    pub role: TabRole,
    /// A follower's view of the leader (none until one speaks).
    leader: Option<LeaderView>,
    /// What a leader last told the tabs of its connection: (status, synced).
    told: Option<(Status, bool)>,
    /// When a leader that has heard from a follower tells the tabs its metrics next.
    stats_at: Option<u64>,
}

/// How often a leader with followers tells them its metrics (ms): a follower's `stats()` is
/// at most this old.
pub(super) const TAB_STATS_MS: u64 = 1_000;

impl Lead {
    pub fn new() -> Self {
        Lead {
            role: TabRole::Solo,
            leader: None,
            told: None,
            stats_at: None,
        }
    }

    /// A follower's status: the leader's connection, or connecting while no tab leads yet.
    pub fn follower_status(&self) -> Status {
        self.leader.map_or(Status::Connecting, |l| l.status)
    }

    /// A follower's `synced`: the leader's.
    pub fn follower_synced(&self) -> bool {
        self.leader.is_some_and(|l| l.synced)
    }
}

impl Session {
    /// This tab's role.
    pub fn role(&self) -> TabRole {
        self.lead.role
    }

    /// Whether this tab is connected through another tab (a follower that knows its leader).
    pub fn through_tab(&self) -> bool {
        self.lead.role == TabRole::Follower && self.lead.leader.is_some()
    }

    /// This tab now has `role`. A leader announces itself (the driver then connects); a
    /// follower asks who leads. A tab that stops leading must have closed its connection
    /// first ([`closed`](Self::closed)).
    pub fn set_role(&mut self, now: u64, role: TabRole) {
        self.tick(now);
        self.pull_local();
        if self.lead.role == role {
            return;
        }
        let (status, synced) = (self.status(), self.synced());
        self.lead.role = role;
        self.lead.leader = None;
        self.lead.told = None;
        self.lead.stats_at = None;
        match role {
            TabRole::Leader => self.announce(),
            TabRole::Follower => {
                let tab = self.cfg.tab;
                self.control(&Control::Hello { tab });
            }
            TabRole::Solo => {}
        }
        if role == TabRole::Leader {
            // It connects next: its status goes on from the follower's "connecting" rather
            // than dropping to "disconnected" in between ([`report_status`] tells the truth
            // if it cannot connect).
            if synced && !self.synced() {
                self.emit(Event::Synced(false));
            }
        } else {
            self.report_view(status, synced);
        }
    }

    /// Tells the app the status if it moved since the last status event (the driver calls it
    /// when it has run what an input made it do).
    pub fn report_status(&mut self) {
        let now = self.status();
        if now != self.told_status {
            self.emit(Event::Status(now));
        }
    }

    /// A message from another tab on the control channel. Malformed ones are reported and
    /// dropped.
    pub fn handle_control(&mut self, now: u64, bytes: &[u8]) {
        self.tick(now);
        self.pull_local();
        if !self.tabs.open || self.lead.role == TabRole::Solo {
            return;
        }
        let m = match Control::decode(bytes, &self.cfg.limits) {
            Ok(m) => m,
            Err(e) => {
                self.emit(Event::Error(SyncError::MalformedFrame(e)));
                return;
            }
        };
        match (self.lead.role, m) {
            (TabRole::Leader, Control::Hello { .. }) => {
                self.lead.told = None;
                self.announce();
                // Its metrics now, then every TAB_STATS_MS.
                self.lead.stats_at = Some(self.now);
                let (insertions, deletions) = self.ack.confirmed_ids().clone();
                self.control(&Control::Confirmed {
                    insertions,
                    deletions,
                });
            }
            (TabRole::Leader, Control::Unconfirmed(u)) => self.take_over_changes(u),
            (
                TabRole::Follower,
                Control::Leader {
                    tab,
                    status,
                    synced,
                },
            ) => {
                let (was_status, was_synced) = (self.status(), self.synced());
                let new_leader = self.lead.leader.is_none_or(|l| l.tab != tab);
                self.lead.leader = Some(LeaderView {
                    tab,
                    status,
                    synced,
                });
                if new_leader {
                    // A leader that just took over may lack changes this tab holds: hand over
                    // every change no confirmation covers.
                    if let Some(u) = self.ack.merged() {
                        self.control(&Control::Unconfirmed(u));
                    }
                }
                if was_status == Status::Connected && status != Status::Connected {
                    self.server_presence_gone();
                }
                self.report_view(was_status, was_synced);
            }
            (
                TabRole::Follower,
                Control::Confirmed {
                    insertions,
                    deletions,
                },
            ) if self.ack.confirm_covered(&insertions, &deletions) > 0 => {
                self.report_unsynced();
            }
            (TabRole::Follower, Control::Server(frame)) => self.relayed_frame(&frame),
            (TabRole::Follower, Control::Stats { sync, backoff_ms }) => {
                self.emit(Event::TabStats { sync, backoff_ms })
            }
            _ => {}
        }
    }

    /// When a leader with followers tells them its metrics next.
    pub(super) fn tab_stats_at(&self) -> Option<u64> {
        self.lead
            .stats_at
            .filter(|_| self.lead.role == TabRole::Leader && self.tabs.open)
    }

    /// Time for the leader's metrics: the driver adds what only it knows.
    pub(super) fn stats_for_tabs(&mut self, now: u64) {
        self.lead.stats_at = Some(now + TAB_STATS_MS);
        self.emit(Event::TabStatsWanted);
    }

    /// A leader answers [`Event::TabStatsWanted`] with its metrics and the delay of its
    /// pending reconnect.
    pub fn send_tab_stats(&mut self, now: u64, backoff_ms: Option<u64>) {
        if self.lead.role == TabRole::Leader && self.tabs.open {
            let sync = self.stats(now);
            self.control(&Control::Stats { sync, backoff_ms });
        }
    }

    pub(super) fn control(&mut self, m: &Control) {
        if self.tabs.open {
            self.out.push_back(Output::Control(m.encode()));
        }
    }

    /// A leader tells the tabs how its connection is, when that changed.
    pub(super) fn announce(&mut self) {
        if self.lead.role != TabRole::Leader {
            return;
        }
        let now = (self.status(), self.synced());
        if self.lead.told == Some(now) {
            return;
        }
        self.lead.told = Some(now);
        let tab = self.cfg.tab;
        self.control(&Control::Leader {
            tab,
            status: now.0,
            synced: now.1,
        });
    }

    /// A leader passes on a frame the server sent it.
    pub(super) fn relay(&mut self, frame: &[u8]) {
        if self.lead.role == TabRole::Leader {
            self.control(&Control::Server(frame.to_vec()));
        }
    }

    /// A leader passes on what the server just confirmed.
    pub(super) fn share_confirmations(&mut self) {
        if let Some((insertions, deletions)) = self.ack.take_newly_confirmed() {
            if self.lead.role == TabRole::Leader {
                self.control(&Control::Confirmed {
                    insertions,
                    deletions,
                });
            }
        }
    }

    /// A follower's status or `synced` moved (its leader's did, or it has a new role): tell
    /// the app as a connection of its own would.
    fn report_view(&mut self, was_status: Status, was_synced: bool) {
        let (status, synced) = (self.status(), self.synced());
        if status != was_status {
            // Only if it differs from the last status event (see `emit`).
            self.emit(Event::Status(status));
        }
        if synced != was_synced {
            self.emit(Event::Synced(synced));
        }
    }

    /// A follower's changes, handed to the leader: applied (another tab's, so sent on) and
    /// counted until confirmed, unless they are already.
    fn take_over_changes(&mut self, u: Vec<u8>) {
        let origin = self.tabs.origin.clone();
        if let Err(e) = self.apply_with_origin(&u, &origin) {
            self.emit(Event::Error(SyncError::MalformedFrame(e)));
            return;
        }
        // What changed the document is in the local queue now, and counted there.
        self.pull_local();
        let known = yrs::Update::decode_v1(&u).is_ok_and(|d| self.ack.known(&d));
        if !known {
            let up = matches!(self.conn, Conn::Up(_));
            let message = up.then(|| Message::Sync(SyncMessage::Update(u.clone())));
            if let Some(seq) = self.ack.push(u, up, self.now) {
                if let Some(m) = message {
                    self.transmit_confirming(&m, vec![seq]);
                }
                self.probe_to_confirm();
            }
            self.report_unsynced();
        }
    }

    /// A follower gets a frame the leader received from the server: its changes apply as the
    /// server's (the server holds them: not counted, and they confirm what they cover), its
    /// presence as the server's. Checked by the dialect first, as the server's frames are.
    fn relayed_frame(&mut self, frame: &[u8]) {
        let decoded = self.dialect.decode(frame, &self.cfg.limits);
        if let Some(e) = decoded.error {
            self.emit(Event::Error(e));
        }
        for w in decoded.messages {
            match w {
                Wire::Y(Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u))) => {
                    match self.apply_remote(&u) {
                        Ok((have, deleted)) => {
                            self.stats.applied().remote += 1;
                            if self.ack.confirm_covered(&have, &deleted) > 0 {
                                self.report_unsynced();
                            }
                        }
                        Err(e) => self.emit(Event::Error(SyncError::MalformedFrame(e))),
                    }
                }
                Wire::Y(Message::Awareness(u)) => self.on_remote_awareness(u),
                // Answers to the leader's own requests, and the leader's business.
                _ => {}
            }
        }
    }

    /// The leader's connection went down: the presence it relayed from the server is gone
    /// with it. The other tabs' is not: they are asked again.
    fn server_presence_gone(&mut self) {
        let change = self.awareness.remove_remote();
        self.emit_awareness(change, AwarenessOrigin::Closed);
        if self.cfg.awareness && self.tabs.open {
            self.broadcast(&Message::AwarenessQuery);
        }
    }
}
