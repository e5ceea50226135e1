//! Sync metrics: what flows, how far behind the server is, what fails. Counted by the
//! [`Session`](crate::core::session::Session) as it produces and consumes frames, so the same
//! numbers come out natively (simulated harness) and in the browser.

use std::collections::BTreeMap;

use serde::Serialize;
use yrs::sync::{Message, SyncMessage};

use crate::core::frame::Wire;

/// Messages and bytes of one kind in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Messages.
    pub messages: u64,
    /// Bytes of the frames that carried them (WebSocket payload bytes).
    pub bytes: u64,
}

/// Traffic in one direction, in all and per message type (`syncStep1`, `syncStep2`, `update`,
/// `awareness`, `queryAwareness`, `auth`, `custom`, `invalid`, and on Hocuspocus `syncStatus`,
/// `stateless`, `close`). A frame holding several
/// messages counts its bytes under the type of its first message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Direction {
    /// Frames.
    pub frames: u64,
    /// Bytes of all frames.
    pub bytes: u64,
    /// Per message type.
    pub by_type: BTreeMap<&'static str, Traffic>,
}

impl Direction {
    fn count(&mut self, kinds: &[&'static str], bytes: usize) {
        self.frames += 1;
        self.bytes += bytes as u64;
        for (i, k) in kinds.iter().enumerate() {
            let t = self.by_type.entry(k).or_default();
            t.messages += 1;
            if i == 0 {
                t.bytes += bytes as u64;
            }
        }
    }
}

/// Document updates applied, by where they came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Made on this document (and sent).
    pub local: u64,
    /// From the server.
    pub remote: u64,
    /// From other tabs (BroadcastChannel).
    pub tabs: u64,
}

/// Local changes the server has not confirmed yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unacknowledged {
    /// How many.
    pub count: u64,
    /// Their size in update bytes.
    pub bytes: u64,
    /// Age of the oldest (ms): how far the server is behind this client. `None` when there
    /// are none.
    pub oldest_age_ms: Option<u64>,
}

/// A snapshot of a session's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStats {
    /// Frames sent to the server.
    pub sent: Direction,
    /// Frames received from the server.
    pub received: Direction,
    /// Updates applied.
    pub updates_applied: Applied,
    /// Connection attempts.
    pub connects: u64,
    /// Connection attempts after the first.
    pub reconnects: u64,
    /// Why connections ended: WebSocket close codes (`"1006"`...) and the session's own
    /// reasons (`"timeout"`, `"protocol"`, `"permissionDenied"`).
    pub closes: BTreeMap<String, u64>,
    /// Total time connected (ms), including the current connection.
    pub connected_ms: u64,
    /// Unconfirmed local changes.
    pub unacknowledged: Unacknowledged,
    /// Round trip of the last answered acknowledgement probe (ms).
    pub last_probe_rtt_ms: Option<u64>,
    /// Errors by code (`MALFORMED_FRAME`, `FRAME_TOO_LARGE`, `PERMISSION_DENIED`, ...).
    pub errors: BTreeMap<String, u64>,
}

/// The stable name of a message's type.
pub fn kind(m: &Message) -> &'static str {
    match m {
        Message::Sync(SyncMessage::SyncStep1(_)) => "syncStep1",
        Message::Sync(SyncMessage::SyncStep2(_)) => "syncStep2",
        Message::Sync(SyncMessage::Update(_)) => "update",
        Message::Awareness(_) => "awareness",
        Message::AwarenessQuery => "queryAwareness",
        Message::Auth(_) => "auth",
        Message::Custom(..) => "custom",
    }
}

/// The stable name of a wire message's type.
pub fn wire_kind(w: &Wire) -> &'static str {
    match w {
        Wire::Y(m) => kind(m),
        Wire::TokenRequest | Wire::Authenticated(_) | Wire::Denied(_) => "auth",
        Wire::SyncStatus(_) => "syncStatus",
        Wire::Stateless(_) => "stateless",
        Wire::Closed(_) => "close",
    }
}

/// The counters a session keeps (see [`SyncStats`] for their meaning).
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    stats: SyncStats,
    up_since: Option<u64>,
}

impl Recorder {
    /// A frame went out carrying `m`.
    pub fn sent(&mut self, m: &Message, bytes: usize) {
        self.sent_kind(kind(m), bytes);
    }

    /// A frame went out carrying a message of type `kind` (see [`wire_kind`]).
    pub fn sent_kind(&mut self, kind: &'static str, bytes: usize) {
        self.stats.sent.count(&[kind], bytes);
    }

    /// A frame came in carrying `messages` (empty when it could not be decoded at all).
    pub fn received(&mut self, messages: &[Wire], bytes: usize) {
        let kinds: Vec<_> = messages.iter().map(wire_kind).collect();
        let kinds = if kinds.is_empty() {
            vec!["invalid"]
        } else {
            kinds
        };
        self.stats.received.count(&kinds, bytes);
    }

    /// Updates applied, by origin.
    pub fn applied(&mut self) -> &mut Applied {
        &mut self.stats.updates_applied
    }

    /// A connection attempt started.
    pub fn connecting(&mut self) {
        self.stats.connects += 1;
        self.stats.reconnects = self.stats.connects - 1;
    }

    /// The connection is up from `now`.
    pub fn up(&mut self, now: u64) {
        self.up_since = Some(now);
    }

    /// The connection is no longer up at `now`.
    pub fn down(&mut self, now: u64) {
        if let Some(since) = self.up_since.take() {
            self.stats.connected_ms += now.saturating_sub(since);
        }
    }

    /// A connection ended for `reason` (a close code or the session's own reason).
    pub fn closed(&mut self, reason: impl Into<String>) {
        *self.stats.closes.entry(reason.into()).or_default() += 1;
    }

    /// An error with this code happened.
    pub fn error(&mut self, code: &str) {
        *self.stats.errors.entry(code.to_string()).or_default() += 1;
    }

    /// A probe sent at `sent_at` was answered at `now`.
    pub fn probe_answered(&mut self, sent_at: u64, now: u64) {
        self.stats.last_probe_rtt_ms = Some(now.saturating_sub(sent_at));
    }

    /// The snapshot at `now`, with the unconfirmed changes as the ack tracker sees them.
    pub fn snapshot(&self, now: u64, unacknowledged: Unacknowledged) -> SyncStats {
        let mut s = self.stats.clone();
        if let Some(since) = self.up_since {
            s.connected_ms += now.saturating_sub(since);
        }
        s.unacknowledged = unacknowledged;
        s
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn counts_frames_messages_and_time_up() {
        let mut r = Recorder::default();
        r.connecting();
        r.up(100);
        r.sent(&Message::AwarenessQuery, 1);
        r.sent(&Message::Sync(SyncMessage::Update(vec![0; 10])), 14);
        r.received(
            &[
                Wire::Y(Message::Sync(SyncMessage::SyncStep2(vec![]))),
                Wire::Y(Message::AwarenessQuery),
            ],
            9,
        );
        r.received(&[], 3);
        r.down(350);
        r.closed("1006");
        r.connecting();
        r.up(400);
        let s = r.snapshot(450, Unacknowledged::default());
        assert_eq!((s.sent.frames, s.sent.bytes), (2, 15));
        assert_eq!(
            s.sent.by_type["update"],
            Traffic {
                messages: 1,
                bytes: 14
            }
        );
        assert_eq!((s.received.frames, s.received.bytes), (2, 12));
        assert_eq!(
            s.received.by_type["syncStep2"],
            Traffic {
                messages: 1,
                bytes: 9
            }
        );
        assert_eq!(
            s.received.by_type["queryAwareness"],
            Traffic {
                messages: 1,
                bytes: 0
            }
        );
        assert_eq!(
            s.received.by_type["invalid"],
            Traffic {
                messages: 1,
                bytes: 3
            }
        );
        assert_eq!((s.connects, s.reconnects), (2, 1));
        assert_eq!(s.closes["1006"], 1);
        assert_eq!(s.connected_ms, 250 + 50);
    }
}
