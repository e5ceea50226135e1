//! Framing: one WebSocket message <-> y-protocols messages.
//!
//! The session speaks in [`Wire`] messages (y-protocols' [`Message`]s plus what some servers
//! add: token authentication, per-update acknowledgements, application messages); a
//! [`Dialect`] turns untrusted frames into validated messages and messages into frames:
//! [`YWebsocket`] here, [`Hocuspocus`](crate::core::hocuspocus::Hocuspocus) in its own file.

use yrs::encoding::write::Write;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::{Encode, Encoder, EncoderV1};
use yrs::StateVector;

use crate::core::error::{DecodeError, SyncError};
use crate::core::validate::{self, Limits, Reader};

/// y-protocols top-level message types.
pub const MSG_SYNC: u64 = 0;
/// Awareness message type.
pub const MSG_AWARENESS: u64 = 1;
/// Auth message type.
pub const MSG_AUTH: u64 = 2;
/// Query-awareness message type.
pub const MSG_QUERY_AWARENESS: u64 = 3;

/// One message between this client and a server, in any dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// A y-protocols message (sync, awareness, awareness query).
    Y(Message),
    /// The server asks for the token again (Hocuspocus `auth 0`).
    TokenRequest,
    /// The server let this connection in with this scope (`read-write` or `readonly`).
    Authenticated(String),
    /// The server refused access, with its reason.
    Denied(String),
    /// The server applied (`true`) or refused (`false`, a read-only connection) the oldest
    /// update or sync step 2 it had not answered yet.
    SyncStatus(bool),
    /// An application message (Hocuspocus "stateless").
    Stateless(String),
    /// The server ended this document's session on the socket, with its reason.
    Closed(String),
}

impl From<Message> for Wire {
    fn from(m: Message) -> Self {
        match m {
            Message::Auth(Some(reason)) => Wire::Denied(reason),
            m => Wire::Y(m),
        }
    }
}

/// What a frame held.
#[derive(Debug)]
pub struct Decoded<M = Wire> {
    /// Messages in frame order, each validated before yrs decoded it.
    pub messages: Vec<M>,
    /// Set when part of the frame could not be used. Malformed input rejects the whole frame
    /// (`messages` is empty); an unknown message type keeps the messages before it.
    pub error: Option<SyncError>,
}

impl<M> Default for Decoded<M> {
    fn default() -> Self {
        Decoded {
            messages: Vec::new(),
            error: None,
        }
    }
}

impl<M> Decoded<M> {
    /// The result for a frame over [`Limits::max_frame`], before any of it is read; `None`
    /// when it is within the limit. Every dialect checks this first.
    pub fn oversized(frame: &[u8], limits: &Limits) -> Option<Self> {
        (frame.len() > limits.max_frame).then(|| Decoded {
            messages: Vec::new(),
            error: Some(SyncError::FrameTooLarge {
                size: frame.len(),
                max: limits.max_frame,
            }),
        })
    }
}

/// A wire dialect.
pub trait Dialect {
    /// Decodes an untrusted frame.
    fn decode(&self, frame: &[u8], limits: &Limits) -> Decoded;
    /// Encodes one y-protocols message as one frame.
    fn encode(&self, message: &Message) -> Vec<u8>;
    /// The frame that must open every connection (the token, where the server wants one;
    /// `None` sends the dialect's empty token).
    fn hello(&self, _token: Option<&str>) -> Option<Vec<u8>> {
        None
    }
    /// True when the server answers every update and sync step 2 it receives, in order, with
    /// [`Wire::SyncStatus`]: a per-update acknowledgement that needs no probe.
    fn acknowledges_updates(&self) -> bool {
        false
    }
    /// An application message, where the dialect has them.
    fn stateless(&self, _payload: &str) -> Option<Vec<u8>> {
        None
    }
}

/// The y-websocket dialect: a frame is y-protocols messages back to back.
///
/// The reference server reads only the first message of each frame, so `encode` always
/// produces one message per frame; `decode` accepts several.
#[derive(Debug, Default, Clone, Copy)]
pub struct YWebsocket;

impl Dialect for YWebsocket {
    fn decode(&self, frame: &[u8], limits: &Limits) -> Decoded {
        let d = self.decode_messages(frame, limits);
        Decoded {
            messages: d.messages.into_iter().map(Wire::from).collect(),
            error: d.error,
        }
    }

    fn encode(&self, message: &Message) -> Vec<u8> {
        encode_message(message)
    }
}

impl YWebsocket {
    /// Decodes an untrusted frame of y-protocols messages (the other tabs' frames too).
    pub fn decode_messages(&self, frame: &[u8], limits: &Limits) -> Decoded<Message> {
        if let Some(out) = Decoded::oversized(frame, limits) {
            return out;
        }
        let mut out = Decoded::default();
        let mut r = Reader::new(frame);
        while !r.is_empty() {
            let start = frame.len() - r.remaining();
            match check_message(&mut r, limits) {
                Ok(true) => {
                    let end = frame.len() - r.remaining();
                    match Message::decode_v1(&frame[start..end]) {
                        Ok(m) => out.messages.push(m),
                        Err(e) => {
                            out.messages.clear();
                            out.error = Some(DecodeError::Yrs(e.to_string()).into());
                            return out;
                        }
                    }
                }
                Ok(false) => {
                    // Unknown type: its length is unknowable, so the rest of the frame is skipped.
                    let mut t = Reader::new(&frame[start..]);
                    let tag = t.var_u64().unwrap_or(u64::MAX);
                    out.error = Some(SyncError::UnknownMessageType(tag));
                    return out;
                }
                Err(e) => {
                    out.messages.clear();
                    out.error = Some(e.into());
                    return out;
                }
            }
        }
        out
    }
}

/// Encodes one y-protocols message as Yjs does.
pub fn encode_message(message: &Message) -> Vec<u8> {
    match message {
        // yrs writes state vector entries in hash order; Yjs sorts them by client id,
        // descending. Frames must be byte-identical to Yjs's, so this one is written here.
        Message::Sync(SyncMessage::SyncStep1(sv)) => {
            let mut enc = EncoderV1::new();
            enc.write_var(MSG_SYNC);
            enc.write_var(0u8);
            enc.write_buf(encode_state_vector(sv));
            enc.to_vec()
        }
        other => other.encode_v1(),
    }
}

/// Encodes a state vector as Yjs does: entries sorted by client id, descending.
pub fn encode_state_vector(sv: &StateVector) -> Vec<u8> {
    let entries: Vec<(u64, u32)> = sv.iter().map(|(c, k)| (c.get(), *k)).collect();
    let entries = crate::core::order::sorted_by(&entries, |a, b| b.0.cmp(&a.0));
    let mut enc = EncoderV1::new();
    enc.write_var(entries.len());
    for (client, clock) in entries {
        enc.write_var(client);
        enc.write_var(clock);
    }
    enc.to_vec()
}

/// Validates one message; `Ok(false)` for an unknown top-level type (nothing consumed past it).
fn check_message(r: &mut Reader, limits: &Limits) -> Result<bool, DecodeError> {
    let before = r.clone();
    match r.var_u64()? {
        MSG_SYNC => {
            match r.var_u64()? {
                0 => validate::state_vector(r.var_bytes()?)?,
                1 | 2 => validate::update_v1(r.var_bytes()?, limits)?,
                other => return Err(DecodeError::UnknownSyncType(other)),
            }
            Ok(true)
        }
        MSG_AWARENESS => {
            validate::awareness(r.var_bytes()?, limits)?;
            Ok(true)
        }
        MSG_AUTH => {
            match r.var_u64()? {
                0 => {
                    r.var_str()?;
                }
                1 => {}
                other => return Err(DecodeError::UnknownAuthType(other)),
            }
            Ok(true)
        }
        MSG_QUERY_AWARENESS => Ok(true),
        _ => {
            *r = before;
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn empty_step1_matches_protocol_doc() {
        let f = YWebsocket.encode(&Message::Sync(SyncMessage::SyncStep1(
            StateVector::default(),
        )));
        assert_eq!(f, [0, 0, 1, 0]);
    }

    #[test]
    fn several_messages_in_one_frame() {
        let mut frame = YWebsocket.encode(&Message::Sync(SyncMessage::SyncStep1(
            StateVector::default(),
        )));
        frame.extend([3]);
        frame.extend([2, 0, 2, b'n', b'o']);
        let d = YWebsocket.decode(&frame, &Limits::default());
        assert!(d.error.is_none(), "{:?}", d.error);
        assert_eq!(d.messages.len(), 3);
        assert_eq!(d.messages[1], Wire::Y(Message::AwarenessQuery));
        assert_eq!(d.messages[2], Wire::Denied("no".into()));
    }

    #[test]
    fn truncated_message_rejects_whole_frame() {
        let frame = [3, 0, 1, 5, 1];
        let d = YWebsocket.decode(&frame, &Limits::default());
        assert!(d.messages.is_empty());
        assert!(matches!(d.error, Some(SyncError::MalformedFrame(_))));
    }

    #[test]
    fn unknown_type_keeps_messages_before_it() {
        let frame = [3, 9, 1, 2, 3];
        let d = YWebsocket.decode(&frame, &Limits::default());
        assert_eq!(d.messages, vec![Wire::Y(Message::AwarenessQuery)]);
        assert_eq!(d.error, Some(SyncError::UnknownMessageType(9)));
    }

    #[test]
    fn oversized_frame_rejected() {
        let limits = Limits {
            max_frame: 3,
            ..Limits::default()
        };
        let d = YWebsocket.decode(&[3, 3, 3, 3], &limits);
        assert!(matches!(d.error, Some(SyncError::FrameTooLarge { .. })));
    }
}
