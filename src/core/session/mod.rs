//! The per-connection sync state machine.
//!
//! Inputs: [`connecting`](Session::connecting), [`connected`](Session::connected),
//! [`handle_frame`](Session::handle_frame), local document updates (picked up from the document
//! on every call), [`handle_timeout`](Session::handle_timeout) and [`closed`](Session::closed),
//! each with the current time in milliseconds. Outputs come out of
//! [`poll_output`](Session::poll_output) in order: frames to send, a request to close, persistence
//! commands and events. Nothing here does I/O, reads a clock or draws random numbers.

use crate::core::origin::Origin;
use crate::core::tap::{Tap, Tapped};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::IdSet;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use crate::core::ack::AckTracker;
use crate::core::awareness::{Awareness, AwarenessChange, AwarenessOrigin};
use crate::core::error::{DecodeError, SyncError};
use crate::core::frame::{encode_message, Dialect, Wire, YWebsocket};
use crate::core::gate::SharedGate;
use crate::core::stats::{Recorder, SyncStats, Unacknowledged};
use crate::core::validate::Limits;

/// Connection status, as y-websocket names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not connected, not trying right now.
    Disconnected,
    /// A socket is being opened.
    Connecting,
    /// The socket is open.
    Connected,
}

impl Status {
    /// The y-websocket string for this status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Disconnected => "disconnected",
            Status::Connecting => "connecting",
            Status::Connected => "connected",
        }
    }
}

/// Something the application may want to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The connection status changed.
    Status(Status),
    /// Synced with the server (first sync step 2 received) or no longer (closed).
    Synced(bool),
    /// The number of local changes the server has not confirmed changed.
    Unsynced {
        /// Unconfirmed changes.
        count: usize,
        /// Their size in update bytes.
        bytes: usize,
    },
    /// Awareness states changed.
    Awareness {
        /// Which clients.
        change: AwarenessChange,
        /// Why.
        origin: AwarenessOrigin,
    },
    /// The server refused access. The session does not reconnect.
    PermissionDenied(String),
    /// The server let this connection in, with this scope (`read-write` or `readonly`).
    Authenticated(String),
    /// The server asks for the token again: answer with [`Session::send_token`].
    TokenRequested,
    /// An application message from the server (Hocuspocus "stateless").
    Stateless(String),
    /// A following tab asks this leader for its metrics: answer with
    /// [`Session::send_tab_stats`].
    TabStatsWanted,
    /// The leading tab's metrics (it sends them every second once it has followers).
    TabStats {
        /// Its session's.
        sync: SyncStats,
        /// The delay of its pending reconnect, ms.
        backoff_ms: Option<u64>,
    },
    /// A problem; see [`SyncError::code`].
    Error(SyncError),
}

/// Why the session asks to close the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The server sent something unusable.
    Protocol(SyncError),
    /// The server stopped answering.
    Timeout,
    /// The server refused access.
    PermissionDenied,
    /// The server ended this document's session (Hocuspocus `close`), with its reason.
    ServerClosed(String),
}

/// One output of the session, in the order it must be executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this frame on the socket.
    Transmit(Vec<u8>),
    /// Post this frame to the other tabs (BroadcastChannel), when it is open.
    Broadcast(Vec<u8>),
    /// Post this message on the tabs' control channel (see `core::leader`), beside the
    /// BroadcastChannel the documents sync on.
    Control(Vec<u8>),
    /// Close the socket.
    Close(CloseReason),
    /// The server holds everything in this (v1-encoded) state vector, and every local change
    /// is confirmed: store it with the document. Stored, it lets a reloaded page know which
    /// local content the server has not confirmed (see [`Session::seed_unconfirmed`]) before
    /// the socket connects.
    SaveAcknowledged(Vec<u8>),
    /// Tell the application.
    Event(Event),
}

/// Session settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Limits on untrusted input.
    pub limits: Limits,
    /// Whether to run awareness (presence) on this connection.
    pub awareness: bool,
    /// Probe the server with a sync step 1 after this long without a frame from it (ms).
    pub idle_probe_ms: u64,
    /// Close the connection when a probe is not answered within this long (ms) of silence.
    pub probe_timeout_ms: u64,
    /// How many times a change the server lacks is sent again before an error is reported.
    pub max_resend: u32,
    /// This session's number: it applies the server's changes with [`Origin::Server`] and
    /// other tabs' with [`Origin::Tab`] of it (so they are not sent back).
    pub id: u64,
    /// This tab's number among the tabs of the document (random in a browser: the tabs'
    /// sessions are numbered in separate processes).
    pub tab: u64,
    /// Drop remote awareness states not renewed for this long (ms); the local state is renewed
    /// at half of it. y-protocols uses 30,000.
    pub awareness_timeout_ms: u64,
    /// Also send a probe (sync step 1) this often while connected (ms, 0 = only when idle),
    /// like y-websocket's `resyncInterval`.
    pub resync_interval_ms: u64,
    /// At most one acknowledgement probe this often (ms) while local changes keep coming: the
    /// first change after a quiet spell is probed at once, a burst (typing) shares one probe
    /// per window instead of doubling the frames and the server's work per keystroke.
    pub ack_interval_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        let id = crate::core::origin::next_number();
        Config {
            limits: Limits::default(),
            awareness: true,
            idle_probe_ms: 15_000,
            probe_timeout_ms: 10_000,
            max_resend: 3,
            awareness_timeout_ms: crate::core::awareness::OUTDATED_MS,
            resync_interval_ms: 0,
            ack_interval_ms: 50,
            id,
            tab: id,
        }
    }
}

mod lead;
mod link;
mod tabs;
mod timers;

use lead::Lead;
pub use lead::TabRole;
use link::{Link, Probe};
use tabs::TabPeer;
use timers::{Timer, TimerTable};

#[derive(Debug)]
enum Conn {
    Down,
    Connecting,
    /// Open, with its acknowledgement probing.
    Up(Link),
    Denied,
}

/// Local updates not yet handled, each with "came from another tab".
type LocalQueue = Arc<Mutex<Vec<(Vec<u8>, bool)>>>;

/// The sync state machine for one document on one server connection.
pub struct Session {
    doc: Doc,
    cfg: Config,
    dialect: Box<dyn Dialect>,
    conn: Conn,
    ack: AckTracker,
    awareness: Awareness,
    local: LocalQueue,
    out: VecDeque<Output>,
    now: u64,
    last_unsynced: (usize, usize),
    /// The other tabs of this document (BroadcastChannel).
    tabs: TabPeer,
    /// `Origin::Server` of this session, encoded.
    origin: String,
    /// Where the session hears of local changes, and its consumer there.
    tap: Rc<Tap>,
    tap_id: u64,
    stats: Recorder,
    gate: SharedGate,
    /// Its role among the tabs that share one connection.
    lead: Lead,
    /// The status the last status event said: status events go out only when it moves.
    told_status: Status,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("conn", &self.conn)
            .field("unconfirmed", &self.ack.count())
            .finish()
    }
}

/// A session could not subscribe to its document (a transaction was open).
#[derive(Debug, thiserror::Error)]
#[error("the document is busy in another transaction")]
pub struct DocBusy;

fn lock(q: &LocalQueue) -> std::sync::MutexGuard<'_, Vec<(Vec<u8>, bool)>> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    /// A session for `doc` speaking y-websocket, at time `now` (ms).
    pub fn new(doc: Doc, cfg: Config, now: u64) -> Result<Self, DocBusy> {
        Self::with_dialect(doc, cfg, Box::new(YWebsocket), now)
    }

    /// A session with another wire dialect.
    pub fn with_dialect(
        doc: Doc,
        cfg: Config,
        dialect: Box<dyn Dialect>,
        now: u64,
    ) -> Result<Self, DocBusy> {
        let local: LocalQueue = Arc::default();
        let origin = Origin::Server(cfg.id).encode();
        let bc_origin = Origin::Tab(cfg.id).encode();
        // Its own tap until it shares the document's (`share_tap`).
        let tap = Rc::new(Tap::attach(&doc).map_err(|_| DocBusy)?);
        let tap_id = tap.add(local_consumer(local.clone(), cfg.id));
        Ok(Session {
            awareness: Awareness::new(
                doc.client_id().get(),
                now,
                cfg.awareness_timeout_ms,
                cfg.limits.max_awareness_clients,
            ),
            doc,
            dialect,
            conn: Conn::Down,
            ack: AckTracker::default(),
            local,
            out: VecDeque::new(),
            now,
            last_unsynced: (0, 0),
            tabs: TabPeer::new(bc_origin),
            origin,
            tap,
            tap_id,
            stats: Recorder::default(),
            gate: SharedGate::default(),
            lead: Lead::new(),
            told_status: Status::Disconnected,
            cfg,
        })
    }

    /// The document.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// Makes `tap` the one this session hears local changes from: the document's one tap,
    /// which its storage and listeners use too, so each change is encoded once.
    pub fn share_tap(&mut self, tap: Rc<Tap>) {
        self.tap.remove(self.tap_id);
        self.tap_id = tap.add(local_consumer(self.local.clone(), self.cfg.id));
        self.tap = tap;
    }

    /// Makes `gate` the one this session applies through: the document's one gate, which its
    /// storage and API use too. Call it before the session handles any frame.
    pub fn share_gate(&mut self, gate: SharedGate) {
        self.gate = gate;
    }

    /// The yrs origins of the transactions this session applies: updates from the server and
    /// updates from other tabs.
    pub fn applied_origins(&self) -> [&str; 2] {
        [&self.origin, &self.tabs.origin]
    }

    /// Whether this session runs awareness ([`Config::awareness`]).
    pub fn awareness_enabled(&self) -> bool {
        self.cfg.awareness
    }

    /// The awareness (presence) states.
    pub fn awareness(&self) -> &Awareness {
        &self.awareness
    }

    /// Current status (a follower's is its leader's connection).
    pub fn status(&self) -> Status {
        if self.lead.role == TabRole::Follower {
            return self.lead.follower_status();
        }
        match self.conn {
            Conn::Down | Conn::Denied => Status::Disconnected,
            Conn::Connecting => Status::Connecting,
            Conn::Up(_) => Status::Connected,
        }
    }

    /// True once the first sync step 2 of this connection arrived (a follower: of its
    /// leader's).
    pub fn synced(&self) -> bool {
        if self.lead.role == TabRole::Follower {
            return self.lead.follower_synced();
        }
        matches!(&self.conn, Conn::Up(l) if l.synced)
    }

    /// True after the server refused access; the adapter must not reconnect.
    pub fn denied(&self) -> bool {
        matches!(self.conn, Conn::Denied)
    }

    /// Local changes the server has not confirmed: (count, bytes).
    pub fn unconfirmed(&mut self) -> (usize, usize) {
        self.pull_local();
        (self.ack.count(), self.ack.bytes())
    }

    /// A snapshot of the metrics at `now` (ms).
    pub fn stats(&mut self, now: u64) -> SyncStats {
        self.tick(now);
        self.pull_local();
        let unacknowledged = Unacknowledged {
            count: self.ack.count() as u64,
            bytes: self.ack.bytes() as u64,
            oldest_age_ms: self.ack.oldest_at().map(|t| self.now.saturating_sub(t)),
        };
        self.stats.snapshot(self.now, unacknowledged)
    }

    /// A mark for "every local change made until now" (see [`confirmed`](Self::confirmed)).
    pub fn ack_mark(&mut self) -> u64 {
        self.pull_local();
        self.ack.next_seq()
    }

    /// True when every local change made before `mark` was taken is confirmed by the server.
    pub fn confirmed(&self, mark: u64) -> bool {
        self.ack.first_seq() >= mark
    }

    /// The adapter started opening a socket.
    pub fn connecting(&mut self, now: u64) {
        self.tick(now);
        self.stats.connecting();
        if !matches!(self.conn, Conn::Connecting) {
            self.conn = Conn::Connecting;
            self.emit(Event::Status(Status::Connecting));
        }
    }

    /// The socket opened: send sync step 1 (a probe) and the local awareness state. What the
    /// gate held of the last connection's frames is dropped: this connection's sync step 2
    /// sends it again.
    pub fn connected(&mut self, now: u64) {
        self.connected_with_token(now, None);
    }

    /// The socket opened, on a dialect that authenticates: the token goes first (the server
    /// holds everything else until it has checked it), then what [`connected`](Self::connected)
    /// sends.
    pub fn connected_with_token(&mut self, now: u64, token: Option<&str>) {
        self.tick(now);
        let dropped = self.gate.borrow_mut().drop_origin(self.origin.as_bytes());
        if dropped > 0 {
            log::debug!(target: "ysync::session", "dropped {dropped} held blocks of the last connection");
        }
        self.pull_local();
        self.ack.reset_sent();
        self.stats.up(now);
        self.conn = Conn::Up(Link::new(now));
        self.emit(Event::Status(Status::Connected));
        self.send_hello(token);
        self.send_probe();
        if self.cfg.awareness && self.lead.role == TabRole::Leader {
            // The presence of every tab this connection carries.
            let u = self.awareness.full_update();
            if !u.clients.is_empty() {
                self.transmit(&Message::Awareness(u));
            }
        } else if self.cfg.awareness && self.awareness.local_state().is_some() {
            let u = self.awareness.local_update();
            self.transmit(&Message::Awareness(u));
        }
    }

    /// Answers [`Event::TokenRequested`] with a fresh token.
    pub fn send_token(&mut self, now: u64, token: Option<&str>) {
        self.tick(now);
        if matches!(self.conn, Conn::Up(_)) {
            self.send_hello(token);
        }
    }

    fn send_hello(&mut self, token: Option<&str>) {
        if let Some(frame) = self.dialect.hello(token) {
            self.stats.sent_kind("auth", frame.len());
            self.out.push_back(Output::Transmit(frame));
        }
    }

    /// Sends an application message (Hocuspocus "stateless"); false when the dialect has
    /// none or the connection is not up.
    pub fn send_stateless(&mut self, now: u64, payload: &str) -> bool {
        self.tick(now);
        if !matches!(self.conn, Conn::Up(_)) {
            return false;
        }
        match self.dialect.stateless(payload) {
            Some(frame) => {
                self.stats.sent_kind("stateless", frame.len());
                self.out.push_back(Output::Transmit(frame));
                true
            }
            None => false,
        }
    }

    /// The scope the server granted this connection, on a dialect that says.
    pub fn scope(&self) -> Option<&str> {
        match &self.conn {
            Conn::Up(l) => l.scope.as_deref(),
            _ => None,
        }
    }

    /// Probes the server now (e.g. a long-hidden page became visible): a dead connection is
    /// then noticed within the probe timeout.
    pub fn probe_now(&mut self, now: u64) {
        self.tick(now);
        if matches!(&self.conn, Conn::Up(l) if !l.in_flight()) {
            self.send_probe();
        }
    }

    /// The socket closed (or failed to open), with its close code if it has one.
    pub fn closed(&mut self, now: u64, code: Option<u16>) {
        self.tick(now);
        // Down or Denied: the session already left the connection (a protocol error or a
        // refusal) and said so; this is the adapter confirming the socket is gone.
        if matches!(self.conn, Conn::Connecting | Conn::Up(_)) {
            let why = code.map_or_else(|| "closed".to_string(), |c| c.to_string());
            self.go_down(Conn::Down, why);
        }
    }

    /// Leaves the connection (to `next`: Down or Denied) and tells the app: not synced, the
    /// server's awareness states gone, disconnected.
    fn go_down(&mut self, next: Conn, why: String) {
        let was_synced = self.synced();
        let was_up = matches!(self.conn, Conn::Up(_));
        self.stats.down(self.now);
        self.stats.closed(why);
        self.conn = next;
        if was_synced {
            self.emit(Event::Synced(false));
        }
        // Only a connection that was up brought states from the server. A failed attempt must
        // not wipe the states other tabs gave us while the server is down.
        if was_up {
            let change = self.awareness.remove_remote();
            self.emit_awareness(change, AwarenessOrigin::Closed);
            // The other tabs' states went too: ask them again (they are still here).
            if self.cfg.awareness && self.tabs.open {
                self.broadcast(&Message::AwarenessQuery);
            }
        }
        self.emit(Event::Status(Status::Disconnected));
    }

    /// A frame arrived from the server. Malformed input leaves the document untouched and
    /// asks for the connection to be closed.
    pub fn handle_frame(&mut self, now: u64, frame: &[u8]) {
        self.tick(now);
        self.pull_local();
        match &mut self.conn {
            Conn::Up(l) => l.received(now),
            // A frame after close (a replaced socket) is ignored.
            _ => return,
        }
        // The other tabs get what the server sends (they check it as this session does).
        self.relay(frame);
        let decoded = self.dialect.decode(frame, &self.cfg.limits);
        self.stats.received(&decoded.messages, frame.len());
        for m in decoded.messages {
            if let Err(e) = self.handle_wire(m) {
                self.fail(SyncError::MalformedFrame(e));
                return;
            }
            if !matches!(self.conn, Conn::Up(_)) {
                return;
            }
        }
        match decoded.error {
            Some(e @ SyncError::UnknownMessageType(_)) => self.emit(Event::Error(e)),
            Some(e) => self.fail(e),
            None => {}
        }
        self.flush_local();
    }

    /// Time passed: the expired timers fire (see [`Timer::ALL`] for the order): ask about
    /// recent changes, renew / expire awareness, give up on a silent server, probe an idle one.
    pub fn handle_timeout(&mut self, now: u64) {
        self.tick(now);
        self.pull_local();
        for t in Timer::ALL {
            // Each timer's deadline as the ones before it left the state.
            if self.timers().expired(t, now) {
                self.fire(t, now);
            }
        }
    }

    fn fire(&mut self, t: Timer, now: u64) {
        match t {
            Timer::AckProbe => self.flush_local(),
            Timer::Awareness => {
                let (renew, change) = self.awareness.on_timeout(now);
                if let Some((u, renewed)) = renew {
                    self.send_awareness(u);
                    self.emit_awareness(renewed, AwarenessOrigin::Local);
                }
                self.emit_awareness(change, AwarenessOrigin::Timeout);
            }
            Timer::ProbeTimeout => {
                let timeout = self.cfg.probe_timeout_ms;
                self.emit(Event::Error(SyncError::Timeout(timeout)));
                self.go_down(Conn::Down, "timeout".into());
                self.out.push_back(Output::Close(CloseReason::Timeout));
            }
            Timer::IdleProbe | Timer::Resync => self.send_probe(),
            Timer::TabStats => self.stats_for_tabs(now),
        }
    }

    /// Every deadline the session has now: its one timer table.
    fn timers(&self) -> TimerTable {
        let mut t = TimerTable::default();
        if self.cfg.awareness {
            t.set(Timer::Awareness, Some(self.awareness.next_timeout()));
        }
        t.set(Timer::TabStats, self.tab_stats_at());
        if let Conn::Up(l) = &self.conn {
            t.set(Timer::AckProbe, l.ack_probe_at(self.cfg.ack_interval_ms));
            t.set(
                Timer::ProbeTimeout,
                l.probe_timeout_at(self.cfg.probe_timeout_ms),
            );
            t.set(Timer::IdleProbe, l.idle_probe_at(self.cfg.idle_probe_ms));
            t.set(Timer::Resync, l.resync_at(self.cfg.resync_interval_ms));
        }
        t
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers().next()
    }

    /// The next output to execute at `now` (ms). Local document changes made since the last
    /// call are turned into frames here (and dated `now`), so an adapter only has to call this
    /// after an edit.
    pub fn poll_output(&mut self, now: u64) -> Option<Output> {
        self.tick(now);
        if self.out.is_empty() {
            self.pull_local();
            self.flush_local();
        }
        self.out.pop_front()
    }

    /// Sets (or clears) this client's awareness state (JSON text) and broadcasts it.
    pub fn set_local_awareness(&mut self, now: u64, json: Option<&str>) {
        self.tick(now);
        let (update, change) = self.awareness.set_local(json);
        if self.cfg.awareness {
            self.send_awareness(update);
        }
        self.emit_awareness(change, AwarenessOrigin::Local);
    }

    fn tick(&mut self, now: u64) {
        self.now = self.now.max(now);
        self.awareness.set_now(self.now);
    }

    fn emit(&mut self, e: Event) {
        if let Event::Status(s) = e {
            if s == self.told_status {
                return;
            }
            self.told_status = s;
        }
        let connection = matches!(e, Event::Status(_) | Event::Synced(_));
        match &e {
            Event::Error(err) => self.stats.error(err.code()),
            Event::PermissionDenied(_) => self.stats.error("PERMISSION_DENIED"),
            _ => {}
        }
        self.out.push_back(Output::Event(e));
        if connection {
            self.announce();
        }
    }

    fn transmit(&mut self, m: &Message) {
        self.transmit_confirming(m, Vec::new());
    }

    /// [`transmit`](Self::transmit) when connected.
    fn transmit_if_up(&mut self, m: &Message) {
        if matches!(self.conn, Conn::Up(_)) {
            self.transmit(m);
        }
    }

    /// Sends `m`; on a dialect that answers every update and sync step 2 with a sync status,
    /// its answer confirms the local changes `seqs` (ack tracker numbers) it carries.
    fn transmit_confirming(&mut self, m: &Message, seqs: Vec<u64>) {
        if self.dialect.acknowledges_updates()
            && matches!(
                m,
                Message::Sync(SyncMessage::Update(_) | SyncMessage::SyncStep2(_))
            )
        {
            if let Conn::Up(l) = &mut self.conn {
                l.statuses.push_back(seqs);
            }
        }
        let frame = self.dialect.encode(m);
        self.stats.sent(m, frame.len());
        self.out.push_back(Output::Transmit(frame));
    }

    /// Other tabs always speak plain y-protocols, whatever the server's dialect.
    fn broadcast(&mut self, m: &Message) {
        self.out.push_back(Output::Broadcast(encode_message(m)));
    }

    /// A change went out that only a probe can confirm: ask for one (not where the server
    /// answers each update with a sync status).
    fn probe_to_confirm(&mut self) {
        if self.dialect.acknowledges_updates() {
            return;
        }
        if let Conn::Up(l) = &mut self.conn {
            l.want_probe();
        }
    }

    /// Our awareness update goes to the server (when connected) and to the other tabs.
    fn send_awareness(&mut self, u: yrs::sync::awareness::AwarenessUpdate) {
        let m = Message::Awareness(u);
        if matches!(self.conn, Conn::Up(_)) {
            self.transmit(&m);
        }
        if self.tabs.open {
            self.broadcast(&m);
        }
    }

    fn fail(&mut self, e: SyncError) {
        self.emit(Event::Error(e.clone()));
        self.go_down(Conn::Down, "protocol".into());
        self.out.push_back(Output::Close(CloseReason::Protocol(e)));
    }

    /// Moves local updates from the document observer into the ack tracker, sending them when
    /// connected.
    fn pull_local(&mut self) {
        let updates = std::mem::take(&mut *lock(&self.local));
        if updates.is_empty() {
            return;
        }
        let up = matches!(self.conn, Conn::Up(_));
        for (u, from_bc) in updates {
            // A change from another tab goes to the server too (that tab may be offline), but
            // never back to the tabs.
            if self.tabs.open && !from_bc {
                self.broadcast(&Message::Sync(SyncMessage::Update(u.clone())));
            }
            if !from_bc {
                self.stats.applied().local += 1;
            }
            let message = up.then(|| Message::Sync(SyncMessage::Update(u.clone())));
            let seq = self.ack.push(u, up, self.now);
            if let Some(m) = message {
                self.transmit_confirming(&m, seq.into_iter().collect());
            }
            if seq.is_some() {
                self.probe_to_confirm();
            }
        }
        self.report_unsynced();
    }

    /// Sends a probe for changes sent since the last one, unless one is already waiting or
    /// the ack interval has not passed.
    fn flush_local(&mut self) {
        if let Conn::Up(l) = &self.conn {
            if l.ack_probe_at(self.cfg.ack_interval_ms)
                .is_some_and(|at| self.now >= at)
            {
                self.send_probe();
            }
        }
    }

    fn send_probe(&mut self) {
        let sv = {
            let txn = self.doc.transact();
            self.ack.probe_vector(&txn.state_vector())
        };
        let p = Probe {
            sent_at: self.now,
            id: self.ack.next_probe(),
        };
        if let Conn::Up(l) = &mut self.conn {
            l.sent(p);
        }
        self.transmit(&Message::Sync(SyncMessage::SyncStep1(sv)));
    }

    fn report_unsynced(&mut self) {
        self.share_confirmations();
        let now = (self.ack.count(), self.ack.bytes());
        if now != self.last_unsynced {
            let was_unconfirmed = self.last_unsynced.0 > 0;
            self.last_unsynced = now;
            self.emit(Event::Unsynced {
                count: now.0,
                bytes: now.1,
            });
            if was_unconfirmed && now.0 == 0 {
                self.persist_acknowledged();
            }
        }
    }

    fn persist_acknowledged(&mut self) {
        let sv = crate::core::frame::encode_state_vector(&self.state_vector());
        self.out.push_back(Output::SaveAcknowledged(sv));
    }

    /// Marks as unconfirmed every local change not covered by `acknowledged` (a state vector
    /// from a stored [`Output::SaveAcknowledged`]; empty if the server never confirmed
    /// anything), e.g. after a reload. Deletions always count until the server shows them.
    pub fn seed_unconfirmed(&mut self, now: u64, acknowledged: &StateVector) {
        self.tick(now);
        self.pull_local();
        let diff = self.doc.transact().encode_state_as_update_v1(acknowledged);
        // Changes made or confirmed since this session started are already accounted for
        // (storage may answer after the first edits, or after the first sync).
        if Update::decode_v1(&diff).is_ok_and(|u| self.ack.known(&u)) {
            self.report_unsynced();
            return;
        }
        let up = matches!(self.conn, Conn::Up(_));
        if self.through_tab() {
            // The leader sends it.
            self.control(&crate::core::leader::Control::Unconfirmed(diff.clone()));
        }
        if let Some(seq) = self.ack.push(diff.clone(), up, self.now).filter(|_| up) {
            self.transmit_confirming(&Message::Sync(SyncMessage::Update(diff)), vec![seq]);
            self.probe_to_confirm();
        }
        self.report_unsynced();
    }

    /// Applies a remote update (validated by the dialect); returns the ids of its blocks and
    /// its delete set, which confirm local changes when it answers a probe.
    fn apply_remote(&mut self, update: &[u8]) -> Result<(IdSet, IdSet), DecodeError> {
        let origin = self.origin.clone();
        let ids = self.apply_with_origin(update, &origin)?;
        self.ack.server_holds(&ids.0, &ids.1);
        Ok(ids)
    }

    fn apply_with_origin(
        &mut self,
        update: &[u8],
        origin: &str,
    ) -> Result<(IdSet, IdSet), DecodeError> {
        let yrs_err = |e: &dyn std::fmt::Display| DecodeError::Yrs(e.to_string());
        let mut gate = self.gate.borrow_mut();
        let applied = {
            let mut txn = self
                .doc
                .try_transact_mut_with(origin)
                .map_err(|e| yrs_err(&e))?;
            gate.apply(&mut txn, update, &self.cfg.limits)?
        };
        // Blocks other paths held (storage, the app's applyUpdate) that this filled the gap for.
        gate.settle(&self.doc, &self.cfg.limits);
        drop(gate);
        // What the server holds (for acknowledgements), whether or not it all fits now.
        let sv = self
            .doc
            .try_transact()
            .map_err(|e| yrs_err(&e))?
            .state_vector();
        let ids = crate::core::split::server_ids(update, applied.delete_set_at, |c| {
            u64::from(sv.get(&yrs::ClientID::new(c)))
        })?;
        if let Some(e) = applied.error() {
            self.emit(Event::Error(e));
        }
        Ok(ids)
    }

    fn handle_message(&mut self, m: Message) -> Result<(), DecodeError> {
        match m {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let diff = {
                    let txn = self.doc.transact();
                    txn.encode_state_as_update_v1(&sv)
                };
                // It carries every unconfirmed change the server lacks.
                let seqs = self.ack.seqs();
                self.transmit_confirming(&Message::Sync(SyncMessage::SyncStep2(diff)), seqs);
                self.ack.mark_all_sent();
                if self.ack.count() > 0 {
                    self.probe_to_confirm();
                }
            }
            Message::Sync(SyncMessage::SyncStep2(u)) => match self.apply_remote(&u) {
                Ok((have, deleted)) => {
                    self.stats.applied().remote += 1;
                    self.on_probe_answer(&have, &deleted);
                }
                Err(e @ DecodeError::OverBudget { .. }) => self.over_budget(e),
                Err(e) => return Err(e),
            },
            Message::Sync(SyncMessage::Update(u)) => match self.apply_remote(&u) {
                Ok(_) => self.stats.applied().remote += 1,
                Err(e @ DecodeError::OverBudget { .. }) => self.over_budget(e),
                Err(e) => return Err(e),
            },
            Message::Awareness(u) => self.on_remote_awareness(u),
            Message::AwarenessQuery => {
                if let Some(m) = self.awareness_answer() {
                    self.transmit(&m);
                }
            }
            // A refusal arrives as `Wire::Denied` (see `Wire::from`).
            Message::Auth(_) | Message::Custom(..) => {}
        }
        Ok(())
    }

    fn handle_wire(&mut self, w: Wire) -> Result<(), DecodeError> {
        match w {
            Wire::Y(m) => return self.handle_message(m),
            Wire::Denied(reason) => {
                self.emit(Event::PermissionDenied(reason));
                self.go_down(Conn::Denied, "permissionDenied".into());
                self.out
                    .push_back(Output::Close(CloseReason::PermissionDenied));
            }
            Wire::Authenticated(scope) => {
                if let Conn::Up(l) = &mut self.conn {
                    l.scope = Some(scope.clone());
                }
                self.emit(Event::Authenticated(scope));
            }
            Wire::TokenRequest => self.emit(Event::TokenRequested),
            Wire::SyncStatus(applied) => self.on_sync_status(applied),
            Wire::Stateless(payload) => self.emit(Event::Stateless(payload)),
            Wire::Closed(reason) => {
                self.go_down(Conn::Down, "serverClosed".into());
                self.out
                    .push_back(Output::Close(CloseReason::ServerClosed(reason)));
            }
        }
        Ok(())
    }

    /// The server answered the oldest update or step 2 it had not answered: applied, its
    /// changes are confirmed; refused (a read-only connection), they stay unconfirmed and the
    /// refusal is reported once per connection.
    fn on_sync_status(&mut self, applied: bool) {
        let Conn::Up(l) = &mut self.conn else { return };
        // A status nobody waits for (a server that volunteers them) proves nothing.
        let Some(seqs) = l.statuses.pop_front() else {
            return;
        };
        if applied {
            self.ack.confirm(&seqs);
            self.report_unsynced();
        } else if !seqs.is_empty() && l.give_up_once() {
            self.emit(Event::Error(SyncError::ReadOnly));
        }
    }

    /// An update past the document's memory budget: refused, reported, and the connection
    /// kept (what the document holds stays usable; reconnecting would bring the same update).
    fn over_budget(&mut self, e: DecodeError) {
        log::warn!(target: "ysync::session", "refused an update: {e}");
        self.emit(Event::Error(SyncError::MemoryBudget(e)));
    }

    /// Applies a (validated) awareness update from the server or another tab.
    fn on_remote_awareness(&mut self, u: yrs::sync::awareness::AwarenessUpdate) {
        if self.cfg.awareness {
            let change = self.awareness.apply(u);
            self.emit_awareness(change, AwarenessOrigin::Remote);
        }
    }

    fn emit_awareness(&mut self, change: AwarenessChange, origin: AwarenessOrigin) {
        if change.refused > 0 {
            log::warn!(target: "ysync::session", "refused {} awareness entries past the cap", change.refused);
            self.emit(Event::Error(SyncError::AwarenessLimit {
                refused: change.refused,
                max: self.awareness.max_clients(),
            }));
        }
        if change.touched() {
            self.emit(Event::Awareness { change, origin });
        }
    }

    /// The answer to an awareness query: every known state.
    fn awareness_answer(&self) -> Option<Message> {
        self.cfg
            .awareness
            .then(|| Message::Awareness(self.awareness.full_update()))
    }

    fn on_probe_answer(&mut self, have: &IdSet, deleted: &IdSet) {
        let (probe, first) = match &mut self.conn {
            Conn::Up(l) => l.answered(),
            _ => return,
        };
        if first {
            self.emit(Event::Synced(true));
        }
        let Some(probe) = probe else {
            // An answer nobody asked for (a server that volunteers step 2): no proof of order.
            return;
        };
        self.stats.probe_answered(probe.sent_at, self.now);
        let outcome = self.ack.on_answer(have, deleted, probe.id);
        let max_resend = self.cfg.max_resend;
        let mut resent = false;
        let mut exhausted = None;
        for (update, attempts) in outcome.missing {
            if attempts >= max_resend {
                exhausted = Some(attempts);
                continue;
            }
            self.transmit(&Message::Sync(SyncMessage::Update(update)));
            resent = true;
        }
        if let Conn::Up(l) = &mut self.conn {
            if resent {
                l.want_probe();
            }
            if !(exhausted.is_some() && l.give_up_once()) {
                exhausted = None;
            }
        }
        if let Some(n) = exhausted {
            self.emit(Event::Error(SyncError::NotApplied(n)));
        }
        self.report_unsynced();
    }

    /// Encodes the whole local state vector as Yjs does (for persistence and diagnostics).
    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.tap.remove(self.tap_id);
    }
}

/// The session's consumer of a document tap: local changes (and other tabs') are queued, not
/// what this session applied from the server, nor what storage restored.
fn local_consumer(local: LocalQueue, id: u64) -> impl Fn(&Tapped<'_, '_>) + 'static {
    move |t| match t.origin() {
        Some(Origin::Server(n)) if n == id => {}
        Some(Origin::Restore(_)) => {}
        o => lock(&local).push((t.update().to_vec(), o == Some(Origin::Tab(id)))),
    }
}
