//! One Hocuspocus socket for every tab of a browser: what the tabs say to each other, and the
//! owner's table of the documents other tabs put on its socket.
//!
//! The tab that holds a server's socket lock (the *owner*) keeps the one real socket to that
//! server; a tab without it puts its documents on the owner's socket through a BroadcastChannel
//! (it *attaches remotely*). Hocuspocus frames name their document, so the owner sends a remote
//! document's frames as they come and hands the server's frames for it back to the tabs. Each
//! document's session (token, sync, acknowledgement, reconnect policy) stays in the tab that
//! leads that document; only the bytes travel. Bytes from other tabs are untrusted: every
//! message is checked here, and a frame a tab asks to send must name the document that tab
//! attached.

use crate::core::error::DecodeError;
use crate::core::hocuspocus::{address, Hocuspocus};
use crate::core::leader::{write_bytes, write_var};
use crate::core::validate::{Limits, Reader};

/// One message between the tabs sharing a server's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relay {
    /// To the owner: put the document `name` of the tab `hub` on the socket.
    Attach {
        /// The asking tab's socket.
        hub: u64,
        /// The document.
        name: String,
    },
    /// To the owner: the document `name` of the tab `hub` leaves the socket.
    Detach {
        /// The tab's socket.
        hub: u64,
        /// The document.
        name: String,
    },
    /// To the owner: a frame of a document the tab `hub` attached, for the server.
    Send {
        /// The tab's socket.
        hub: u64,
        /// The frame (its document's name first).
        frame: Vec<u8>,
    },
    /// To the owner: the server stopped answering a document of the tab `hub`.
    Fail {
        /// The tab's socket.
        hub: u64,
    },
    /// From the owner: the document `name` of the tab `hub` is on the open socket.
    Up {
        /// The tab's socket.
        hub: u64,
        /// The document.
        name: String,
    },
    /// From the owner: the document `name` of the tab `hub` is not (or no longer) on the socket,
    /// because another tab's provider of that document took its place.
    Refuse {
        /// The tab's socket.
        hub: u64,
        /// The document.
        name: String,
    },
    /// From the owner: a frame the server sent for a document some tab attached.
    Recv(Vec<u8>),
    /// From the owner: the socket closed (or its owner let it go); every remote document is off.
    Down {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
        /// Whether the closing handshake completed.
        was_clean: bool,
    },
}

const ATTACH: u8 = 0;
const DETACH: u8 = 1;
const SEND: u8 = 2;
const FAIL: u8 = 3;
const UP: u8 = 4;
const REFUSE: u8 = 5;
const RECV: u8 = 6;
const DOWN: u8 = 7;

/// The longest close reason kept (a WebSocket close reason is at most 123 bytes).
const MAX_REASON: usize = 123;

impl Relay {
    /// The message's type byte.
    fn tag(&self) -> u8 {
        match self {
            Relay::Attach { .. } => ATTACH,
            Relay::Detach { .. } => DETACH,
            Relay::Send { .. } => SEND,
            Relay::Fail { .. } => FAIL,
            Relay::Up { .. } => UP,
            Relay::Refuse { .. } => REFUSE,
            Relay::Recv(_) => RECV,
            Relay::Down { .. } => DOWN,
        }
    }

    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.tag()];
        match self {
            Relay::Attach { hub, name }
            | Relay::Detach { hub, name }
            | Relay::Up { hub, name }
            | Relay::Refuse { hub, name } => {
                write_var(&mut out, *hub);
                write_bytes(&mut out, name.as_bytes());
            }
            Relay::Send { hub, frame } => {
                write_var(&mut out, *hub);
                write_bytes(&mut out, frame);
            }
            Relay::Fail { hub } => write_var(&mut out, *hub),
            Relay::Recv(frame) => write_bytes(&mut out, frame),
            Relay::Down {
                code,
                reason,
                was_clean,
            } => {
                write_var(&mut out, u64::from(*code));
                write_bytes(&mut out, reason.as_bytes());
                out.push(u8::from(*was_clean));
            }
        }
        out
    }

    /// Reads a message from another tab, checking all of it: a frame is bounded by the frame
    /// limit and must name a document (the receiving session's dialect checks the rest, as it
    /// checks the server's).
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Relay, DecodeError> {
        if bytes.len() > limits.max_frame.saturating_add(16) {
            return Err(DecodeError::TooLong {
                what: "socket relay message",
                size: bytes.len(),
                max: limits.max_frame,
            });
        }
        let mut r = Reader::new(bytes);
        let tag = r.u8()?;
        let m = match tag {
            ATTACH | DETACH | UP | REFUSE => {
                let hub = r.var_u64()?;
                let name = r.var_str()?.to_owned();
                match tag {
                    ATTACH => Relay::Attach { hub, name },
                    DETACH => Relay::Detach { hub, name },
                    UP => Relay::Up { hub, name },
                    _ => Relay::Refuse { hub, name },
                }
            }
            SEND => Relay::Send {
                hub: r.var_u64()?,
                frame: named_frame(r.var_bytes()?)?,
            },
            FAIL => Relay::Fail { hub: r.var_u64()? },
            RECV => Relay::Recv(named_frame(r.var_bytes()?)?),
            DOWN => {
                let code = r.var_u64()?;
                let code = u16::try_from(code).map_err(|_| DecodeError::VarIntOverflow)?;
                let reason = r.var_str()?;
                if reason.len() > MAX_REASON {
                    return Err(DecodeError::TooLong {
                        what: "close reason",
                        size: reason.len(),
                        max: MAX_REASON,
                    });
                }
                let was_clean = r.flag()?;
                Relay::Down {
                    code,
                    reason: reason.to_owned(),
                    was_clean,
                }
            }
            n => return Err(DecodeError::UnknownContent(n)),
        };
        r.finish()?;
        Ok(m)
    }
}

/// A frame that starts with a document's name.
fn named_frame(b: &[u8]) -> Result<Vec<u8>, DecodeError> {
    address(b).ok_or(DecodeError::UnexpectedEnd)?;
    Ok(b.to_vec())
}

/// What the owner does for its remote documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Post this to the tabs.
    Post(Relay),
    /// Send this frame on the socket.
    Send(Vec<u8>),
    /// Open the socket (a remote document waits for it).
    Open,
    /// Close the socket: the server stopped answering.
    Close,
}

/// A document another tab put on the owner's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Remote {
    hub: u64,
    name: String,
    /// Told the socket is up (its frames travel).
    up: bool,
}

/// The owner's table of the documents other tabs put on its socket. One document has one place
/// on a socket (the server tells documents apart by name only): the newest provider of a name
/// takes it, and the one it replaces is refused. That is how a tab that took over a document's
/// leadership from a crashed tab gets its place back, since the crashed tab never detached.
#[derive(Debug, Default)]
pub struct Remotes {
    list: Vec<Remote>,
}

impl Remotes {
    /// How many remote documents are on the socket or waiting for it.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether no other tab has a document here.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// A message from another tab. `local` says whether this tab has a document of that name on
    /// the socket; `open` whether the socket is up.
    pub fn handle(&mut self, msg: Relay, local: impl Fn(&str) -> bool, open: bool) -> Vec<Act> {
        let mut acts = Vec::new();
        match msg {
            Relay::Attach { hub, name } => {
                if local(&name) {
                    acts.push(Act::Post(Relay::Refuse { hub, name }));
                    return acts;
                }
                acts.extend(self.evict(&name, open, Some(hub)));
                self.list.push(Remote {
                    hub,
                    name: name.clone(),
                    up: open,
                });
                acts.push(if open {
                    Act::Post(Relay::Up { hub, name })
                } else {
                    Act::Open
                });
            }
            Relay::Detach { hub, name } => {
                if let Some(i) = self.find(hub, &name) {
                    let r = self.list.remove(i);
                    if r.up && open {
                        acts.push(Act::Send(Hocuspocus::new(r.name).close_frame()));
                    }
                }
            }
            Relay::Send { hub, frame } => {
                let on = address(&frame)
                    .and_then(|name| self.find(hub, name))
                    .is_some_and(|i| self.list[i].up);
                if on && open {
                    acts.push(Act::Send(frame));
                }
            }
            Relay::Fail { hub } => {
                if self.list.iter().any(|r| r.hub == hub && r.up) {
                    acts.push(Act::Close);
                }
            }
            // The owner's own words, or another owner's last ones: not for the owner.
            Relay::Up { .. } | Relay::Refuse { .. } | Relay::Recv(_) | Relay::Down { .. } => {}
        }
        acts
    }

    /// A document of this tab goes on the socket: a remote one of the same name gives way.
    pub fn local_attach(&mut self, name: &str, open: bool) -> Vec<Act> {
        self.evict(name, open, None)
    }

    /// The socket is up: every waiting remote document is told.
    pub fn socket_up(&mut self) -> Vec<Relay> {
        self.list
            .iter_mut()
            .filter(|r| !r.up)
            .map(|r| {
                r.up = true;
                Relay::Up {
                    hub: r.hub,
                    name: r.name.clone(),
                }
            })
            .collect()
    }

    /// The socket closed (or the owner lets it go): every remote document is off, and the tabs
    /// are told so with the socket's close.
    pub fn socket_down(&mut self, code: u16, reason: &str, was_clean: bool) -> Relay {
        self.list.clear();
        let mut reason = reason.to_owned();
        if reason.len() > MAX_REASON {
            let mut end = MAX_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Relay::Down {
            code,
            reason,
            was_clean,
        }
    }

    /// Whether a frame the server sent goes to the tabs (a remote document of its name is up).
    pub fn routes(&self, frame: &[u8]) -> bool {
        address(frame).is_some_and(|name| self.list.iter().any(|r| r.up && r.name == name))
    }

    fn find(&self, hub: u64, name: &str) -> Option<usize> {
        self.list
            .iter()
            .position(|r| r.hub == hub && r.name == name)
    }

    /// Takes `name` from whoever holds it, but `keep`'s own earlier place (a re-attach).
    fn evict(&mut self, name: &str, open: bool, keep: Option<u64>) -> Vec<Act> {
        let mut acts = Vec::new();
        let mut i = 0;
        while i < self.list.len() {
            if self.list[i].name != name {
                i += 1;
                continue;
            }
            let r = self.list.remove(i);
            if r.up && open {
                // The server ends the old session before the new one authenticates.
                acts.push(Act::Send(Hocuspocus::new(name).close_frame()));
            }
            if Some(r.hub) != keep {
                acts.push(Act::Post(Relay::Refuse {
                    hub: r.hub,
                    name: r.name,
                }));
            }
        }
        acts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn frame(name: &str, body: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        write_bytes(&mut f, name.as_bytes());
        f.extend_from_slice(body);
        f
    }

    fn close(name: &str) -> Act {
        Act::Send(Hocuspocus::new(name).close_frame())
    }

    fn attach(hub: u64, name: &str) -> Relay {
        Relay::Attach {
            hub,
            name: name.into(),
        }
    }

    fn detach(hub: u64, name: &str) -> Relay {
        Relay::Detach {
            hub,
            name: name.into(),
        }
    }

    fn up(hub: u64, name: &str) -> Relay {
        Relay::Up {
            hub,
            name: name.into(),
        }
    }

    fn refuse(hub: u64, name: &str) -> Relay {
        Relay::Refuse {
            hub,
            name: name.into(),
        }
    }

    fn send(hub: u64, frame: &[u8]) -> Relay {
        Relay::Send {
            hub,
            frame: frame.to_vec(),
        }
    }

    /// A message from a tab, at an owner with no document of its own.
    fn from_tab(t: &mut Remotes, m: Relay, open: bool) -> Vec<Act> {
        t.handle(m, |_| false, open)
    }

    #[test]
    fn every_message_round_trips() {
        let limits = Limits::default();
        for m in [
            attach(7, "a"),
            detach(u64::MAX, "ünï"),
            send(1, &frame("doc", &[0, 0, 1, 0])),
            Relay::Fail { hub: 3 },
            up(2, ""),
            refuse(2, "x"),
            Relay::Recv(frame("doc", &[8, 1])),
            Relay::Down {
                code: 1006,
                reason: "gone".into(),
                was_clean: false,
            },
        ] {
            assert_eq!(Relay::decode(&m.encode(), &limits), Ok(m));
        }
    }

    #[test]
    fn hostile_messages_are_refused() {
        let limits = Limits::default();
        let bad: Vec<Vec<u8>> = vec![
            vec![],
            vec![99],
            // Attach whose name says 0xFFFFFFFF bytes follow.
            vec![ATTACH, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
            // A name that is not UTF-8.
            vec![ATTACH, 1, 2, 0xC3, 0x28],
            // A frame with no document name in it.
            vec![SEND, 1, 0],
            // A frame whose name runs past its end.
            vec![RECV, 2, 5, b'a'],
            // A close code past 16 bits.
            vec![DOWN, 0xFF, 0xFF, 0x7F, 0, 0],
            // A close reason over 123 bytes.
            [vec![DOWN, 1, 124, 1], vec![b'r'; 124], vec![0]].concat(),
            // A flag that is neither 0 nor 1.
            vec![DOWN, 1, 0, 2],
            // Trailing bytes.
            vec![FAIL, 1, 0],
            // Larger than any frame may be.
            [vec![RECV], vec![0; limits.max_frame + 32]].concat(),
        ];
        for b in bad {
            assert!(Relay::decode(&b, &limits).is_err(), "{b:?}");
        }
    }

    #[test]
    fn a_remote_document_waits_for_the_socket_then_travels_both_ways() {
        let mut t = Remotes::default();
        assert_eq!(from_tab(&mut t, attach(1, "b"), false), vec![Act::Open]);
        // Nothing travels before the socket is up.
        let f = frame("b", &[0, 0, 1, 0]);
        assert!(!t.routes(&f));
        assert!(from_tab(&mut t, send(1, &f), false).is_empty());
        assert_eq!(t.socket_up(), vec![up(1, "b")]);
        assert!(t.socket_up().is_empty(), "told once");
        assert!(t.routes(&f));
        assert!(
            !t.routes(&frame("c", &[0])),
            "only its own document's frames"
        );
        assert_eq!(
            from_tab(&mut t, send(1, &f), true),
            vec![Act::Send(f.clone())]
        );
        // Another tab cannot speak for b, nor b's tab for another document.
        assert!(from_tab(&mut t, send(2, &f), true).is_empty());
        assert!(from_tab(&mut t, send(1, &frame("c", &[0])), true).is_empty());
        // Detach ends b's session on the server.
        assert_eq!(from_tab(&mut t, detach(1, "b"), true), vec![close("b")]);
        assert!(t.is_empty());
        assert!(!t.routes(&f));
    }

    #[test]
    fn on_an_open_socket_a_remote_document_is_up_at_once() {
        let mut t = Remotes::default();
        assert_eq!(
            from_tab(&mut t, attach(1, "b"), true),
            vec![Act::Post(up(1, "b"))]
        );
    }

    #[test]
    fn a_document_of_the_owner_keeps_its_place() {
        let mut t = Remotes::default();
        let acts = t.handle(attach(1, "a"), |n| n == "a", true);
        assert_eq!(acts, vec![Act::Post(refuse(1, "a"))]);
        assert!(t.is_empty());
        // And a remote document gives way to one the owner attaches.
        from_tab(&mut t, attach(1, "b"), true);
        assert_eq!(
            t.local_attach("b", true),
            vec![close("b"), Act::Post(refuse(1, "b"))]
        );
        assert!(t.is_empty());
    }

    #[test]
    fn the_newest_tab_of_a_document_takes_the_place_of_a_crashed_one() {
        let mut t = Remotes::default();
        from_tab(&mut t, attach(1, "b"), true);
        // Tab 1 crashed without detaching; tab 2 now leads b.
        assert_eq!(
            from_tab(&mut t, attach(2, "b"), true),
            vec![close("b"), Act::Post(refuse(1, "b")), Act::Post(up(2, "b"))]
        );
        assert_eq!(t.len(), 1);
        // A tab attaching again (after a close it saw) is not refused its own place.
        assert_eq!(
            from_tab(&mut t, attach(2, "b"), true),
            vec![close("b"), Act::Post(up(2, "b"))]
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_silent_server_closes_the_socket_only_for_a_document_on_it() {
        let mut t = Remotes::default();
        assert!(from_tab(&mut t, Relay::Fail { hub: 1 }, true).is_empty());
        from_tab(&mut t, attach(1, "b"), true);
        assert_eq!(
            from_tab(&mut t, Relay::Fail { hub: 1 }, true),
            vec![Act::Close]
        );
    }

    #[test]
    fn the_socket_going_down_takes_every_remote_document_off() {
        let mut t = Remotes::default();
        for hub in 1..=3 {
            from_tab(&mut t, attach(hub, &format!("d{hub}")), true);
        }
        let long = "é".repeat(100);
        match t.socket_down(1006, &long, false) {
            Relay::Down {
                code: 1006,
                reason,
                was_clean: false,
            } => {
                assert!(reason.len() <= MAX_REASON && long.starts_with(&reason));
                // What the owner posts, the tabs can read.
                let m = t.socket_down(1006, &long, false);
                assert_eq!(Relay::decode(&m.encode(), &Limits::default()), Ok(m));
            }
            other => panic!("{other:?}"),
        }
        assert!(t.is_empty());
        assert!(!t.routes(&frame("d1", &[0])));
    }

    #[test]
    fn messages_for_the_tabs_do_nothing_at_the_owner() {
        let mut t = Remotes::default();
        for m in [
            up(1, "b"),
            refuse(1, "b"),
            Relay::Recv(frame("b", &[0])),
            Relay::Down {
                code: 1000,
                reason: String::new(),
                was_clean: true,
            },
        ] {
            assert!(from_tab(&mut t, m, true).is_empty());
        }
        assert!(t.is_empty());
    }
}
