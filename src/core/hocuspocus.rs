//! The Hocuspocus dialect (`@hocuspocus/server` 4): every frame is addressed to a document.
//!
//! A frame is `varString(documentName)`, `varUint(type)` and a body. Types 0 (sync),
//! 1 (awareness) and 3 (awareness query) carry y-protocols bodies; 2 is Hocuspocus's own
//! authentication (`0 token version` from the client, `0` from the server asking for the token
//! again, `1 reason` refused, `2 scope` let in), 5 an application ("stateless") string, 7 the end
//! of one document's session on the socket, 8 the sync status the server sends for every
//! update or sync step 2 it handled (`1` applied, `0` refused on a read-only connection).
//! Types 4 and 6 only travel between servers.

use yrs::encoding::write::Write;
use yrs::sync::Message;
use yrs::updates::encoder::{Encoder, EncoderV1};

use crate::core::error::{DecodeError, SyncError};
use crate::core::frame::{encode_message, Decoded, Dialect, Wire, YWebsocket};
use crate::core::validate::{Limits, Reader};

const MSG_AUTH: u64 = 2;
const MSG_STATELESS: u64 = 5;
const MSG_CLOSE: u64 = 7;
const MSG_SYNC_STATUS: u64 = 8;

const AUTH_TOKEN: u64 = 0;
const AUTH_DENIED: u64 = 1;
const AUTH_AUTHENTICATED: u64 = 2;

/// What this client calls itself in its token message (the server only records it).
const VERSION: &str = concat!("ysync-", env!("CARGO_PKG_VERSION"));

/// The Hocuspocus dialect for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hocuspocus {
    name: String,
}

impl Hocuspocus {
    /// The dialect of the document called `name` on the server.
    pub fn new(name: impl Into<String>) -> Self {
        Hocuspocus { name: name.into() }
    }

    /// The document's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An encoder holding the document-name prefix every frame starts with.
    fn named(&self) -> EncoderV1 {
        let mut enc = EncoderV1::new();
        enc.write_string(&self.name);
        enc
    }

    /// A frame of this document's message type `kind`, its body still to be written.
    fn frame(&self, kind: u64) -> EncoderV1 {
        let mut enc = self.named();
        enc.write_var(kind);
        enc
    }
}

/// The document an untrusted frame is addressed to (to route frames of a shared socket), if
/// it starts with a well-formed name.
pub fn address(frame: &[u8]) -> Option<&str> {
    Reader::new(frame).var_str().ok()
}

impl Dialect for Hocuspocus {
    fn decode(&self, frame: &[u8], limits: &Limits) -> Decoded {
        if let Some(out) = Decoded::oversized(frame, limits) {
            return out;
        }
        let mut out = Decoded::default();
        match decode_body(&self.name, frame, limits) {
            Ok(Body::Other) => {}
            Ok(Body::Y(d)) => {
                // y-protocols' own `auth` type is Hocuspocus's, handled above, so a `Denied`
                // cannot come out of the y-protocols decoder here.
                out.messages = d.messages.into_iter().map(Wire::Y).collect();
                out.error = d.error;
            }
            Ok(Body::Wire(w)) => out.messages.push(w),
            Ok(Body::Unknown(tag)) => out.error = Some(SyncError::UnknownMessageType(tag)),
            Err(e) => out.error = Some(e.into()),
        }
        out
    }

    fn encode(&self, message: &Message) -> Vec<u8> {
        // The y-protocols message (type and body) follows the name as it is.
        let mut enc = self.named();
        enc.write_all(&encode_message(message));
        enc.to_vec()
    }

    fn hello(&self, token: Option<&str>) -> Option<Vec<u8>> {
        let mut enc = self.frame(MSG_AUTH);
        enc.write_var(AUTH_TOKEN);
        enc.write_string(token.unwrap_or(""));
        enc.write_string(VERSION);
        Some(enc.to_vec())
    }

    fn acknowledges_updates(&self) -> bool {
        true
    }

    fn stateless(&self, payload: &str) -> Option<Vec<u8>> {
        let mut enc = self.frame(MSG_STATELESS);
        enc.write_string(payload);
        Some(enc.to_vec())
    }
}

impl Hocuspocus {
    /// The frame that ends this document's session and keeps the socket (type 7).
    pub fn close_frame(&self) -> Vec<u8> {
        self.frame(MSG_CLOSE).to_vec()
    }
}

enum Body {
    /// y-protocols messages.
    Y(Decoded<Message>),
    /// One Hocuspocus message.
    Wire(Wire),
    /// Addressed to another document: not ours to read.
    Other,
    /// A type this client does not know (its body's length is unknowable).
    Unknown(u64),
}

fn decode_body(name: &str, frame: &[u8], limits: &Limits) -> Result<Body, DecodeError> {
    let mut r = Reader::new(frame);
    if r.var_str()? != name {
        return Ok(Body::Other);
    }
    let message = &frame[frame.len() - r.remaining()..];
    let kind = r.var_u64()?;
    let wire = match kind {
        crate::core::frame::MSG_SYNC
        | crate::core::frame::MSG_AWARENESS
        | crate::core::frame::MSG_QUERY_AWARENESS => {
            let d = YWebsocket.decode_messages(message, limits);
            // The server writes one message per frame; more means the frame is not what it
            // claims to be.
            if d.messages.len() > 1 {
                return Err(DecodeError::TrailingBytes(message.len()));
            }
            return Ok(Body::Y(d));
        }
        MSG_AUTH => match r.var_u64()? {
            AUTH_TOKEN => Wire::TokenRequest,
            AUTH_DENIED => Wire::Denied(r.var_str()?.to_owned()),
            AUTH_AUTHENTICATED => Wire::Authenticated(r.var_str()?.to_owned()),
            other => return Err(DecodeError::UnknownAuthType(other)),
        },
        MSG_STATELESS => Wire::Stateless(r.var_str()?.to_owned()),
        // The reason is optional for a client's close; the server always writes one.
        MSG_CLOSE if r.is_empty() => Wire::Closed(String::new()),
        MSG_CLOSE => Wire::Closed(r.var_str()?.to_owned()),
        MSG_SYNC_STATUS => Wire::SyncStatus(var_i64(&mut r)? == 1),
        other => return Ok(Body::Unknown(other)),
    };
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes(r.remaining()));
    }
    Ok(Body::Wire(wire))
}

/// lib0's signed variable-length integer: the first byte holds a continuation bit, the sign
/// and 6 bits; each next byte a continuation bit and 7 bits.
fn var_i64(r: &mut Reader) -> Result<i64, DecodeError> {
    let first = r.u8()?;
    let negative = first & 0x40 != 0;
    let mut value = i64::from(first & 0x3f);
    let mut more = first & 0x80 != 0;
    let mut shift = 6;
    while more {
        let b = r.u8()?;
        if shift > 62 {
            return Err(DecodeError::VarIntOverflow);
        }
        value |= i64::from(b & 0x7f) << shift;
        shift += 7;
        more = b & 0x80 != 0;
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::sync::SyncMessage;
    use yrs::StateVector;

    fn hex(s: &str) -> Vec<u8> {
        crate::core::hex(s)
    }

    fn decode(frame: &[u8]) -> Decoded {
        Hocuspocus::new("doc").decode(frame, &Limits::default())
    }

    // Frames as @hocuspocus/server 4.7 wrote them on a socket (document "doc").
    #[test]
    fn server_frames_decode() {
        let cases: [(&str, Wire); 6] = [
            (
                "03646f6302020a726561642d7772697465",
                Wire::Authenticated("read-write".into()),
            ),
            (
                "03646f63020208726561646f6e6c79",
                Wire::Authenticated("readonly".into()),
            ),
            (
                "03646f630201117065726d697373696f6e2d64656e696564",
                Wire::Denied("permission-denied".into()),
            ),
            ("03646f630801", Wire::SyncStatus(true)),
            ("03646f630800", Wire::SyncStatus(false)),
            (
                "03646f63071270726f76696465725f696e69746961746564",
                Wire::Closed("provider_initiated".into()),
            ),
        ];
        for (frame, want) in cases {
            let d = decode(&hex(frame));
            assert!(d.error.is_none(), "{frame}: {:?}", d.error);
            assert_eq!(d.messages, vec![want], "{frame}");
        }
        let d = decode(&hex("03646f6300000100"));
        assert_eq!(
            d.messages,
            vec![Wire::Y(Message::Sync(SyncMessage::SyncStep1(
                StateVector::default()
            )))]
        );
    }

    #[test]
    fn client_frames_match_the_js_provider() {
        let h = Hocuspocus::new("doc");
        let hello = h.hello(Some("tok")).unwrap();
        let mut want = hex("03646f630200");
        want.extend([3, b't', b'o', b'k', VERSION.len() as u8]);
        want.extend(VERSION.as_bytes());
        assert_eq!(hello, want);
        assert_eq!(
            h.encode(&Message::Sync(SyncMessage::SyncStep1(
                StateVector::default()
            ))),
            hex("03646f6300000100")
        );
        assert_eq!(h.stateless("hi"), Some(hex("03646f6305026869")));
        assert_eq!(h.close_frame(), hex("03646f6307"));
        assert_eq!(address(&hex("03646f630801")), Some("doc"));
    }

    #[test]
    fn other_documents_frames_are_not_read() {
        let d = decode(&hex("036f746802020a726561642d7772697465"));
        assert!(d.messages.is_empty() && d.error.is_none());
    }

    #[test]
    fn malformed_frames_are_refused_whole() {
        for frame in [
            "03646f",                           // name cut short
            "03646f6302",                       // auth without sub-type
            "03646f630209",                     // unknown auth sub-type
            "03646f63020105616263",             // reason longer than the frame
            "03646f63080100",                   // trailing byte after the status
            "03646f6300000100000100",           // two sync messages in one frame
            "03646f6308ffffffffffffffffffff01", // status integer overflows
        ] {
            let d = decode(&hex(frame));
            assert!(d.messages.is_empty(), "{frame}: {:?}", d.messages);
            assert!(
                matches!(d.error, Some(SyncError::MalformedFrame(_))),
                "{frame}: {:?}",
                d.error
            );
        }
        let d = decode(&hex("03646f6309"));
        assert_eq!(d.error, Some(SyncError::UnknownMessageType(9)));
    }

    #[test]
    fn signed_var_ints_read_as_lib0_writes_them() {
        // lib0 writeVarInt: 1 -> 01, -1 -> 41, 64 -> 8001, -100 -> e401.
        for (bytes, want) in [
            (&[0x01][..], 1),
            (&[0x41], -1),
            (&[0x80, 0x01], 64),
            (&[0xe4, 0x01], -100),
        ] {
            assert_eq!(var_i64(&mut Reader::new(bytes)).unwrap(), want);
        }
    }
}
