//! The session on the Hocuspocus dialect, against an in-memory server that does what
//! `@hocuspocus/server` 4.7 was seen doing on the wire: it holds a connection's frames until
//! the token message, answers `auth 2 scope` or `auth 1 reason`, answers sync step 1 with its
//! own step 1 and a step 2, applies updates and step 2s, answers each with a sync status
//! (`0` on a read-only connection), and forwards applied updates to the other connections.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::collections::VecDeque;

use yrs::encoding::write::Write;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::{Encoder, EncoderV1};
use yrs::{Doc, ReadTxn, Transact, Update};

use crate::core::error::SyncError;
use crate::core::frame::{Dialect, Wire};
use crate::core::hocuspocus::Hocuspocus;
use crate::core::session::{CloseReason, Config, Event, Output, Session};
use crate::core::tests::sim::{text, type_text};
use crate::core::validate::{Limits, Reader};

const NAME: &str = "notes";

/// What the server's `onAuthenticate` decides for a token.
fn scope_for(token: &str) -> Result<&'static str, &'static str> {
    match token {
        "rw" => Ok("read-write"),
        "ro" => Ok("readonly"),
        _ => Err("permission-denied"),
    }
}

#[derive(Default)]
struct ServerConn {
    authenticated: Option<bool>,
    read_only: bool,
    queued: Vec<Vec<u8>>,
}

struct Server {
    doc: Doc,
    conns: Vec<ServerConn>,
    dialect: Hocuspocus,
}

impl Server {
    fn new() -> Self {
        Server {
            doc: Doc::with_client_id(999),
            conns: Vec::new(),
            dialect: Hocuspocus::new(NAME),
        }
    }

    fn status(&self, applied: bool) -> Vec<u8> {
        let mut e = EncoderV1::new();
        e.write_string(NAME);
        e.write_var(8u8);
        e.write_var(u8::from(applied));
        e.to_vec()
    }

    fn auth(&self, sub: u8, text: &str) -> Vec<u8> {
        let mut e = EncoderV1::new();
        e.write_string(NAME);
        e.write_var(2u8);
        e.write_var(sub);
        e.write_string(text);
        e.to_vec()
    }

    /// Handles a frame from connection `c`; returns (connection, frame) pairs to deliver.
    fn on_frame(&mut self, c: usize, frame: &[u8]) -> Vec<(usize, Vec<u8>)> {
        let mut r = Reader::new(frame);
        assert_eq!(r.var_str().unwrap(), NAME, "every frame names the document");
        let kind = r.var_u64().unwrap();
        if self.conns[c].authenticated != Some(true) {
            if kind != 2 {
                self.conns[c].queued.push(frame.to_vec());
                return vec![];
            }
            assert_eq!(r.var_u64().unwrap(), 0, "the token message");
            let token = r.var_str().unwrap().to_owned();
            r.var_str().unwrap(); // the client's version
            return match scope_for(&token) {
                Ok(scope) => {
                    self.conns[c].authenticated = Some(true);
                    self.conns[c].read_only = scope == "readonly";
                    let mut out = vec![(c, self.auth(2, scope))];
                    for f in std::mem::take(&mut self.conns[c].queued) {
                        out.extend(self.on_frame(c, &f));
                    }
                    out
                }
                Err(reason) => {
                    self.conns[c].authenticated = Some(false);
                    vec![(c, self.auth(1, reason))]
                }
            };
        }
        match self
            .dialect
            .decode(frame, &Limits::default())
            .messages
            .pop()
        {
            Some(Wire::Y(Message::Sync(SyncMessage::SyncStep1(sv)))) => {
                let txn = self.doc.transact();
                let step1 = Message::Sync(SyncMessage::SyncStep1(txn.state_vector()));
                let step2 =
                    Message::Sync(SyncMessage::SyncStep2(txn.encode_state_as_update_v1(&sv)));
                vec![
                    (c, self.dialect.encode(&step1)),
                    (c, self.dialect.encode(&step2)),
                ]
            }
            Some(Wire::Y(Message::Sync(SyncMessage::SyncStep2(u) | SyncMessage::Update(u)))) => {
                if self.conns[c].read_only {
                    return vec![(c, self.status(false))];
                }
                self.doc
                    .transact_mut()
                    .apply_update(Update::decode_v1(&u).unwrap())
                    .unwrap();
                let forward = self.dialect.encode(&Message::Sync(SyncMessage::Update(u)));
                let mut out = vec![(c, self.status(true))];
                for (o, conn) in self.conns.iter().enumerate() {
                    if o != c && conn.authenticated == Some(true) {
                        out.push((o, forward.clone()));
                    }
                }
                out
            }
            Some(Wire::Stateless(p)) => {
                vec![(c, self.dialect.stateless(&format!("echo:{p}")).unwrap())]
            }
            _ => vec![],
        }
    }
}

struct Client {
    session: Session,
    doc: Doc,
    events: Vec<Event>,
    sent: Vec<Vec<u8>>,
    closed: Vec<CloseReason>,
    saved: usize,
}

/// A server, clients connected to it by ordered, lossless links, frames delivered one at a
/// time in the order they were sent.
struct World {
    now: u64,
    server: Server,
    clients: Vec<Client>,
    wire: VecDeque<(bool, usize, Vec<u8>)>,
}

impl World {
    fn new() -> Self {
        World {
            now: 0,
            server: Server::new(),
            clients: Vec::new(),
            wire: VecDeque::new(),
        }
    }

    fn add(&mut self, client_id: u64) -> usize {
        let doc = Doc::with_client_id(client_id);
        let session = Session::with_dialect(
            doc.clone(),
            Config::default(),
            Box::new(Hocuspocus::new(NAME)),
            self.now,
        )
        .unwrap();
        self.clients.push(Client {
            session,
            doc,
            events: vec![],
            sent: vec![],
            closed: vec![],
            saved: 0,
        });
        self.server.conns.push(ServerConn::default());
        self.clients.len() - 1
    }

    fn connect(&mut self, i: usize, token: &str) {
        let now = self.now;
        self.server.conns[i] = ServerConn::default();
        let s = &mut self.clients[i].session;
        s.connecting(now);
        s.connected_with_token(now, Some(token));
        self.pump(i);
    }

    /// Moves client `i`'s outputs onto the wire.
    fn pump(&mut self, i: usize) {
        let now = self.now;
        while let Some(o) = self.clients[i].session.poll_output(now) {
            let c = &mut self.clients[i];
            match o {
                Output::Transmit(f) => {
                    c.sent.push(f.clone());
                    self.wire.push_back((true, i, f));
                }
                Output::Event(e) => c.events.push(e),
                Output::Close(r) => c.closed.push(r),
                Output::SaveAcknowledged(_) => c.saved += 1,
                Output::Broadcast(_) | Output::Control(_) => {}
            }
        }
    }

    /// Delivers at most `n` frames (either direction), 1 ms apart.
    fn step(&mut self, n: usize) {
        for _ in 0..n {
            let Some((to_server, i, f)) = self.wire.pop_front() else {
                return;
            };
            self.now += 1;
            if to_server {
                for (c, out) in self.server.on_frame(i, &f) {
                    self.wire.push_back((false, c, out));
                }
            } else {
                let now = self.now;
                self.clients[i].session.handle_frame(now, &f);
                self.pump(i);
            }
        }
    }

    fn settle(&mut self) {
        self.step(10_000);
        assert!(self.wire.is_empty(), "the world did not settle");
    }

    fn edit(&mut self, i: usize, at: u32, s: &str) {
        type_text(&self.clients[i].doc, at, s);
        self.pump(i);
    }

    fn kinds_sent(&self, i: usize) -> Vec<String> {
        let d = Hocuspocus::new(NAME);
        self.clients[i]
            .sent
            .iter()
            .map(|f| {
                let mut r = Reader::new(f);
                r.var_str().unwrap();
                match r.var_u64().unwrap() {
                    0 => match d.decode(f, &Limits::default()).messages.pop() {
                        Some(w) => crate::core::stats::wire_kind(&w).to_owned(),
                        None => "invalid".to_owned(),
                    },
                    2 => "token".to_owned(),
                    k => k.to_string(),
                }
            })
            .collect()
    }
}

#[test]
fn the_token_goes_first_then_sync_and_edits_are_acknowledged_by_sync_status() {
    let mut w = World::new();
    let a = w.add(1);
    let b = w.add(2);
    w.connect(a, "rw");
    w.connect(b, "rw");
    w.settle();
    assert_eq!(w.kinds_sent(a)[..2], ["token", "syncStep1"]);
    for c in &w.clients {
        assert!(c
            .events
            .contains(&Event::Authenticated("read-write".into())));
        assert!(c.events.contains(&Event::Synced(true)));
    }
    assert_eq!(w.clients[a].session.scope(), Some("read-write"));

    let mark = w.clients[a].session.ack_mark();
    w.edit(a, 0, "hello");
    assert_eq!(w.clients[a].session.unconfirmed().0, 1);
    let frames_before = w.clients[a].sent.len();
    w.settle();
    assert_eq!(w.clients[a].session.unconfirmed(), (0, 0));
    assert!(w.clients[a].session.confirmed(mark + 1));
    assert_eq!(text(&w.clients[b].doc), "hello");
    assert_eq!(text(&w.server.doc), "hello");
    // The sync status was the acknowledgement: the edit went out alone, no probe after it.
    assert_eq!(w.kinds_sent(a)[frames_before - 1..], ["update"]);
    assert!(w.clients[a].saved >= 1, "the acknowledged state is stored");
    assert!(w.clients[a]
        .events
        .contains(&Event::Unsynced { count: 0, bytes: 0 }));
}

#[test]
fn a_status_confirms_only_what_its_frame_carried() {
    let mut w = World::new();
    let a = w.add(1);
    // An edit made offline: it reaches the server in the step 2 answering the server's step 1.
    w.edit(a, 0, "offline ");
    w.connect(a, "rw");
    // An edit made after the socket opened goes out as an update before that step 2.
    w.edit(a, 0, "online ");
    assert_eq!(w.clients[a].session.unconfirmed().0, 2);
    // Token, our step 1, our presence (the `{}` every client starts with) and our update
    // reach the server; it answers the token, our step 1 (its step 1 and a step 2) and our
    // update (a status). Our step 2 answering its step 1 leaves after that status arrives,
    // which must not confirm the offline edit.
    w.step(4);
    w.step(4);
    assert!(w.clients[a]
        .events
        .iter()
        .any(|e| matches!(e, Event::Unsynced { count: 1, .. })));
    assert_eq!(w.clients[a].session.unconfirmed().0, 1);
    w.settle();
    assert_eq!(w.clients[a].session.unconfirmed().0, 0);
    assert_eq!(text(&w.server.doc), "online offline ");
}

#[test]
fn a_read_only_scope_reports_edits_as_not_applied_and_never_acknowledges_them() {
    let mut w = World::new();
    let a = w.add(1);
    type_text(&w.server.doc, 0, "server");
    w.connect(a, "ro");
    w.settle();
    assert_eq!(w.clients[a].session.scope(), Some("readonly"));
    assert_eq!(text(&w.clients[a].doc), "server");
    let mark = w.clients[a].session.ack_mark();
    w.edit(a, 0, "x");
    w.settle();
    w.edit(a, 0, "y");
    w.settle();
    assert_eq!(text(&w.server.doc), "server");
    assert_eq!(w.clients[a].session.unconfirmed().0, 2);
    assert!(!w.clients[a].session.confirmed(mark + 1));
    let refused: Vec<_> = w.clients[a]
        .events
        .iter()
        .filter(|e| matches!(e, Event::Error(SyncError::ReadOnly)))
        .collect();
    assert_eq!(refused.len(), 1, "reported once per connection");
    assert_eq!(SyncError::ReadOnly.code(), "NOT_APPLIED");
    assert_eq!(w.clients[a].saved, 0);
}

#[test]
fn a_refused_token_is_reported_and_the_session_stops() {
    let mut w = World::new();
    let a = w.add(1);
    w.connect(a, "wrong");
    w.settle();
    let c = &w.clients[a];
    assert!(c
        .events
        .contains(&Event::PermissionDenied("permission-denied".into())));
    assert_eq!(c.closed, vec![CloseReason::PermissionDenied]);
    assert!(c.session.denied());
    assert!(!c.session.synced());
}

#[test]
fn stateless_messages_both_ways_and_a_server_close_ends_the_connection() {
    let mut w = World::new();
    let a = w.add(1);
    w.connect(a, "rw");
    w.settle();
    let now = w.now;
    assert!(w.clients[a].session.send_stateless(now, "ping?"));
    w.pump(a);
    w.settle();
    assert!(w.clients[a]
        .events
        .contains(&Event::Stateless("echo:ping?".into())));
    // The server ends the document's session (type 7).
    let mut e = EncoderV1::new();
    e.write_string(NAME);
    e.write_var(7u8);
    e.write_string("Reset Connection");
    let now = w.now;
    w.clients[a].session.handle_frame(now, &e.to_vec());
    w.pump(a);
    assert_eq!(
        w.clients[a].closed,
        vec![CloseReason::ServerClosed("Reset Connection".into())]
    );
    assert!(!w.clients[a].session.synced());
    assert!(!w.clients[a].session.denied(), "it may reconnect");
}

#[test]
fn frames_for_another_document_are_ignored() {
    let mut w = World::new();
    let a = w.add(1);
    w.connect(a, "rw");
    w.settle();
    let other = Hocuspocus::new("other");
    let peer = Doc::with_client_id(5);
    type_text(&peer, 0, "not ours");
    let u = peer
        .transact()
        .encode_state_as_update_v1(&Default::default());
    let now = w.now;
    w.clients[a]
        .session
        .handle_frame(now, &other.encode(&Message::Sync(SyncMessage::Update(u))));
    w.pump(a);
    assert_eq!(text(&w.clients[a].doc), "");
    assert!(w.clients[a].closed.is_empty());
}
