//! The acknowledgement probing of one open connection: which probes (sync step 1 messages
//! whose state vector is lowered to what the server has confirmed) are in flight, when the
//! server was last heard, and when the next probe is due. The session decides what to send;
//! this keeps the facts and the deadlines they imply.

use std::collections::VecDeque;

/// A probe in flight.
#[derive(Debug)]
pub(super) struct Probe {
    /// When it was sent.
    pub sent_at: u64,
    /// Id from the ack tracker: changes sent before it carry a lower or equal id.
    pub id: u64,
}

/// An open connection, as acknowledgement probing sees it.
#[derive(Debug)]
pub(super) struct Link {
    /// The first answer (sync step 2) arrived.
    pub synced: bool,
    probes: VecDeque<Probe>,
    last_rx: u64,
    /// Local changes were sent after the newest probe.
    probe_wanted: bool,
    /// A change the server never applied was reported (once per connection).
    given_up: bool,
    /// When the last probe was sent (for the ack and resync intervals).
    last_probe: u64,
    /// On a dialect with sync statuses: for every update and step 2 sent and not answered
    /// yet, oldest first, the local changes (ack tracker numbers) its answer confirms.
    pub statuses: VecDeque<Vec<u64>>,
    /// The scope the server granted, on a dialect that says.
    pub scope: Option<String>,
}

impl Link {
    /// A connection that opened at `now`.
    pub fn new(now: u64) -> Self {
        Link {
            synced: false,
            probes: VecDeque::new(),
            last_rx: now,
            probe_wanted: false,
            given_up: false,
            last_probe: now,
            statuses: VecDeque::new(),
            scope: None,
        }
    }

    /// A frame arrived at `now`.
    pub fn received(&mut self, now: u64) {
        self.last_rx = now;
    }

    /// Whether a probe is waiting for its answer.
    pub fn in_flight(&self) -> bool {
        !self.probes.is_empty()
    }

    /// Changes went out that the next probe must ask about.
    pub fn want_probe(&mut self) {
        self.probe_wanted = true;
    }

    /// `probe` was sent.
    pub fn sent(&mut self, probe: Probe) {
        self.last_probe = probe.sent_at;
        self.probes.push_back(probe);
        self.probe_wanted = false;
    }

    /// A sync step 2 arrived: the probe it answers (the oldest; none if the server volunteered
    /// it), and whether it is the connection's first.
    pub fn answered(&mut self) -> (Option<Probe>, bool) {
        let first = !self.synced;
        self.synced = true;
        (self.probes.pop_front(), first)
    }

    /// True the first time on this connection.
    pub fn give_up_once(&mut self) -> bool {
        !std::mem::replace(&mut self.given_up, true)
    }

    /// When the changes sent since the last probe are asked about (at most one probe per
    /// `interval` while edits keep coming).
    pub fn ack_probe_at(&self, interval: u64) -> Option<u64> {
        (self.probe_wanted && !self.in_flight()).then_some(self.last_probe + interval)
    }

    /// When the oldest probe counts as unanswered (silence since it, or since the last frame).
    pub fn probe_timeout_at(&self, timeout: u64) -> Option<u64> {
        self.probes
            .front()
            .map(|p| p.sent_at.max(self.last_rx) + timeout)
    }

    /// When a quiet server is probed.
    pub fn idle_probe_at(&self, idle: u64) -> Option<u64> {
        (!self.in_flight()).then_some(self.last_rx + idle)
    }

    /// When the periodic re-sync probe is due (`interval` 0: never).
    pub fn resync_at(&self, interval: u64) -> Option<u64> {
        (interval > 0 && !self.in_flight()).then_some(self.last_probe + interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn deadlines_follow_what_is_in_flight() {
        let mut l = Link::new(100);
        assert_eq!(l.ack_probe_at(50), None, "nothing sent yet");
        assert_eq!(l.idle_probe_at(1000), Some(1100));
        assert_eq!(l.resync_at(0), None);
        assert_eq!(l.resync_at(500), Some(600));
        l.want_probe();
        assert_eq!(l.ack_probe_at(50), Some(150));
        l.sent(Probe {
            sent_at: 120,
            id: 1,
        });
        assert_eq!(l.ack_probe_at(50), None);
        assert_eq!(l.idle_probe_at(1000), None, "a probe is in flight");
        assert_eq!(l.probe_timeout_at(10), Some(130));
        l.received(200);
        assert_eq!(
            l.probe_timeout_at(10),
            Some(210),
            "silence counts from the last frame"
        );
        let (p, first) = l.answered();
        assert_eq!(p.map(|p| p.id), Some(1));
        assert!(first && l.synced);
        assert!(!l.answered().1, "only the first answer is the first");
        assert!(l.give_up_once());
        assert!(!l.give_up_once());
    }
}
