//! A simulated network for native tests: an in-memory server that behaves like
//! @y/websocket-server, several client sessions, per-link latency, dropped and reordered frames,
//! and simulated time.

use std::collections::{BTreeMap, HashMap, HashSet};

use yrs::encoding::read::Cursor;
use yrs::sync::awareness::AwarenessUpdate;
use yrs::sync::{Awareness, Message, SyncMessage};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, Transact, Update};

use crate::core::connection::{Command, Connection};
use crate::core::frame::{Dialect, YWebsocket};
use crate::core::session::{CloseReason, Config, Event, Output, Session};

/// Server behaviour switches.
#[derive(Debug, Default, Clone)]
pub struct ServerMode {
    /// Answer every connection with "permission denied" and this reason.
    pub deny: Option<String>,
    /// Silently drop this many incoming update / step 2 messages (a lossy or read-only server).
    pub drop_updates: usize,
    /// Never answer anything (a dead server behind an open socket).
    pub mute: bool,
}

/// The in-memory y-websocket server: one room.
pub struct Server {
    pub doc: Doc,
    awareness: Awareness,
    conns: BTreeMap<u64, HashSet<u64>>,
    pub mode: ServerMode,
}

impl Server {
    fn new() -> Self {
        let doc = Doc::with_client_id(999_999);
        Server {
            awareness: Awareness::with_clock(doc.clone(), || 0),
            doc,
            conns: BTreeMap::new(),
            mode: ServerMode::default(),
        }
    }

    fn frame(m: &Message) -> Vec<u8> {
        YWebsocket.encode(m)
    }

    /// A client connected: step 1 and the known awareness states (as setupWSConnection).
    fn on_connect(&mut self, conn: u64) -> Vec<(u64, Vec<u8>)> {
        if let Some(reason) = &self.mode.deny {
            return vec![(conn, Self::frame(&Message::Auth(Some(reason.clone()))))];
        }
        self.conns.insert(conn, HashSet::new());
        if self.mode.mute {
            return vec![];
        }
        let sv = self.doc.transact().state_vector();
        let mut out = vec![(
            conn,
            Self::frame(&Message::Sync(SyncMessage::SyncStep1(sv))),
        )];
        let upd = self.awareness.update().unwrap();
        if !upd.clients.is_empty() {
            out.push((conn, Self::frame(&Message::Awareness(upd))));
        }
        out
    }

    fn broadcast(&self, frame: Vec<u8>) -> Vec<(u64, Vec<u8>)> {
        self.conns.keys().map(|c| (*c, frame.clone())).collect()
    }

    /// Handles the first message of a frame only, as the reference server does.
    fn on_frame(&mut self, conn: u64, frame: &[u8]) -> Vec<(u64, Vec<u8>)> {
        if !self.conns.contains_key(&conn) || self.mode.mute {
            return vec![];
        }
        let mut dec = DecoderV1::new(Cursor::new(frame));
        let Ok(msg) = Message::decode(&mut dec) else {
            return vec![];
        };
        match msg {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let u = self.doc.transact().encode_state_as_update_v1(&sv);
                vec![(conn, Self::frame(&Message::Sync(SyncMessage::SyncStep2(u))))]
            }
            Message::Sync(SyncMessage::SyncStep2(u)) | Message::Sync(SyncMessage::Update(u)) => {
                if self.mode.drop_updates > 0 {
                    self.mode.drop_updates -= 1;
                    return vec![];
                }
                let before = self.doc.transact().state_vector();
                let before_ds = self.doc.transact().snapshot().delete_set;
                self.doc
                    .transact_mut()
                    .apply_update(Update::decode_v1(&u).unwrap())
                    .unwrap();
                let txn = self.doc.transact();
                if txn.state_vector() == before && txn.snapshot().delete_set == before_ds {
                    return vec![];
                }
                // The reference server broadcasts every applied update to every connection,
                // the sender included.
                let diff = txn.encode_state_as_update_v1(&before);
                drop(txn);
                self.broadcast(Self::frame(&Message::Sync(SyncMessage::Update(diff))))
            }
            Message::Awareness(upd) => {
                let summary = self.awareness.apply_update_summary(upd).ok().flatten();
                let Some(s) = summary else { return vec![] };
                let owned = self.conns.entry(conn).or_default();
                for c in &s.added {
                    owned.insert(c.get());
                }
                for c in &s.removed {
                    owned.remove(&c.get());
                }
                let changed: Vec<_> = s.all_changes();
                let upd = self.awareness.update_with_clients(changed).unwrap();
                self.broadcast(Self::frame(&Message::Awareness(upd)))
            }
            _ => vec![],
        }
    }

    fn on_close(&mut self, conn: u64) -> Vec<(u64, Vec<u8>)> {
        let Some(owned) = self.conns.remove(&conn) else {
            return vec![];
        };
        let mut upd = AwarenessUpdate {
            clients: Default::default(),
        };
        for c in owned {
            if let Some((clock, _)) = self.awareness.meta(yrs::block::ClientID::new(c)) {
                upd.clients.insert(
                    yrs::block::ClientID::new(c),
                    yrs::sync::awareness::AwarenessUpdateEntry {
                        clock,
                        json: "null".into(),
                    },
                );
            }
        }
        if upd.clients.is_empty() {
            return vec![];
        }
        let _ = self.awareness.apply_update(upd.clone());
        self.broadcast(Self::frame(&Message::Awareness(upd)))
    }
}

/// One simulated client.
pub struct Client {
    pub session: Session,
    pub doc: Doc,
    pub conn: Option<u64>,
    pub events: Vec<Event>,
    pub sent_frames: Vec<Vec<u8>>,
    /// Frames delivered to it from the server.
    pub received_frames: Vec<Vec<u8>>,
    /// One-way latency of this client's link, in ms.
    pub latency: u64,
    /// Whether its channel to the other tabs is open.
    pub bc: bool,
    /// Frames it posted to the other tabs.
    pub broadcast_frames: Vec<Vec<u8>>,
    /// Messages it posted on the tabs' control channel.
    pub control_frames: Vec<Vec<u8>>,
    /// A crashed tab: it hears nothing, says nothing, and its connection is gone.
    pub crashed: bool,
    /// Acknowledged state vectors it asked to store.
    pub persisted: Vec<Vec<u8>>,
    /// The real reconnect policy, for a client that connects by it ([`Sim::auto_connect`]);
    /// `None`: the test connects and disconnects by hand.
    pub policy: Option<Connection>,
    /// When the policy started each connection attempt.
    pub attempts: Vec<u64>,
}

#[derive(Debug)]
struct Flight {
    at: u64,
    seq: u64,
    conn: u64,
    to_server: bool,
    bytes: Vec<u8>,
}

/// The whole simulated world.
pub struct Sim {
    pub now: u64,
    pub server: Server,
    pub clients: Vec<Client>,
    flights: Vec<Flight>,
    next_conn: u64,
    seq: u64,
    conn_owner: HashMap<u64, usize>,
    /// Random extra delay per frame, in ms (0: order kept per link).
    pub jitter: u64,
    /// Whether a connection attempt reaches the server (false: it fails at once).
    pub reachable: bool,
    rng: fastrand::Rng,
}

impl Sim {
    pub fn new(seed: u64) -> Self {
        Sim {
            now: 0,
            server: Server::new(),
            clients: vec![],
            flights: vec![],
            next_conn: 1,
            seq: 0,
            conn_owner: HashMap::new(),
            jitter: 0,
            reachable: true,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Adds a client with the given document client id; it starts offline.
    pub fn add_client(&mut self, client_id: u64, cfg: Config) -> usize {
        let doc = Doc::with_client_id(client_id);
        let session = Session::new(doc.clone(), cfg, self.now).unwrap();
        self.clients.push(Client {
            session,
            doc,
            conn: None,
            events: vec![],
            sent_frames: vec![],
            received_frames: vec![],
            latency: 5,
            bc: false,
            broadcast_frames: vec![],
            control_frames: vec![],
            crashed: false,
            persisted: vec![],
            policy: None,
            attempts: vec![],
        });
        self.clients.len() - 1
    }

    /// Opens a connection for client `i`.
    pub fn connect(&mut self, i: usize) {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.conn_owner.insert(conn, i);
        let now = self.now;
        let c = &mut self.clients[i];
        c.conn = Some(conn);
        c.session.connecting(now);
        c.session.connected(now);
        let out = self.server.on_connect(conn);
        self.deliver_to_clients(out);
        self.pump(i);
    }

    /// Client `i` connects, and reconnects, by the real policy (delays capped at
    /// `max_backoff_ms`), as a provider with `connect: true` does.
    pub fn auto_connect(&mut self, i: usize, max_backoff_ms: u64) {
        let mut policy = Connection::new(max_backoff_ms, 7 + i as u64, true);
        policy.start();
        self.clients[i].policy = Some(policy);
        self.run_policy(i);
    }

    /// The browser went offline or online for client `i`.
    pub fn set_online(&mut self, i: usize, online: bool) {
        if let Some(p) = &mut self.clients[i].policy {
            if online {
                p.online()
            } else {
                p.offline()
            }
        }
        self.run_policy(i);
    }

    /// Client `i`'s page was hidden or became visible.
    pub fn set_hidden(&mut self, i: usize, hidden: bool) {
        let now = self.now;
        if let Some(p) = &mut self.clients[i].policy {
            if hidden {
                p.hidden(now)
            } else {
                p.visible(now)
            }
        }
        self.run_policy(i);
    }

    /// Executes the policy's commands, as the provider driver does.
    fn run_policy(&mut self, i: usize) {
        loop {
            let Some(cmd) = self.clients[i]
                .policy
                .as_mut()
                .and_then(|p| p.poll_command())
            else {
                return;
            };
            let now = self.now;
            match cmd {
                Command::Connect => {
                    self.clients[i].attempts.push(now);
                    if self.reachable {
                        if let Some(p) = &mut self.clients[i].policy {
                            p.opened();
                        }
                        self.connect(i);
                    } else {
                        self.failed_attempt(i);
                        if let Some(p) = &mut self.clients[i].policy {
                            p.closed(now);
                        }
                    }
                }
                Command::Probe => {
                    self.clients[i].session.probe_now(now);
                    self.pump(i);
                }
            }
        }
    }

    /// Client `i` takes `role` among the tabs (as the driver does when its Web Lock is
    /// granted, or when it starts waiting for one).
    pub fn set_role(&mut self, i: usize, role: crate::core::session::TabRole) {
        let now = self.now;
        self.clients[i].session.set_role(now, role);
        self.pump(i);
    }

    /// Tab `i`'s process dies: its connection drops (the server notices), it leaves the
    /// channel between the tabs, and nothing it would still have said is ever said.
    pub fn crash(&mut self, i: usize) {
        self.clients[i].crashed = true;
        self.clients[i].bc = false;
        if let Some(conn) = self.clients[i].conn.take() {
            let out = self.server.on_close(conn);
            self.deliver_to_clients(out);
        }
        self.flights
            .retain(|f| self.conn_owner.get(&f.conn) != Some(&i));
    }

    /// How many connections the server has open.
    pub fn server_connections(&self) -> usize {
        self.server.conns.len()
    }

    /// Opens client `i`'s channel to the other tabs.
    pub fn open_bc(&mut self, i: usize) {
        self.clients[i].bc = true;
        let now = self.now;
        self.clients[i].session.broadcast_opened(now);
        self.pump(i);
    }

    /// Storage answers client `i` with the state vector the server last acknowledged.
    pub fn seed(&mut self, i: usize, acknowledged: &yrs::StateVector) {
        let now = self.now;
        self.clients[i].session.seed_unconfirmed(now, acknowledged);
        self.pump(i);
    }

    /// Client `i` tries to connect while the server is unreachable: the attempt fails.
    pub fn failed_attempt(&mut self, i: usize) {
        let now = self.now;
        self.clients[i].session.connecting(now);
        self.clients[i].session.closed(now, None);
        self.pump(i);
    }

    /// Closes client `i`'s connection (both ends notice at once).
    pub fn disconnect(&mut self, i: usize) {
        self.drop_conn(i);
    }

    fn drop_conn(&mut self, i: usize) {
        if let Some(conn) = self.clients[i].conn.take() {
            let now = self.now;
            self.clients[i].session.closed(now, Some(1006));
            if let Some(p) = &mut self.clients[i].policy {
                p.closed(now);
            }
            let out = self.server.on_close(conn);
            self.deliver_to_clients(out);
            self.pump(i);
        }
    }

    /// The server process dies: every connection closes and its state is lost unless kept.
    pub fn restart_server(&mut self, keep_doc: bool) {
        for i in 0..self.clients.len() {
            if let Some(conn) = self.clients[i].conn.take() {
                self.server.conns.remove(&conn);
                let now = self.now;
                self.clients[i].session.closed(now, Some(1006));
                if let Some(p) = &mut self.clients[i].policy {
                    p.closed(now);
                }
                self.pump(i);
            }
        }
        self.flights.clear();
        let mode = self.server.mode.clone();
        let old = std::mem::replace(&mut self.server, Server::new());
        self.server.mode = mode;
        if keep_doc {
            let u = old
                .doc
                .transact()
                .encode_state_as_update_v1(&Default::default());
            self.server
                .doc
                .transact_mut()
                .apply_update(Update::decode_v1(&u).unwrap())
                .unwrap();
        }
    }

    fn deliver_to_clients(&mut self, out: Vec<(u64, Vec<u8>)>) {
        for (conn, bytes) in out {
            let Some(&i) = self.conn_owner.get(&conn) else {
                continue;
            };
            let delay = self.clients[i].latency + self.extra();
            self.send(conn, false, bytes, delay);
        }
    }

    fn extra(&mut self) -> u64 {
        if self.jitter == 0 {
            0
        } else {
            self.rng.u64(0..=self.jitter)
        }
    }

    fn send(&mut self, conn: u64, to_server: bool, bytes: Vec<u8>, delay: u64) {
        self.seq += 1;
        self.flights.push(Flight {
            at: self.now + delay,
            seq: self.seq,
            conn,
            to_server,
            bytes,
        });
    }

    /// Executes client `i`'s outputs.
    pub fn pump(&mut self, i: usize) {
        if self.clients[i].crashed {
            return;
        }
        while let Some(o) = self.clients[i].session.poll_output(self.now) {
            match o {
                Output::Transmit(bytes) => {
                    self.clients[i].sent_frames.push(bytes.clone());
                    if let Some(conn) = self.clients[i].conn {
                        let delay = self.clients[i].latency + self.extra();
                        self.send(conn, true, bytes, delay);
                    }
                }
                Output::Close(CloseReason::PermissionDenied) => {
                    // Denied: the policy never tries again (the close that follows changes
                    // nothing).
                    if let Some(p) = &mut self.clients[i].policy {
                        p.denied();
                    }
                    self.drop_conn(i);
                }
                Output::Close(_) => self.drop_conn(i),
                Output::Broadcast(bytes) => {
                    self.clients[i].broadcast_frames.push(bytes.clone());
                    // Tabs of one browser: delivered at once, in order, to every other open tab.
                    for j in 0..self.clients.len() {
                        if j != i && self.clients[j].bc {
                            let now = self.now;
                            self.clients[j].session.handle_broadcast(now, &bytes);
                            self.pump(j);
                        }
                    }
                }
                Output::Control(bytes) => {
                    self.clients[i].control_frames.push(bytes.clone());
                    for j in 0..self.clients.len() {
                        if j != i && self.clients[j].bc {
                            let now = self.now;
                            self.clients[j].session.handle_control(now, &bytes);
                            self.pump(j);
                        }
                    }
                }
                Output::SaveAcknowledged(sv) => self.clients[i].persisted.push(sv),
                Output::Event(e) => {
                    if e == Event::Synced(true) {
                        if let Some(p) = &mut self.clients[i].policy {
                            p.synced();
                        }
                    }
                    self.clients[i].events.push(e)
                }
            }
        }
    }

    /// Runs the world until `until` (ms), delivering frames and firing timers in time order.
    pub fn run_until(&mut self, until: u64) {
        loop {
            for i in 0..self.clients.len() {
                self.pump(i);
            }
            let next_flight = self.flights.iter().map(|f| (f.at, f.seq)).min();
            let next_timer = self
                .clients
                .iter()
                .filter(|c| !c.crashed)
                .flat_map(|c| {
                    let policy = c.policy.as_ref().and_then(|p| p.poll_timeout());
                    [c.session.poll_timeout(), policy]
                })
                .flatten()
                .min();
            let next = match (next_flight, next_timer) {
                (Some((f, _)), Some(t)) => f.min(t),
                (Some((f, _)), None) => f,
                (None, Some(t)) => t,
                (None, None) => until,
            }
            .max(self.now);
            if next > until {
                self.now = until;
                break;
            }
            self.now = next;
            // Deliver every frame due now, in send order.
            let mut due: Vec<Flight> = Vec::new();
            let mut rest = Vec::new();
            for f in self.flights.drain(..) {
                if f.at <= self.now {
                    due.push(f);
                } else {
                    rest.push(f);
                }
            }
            self.flights = rest;
            due.sort_by_key(|f| (f.at, f.seq));
            for f in due {
                let Some(&i) = self.conn_owner.get(&f.conn) else {
                    continue;
                };
                if f.to_server {
                    if self.server.conns.contains_key(&f.conn) {
                        let out = self.server.on_frame(f.conn, &f.bytes);
                        self.deliver_to_clients(out);
                    }
                } else if self.clients[i].conn == Some(f.conn) {
                    self.clients[i].received_frames.push(f.bytes.clone());
                    let now = self.now;
                    self.clients[i].session.handle_frame(now, &f.bytes);
                    self.pump(i);
                }
            }
            for i in 0..self.clients.len() {
                if self.clients[i].crashed {
                    continue;
                }
                if self.clients[i]
                    .session
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now)
                {
                    let now = self.now;
                    self.clients[i].session.handle_timeout(now);
                    self.pump(i);
                }
                let now = self.now;
                if let Some(p) = &mut self.clients[i].policy {
                    if p.poll_timeout().is_some_and(|t| t <= now) {
                        p.handle_timeout(now);
                        self.run_policy(i);
                    }
                }
            }
            if next == until {
                break;
            }
        }
    }

    /// Runs for `ms` more milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        self.run_until(until);
    }
}

/// The text `note` of `doc`.
pub fn text(doc: &Doc) -> String {
    let t = doc.get_or_insert_text("note");
    yrs::GetString::get_string(&t, &doc.transact())
}

/// Types `s` at `at` in the text `note` of `doc`, in a transaction of its own.
pub fn type_text(doc: &Doc, at: u32, s: &str) {
    let t = doc.get_or_insert_text("note");
    yrs::Text::insert(&t, &mut doc.transact_mut(), at, s);
}

/// The text `note` as the server holds it.
pub fn server_text(sim: &Sim) -> String {
    text(&sim.server.doc)
}

/// A document's content as one comparable value.
pub fn snapshot(doc: &Doc) -> (Vec<yrs::Any>, Vec<u8>) {
    use yrs::types::ToJson;
    // Root types must be named with their kind before yrs can render them.
    let note = doc.get_or_insert_text("note");
    let m = doc.get_or_insert_map("m");
    let list = doc.get_or_insert_array("list");
    let a = doc.get_or_insert_array("a");
    let txn = doc.transact();
    let json = vec![
        yrs::Any::from(yrs::GetString::get_string(&note, &txn)),
        m.to_json(&txn),
        list.to_json(&txn),
        a.to_json(&txn),
    ];
    let mut sv: Vec<(u64, u32)> = txn
        .state_vector()
        .iter()
        .map(|(c, k)| (c.get(), *k))
        .collect();
    sv.sort_unstable();
    let sv = sv
        .into_iter()
        .flat_map(|(c, k)| [c.to_le_bytes().to_vec(), k.to_le_bytes().to_vec()].concat())
        .collect();
    (json, sv)
}

/// Encodes a message as one y-websocket frame.
pub fn frame(m: &Message) -> Vec<u8> {
    m.encode_v1()
}
