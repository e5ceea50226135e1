//! The tab peer: the session's side of the BroadcastChannel to the other tabs of this
//! document, spoken as y-websocket does (sync step 1 and the whole state on opening, updates
//! relayed, awareness queries answered). Frames from tabs are untrusted like the server's:
//! checked by the dialect before yrs sees them, and a bad one is reported and dropped.

use yrs::sync::{Message, SyncMessage};
use yrs::{ReadTxn, StateVector, Transact};

use super::{Event, Session};
use crate::core::error::SyncError;
use crate::core::frame::YWebsocket;

/// Whether the channel is open, and the origin of what the other tabs' frames apply.
#[derive(Debug)]
pub(super) struct TabPeer {
    /// The channel is open.
    pub open: bool,
    /// `Origin::Tab` of the session, encoded.
    pub origin: String,
}

impl TabPeer {
    /// A closed channel whose changes will apply with `origin`.
    pub fn new(origin: String) -> Self {
        TabPeer {
            open: false,
            origin,
        }
    }
}

impl Session {
    /// The channel to other tabs opened: announce ourselves as y-websocket does (sync step 1,
    /// our whole state, an awareness query and our awareness state).
    pub fn broadcast_opened(&mut self, now: u64) {
        self.tick(now);
        self.pull_local();
        self.tabs.open = true;
        let (sv, full) = {
            let txn = self.doc.transact();
            (
                txn.state_vector(),
                txn.encode_state_as_update_v1(&StateVector::default()),
            )
        };
        self.broadcast(&Message::Sync(SyncMessage::SyncStep1(sv)));
        self.broadcast(&Message::Sync(SyncMessage::SyncStep2(full)));
        if self.cfg.awareness {
            self.broadcast(&Message::AwarenessQuery);
            let me = self.awareness.client_id();
            if self.awareness.local_state().is_some() {
                let u = self.awareness.update_for(&[me]);
                self.broadcast(&Message::Awareness(u));
            }
        }
    }

    /// The channel to other tabs closed.
    pub fn broadcast_closed(&mut self) {
        self.tabs.open = false;
    }

    /// A frame from another tab. Malformed input is reported and dropped; nothing is closed.
    pub fn handle_broadcast(&mut self, now: u64, frame: &[u8]) {
        self.tick(now);
        self.pull_local();
        if !self.tabs.open {
            return;
        }
        let decoded = YWebsocket.decode_messages(frame, &self.cfg.limits);
        if let Some(e) = decoded.error {
            self.emit(Event::Error(e));
            if decoded.messages.is_empty() {
                return;
            }
        }
        for m in decoded.messages {
            match m {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = self.doc.transact().encode_state_as_update_v1(&sv);
                    self.broadcast(&Message::Sync(SyncMessage::SyncStep2(diff)));
                }
                Message::Sync(SyncMessage::SyncStep2(u))
                | Message::Sync(SyncMessage::Update(u)) => {
                    if let Err(e) = self.apply_with_origin(&u, &self.tabs.origin.clone()) {
                        self.emit(Event::Error(SyncError::MalformedFrame(e)));
                        return;
                    }
                    self.stats.applied().tabs += 1;
                }
                Message::Awareness(u) => {
                    // A leader carries the other tabs' presence to the server.
                    if self.role() == super::TabRole::Leader {
                        self.transmit_if_up(&Message::Awareness(u.clone()));
                    }
                    self.on_remote_awareness(u)
                }
                Message::AwarenessQuery => {
                    if let Some(m) = self.awareness_answer() {
                        self.broadcast(&m);
                    }
                }
                Message::Auth(_) | Message::Custom(..) => {}
            }
        }
    }
}
