//! The provider driver: runs a core [`Session`] (the protocol) and a core [`Connection`] (when
//! to connect) against the browser's WebSocket, BroadcastChannel, timers and window events.
//!
//! Every browser event feeds a machine, then `pump` executes the session's outputs. Events
//! and waiter settlements are queued while the state is borrowed and delivered after the
//! borrow is released, so a listener may call back into the provider.
//!
//! This is the Rust API (Rust config, Rust events, async waits); `js::provider` only parses
//! JS options into a [`ProviderConfig`] and turns [`ProviderEvent`]s into JS events.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use crate::core::awareness::{AwarenessChange, AwarenessOrigin};
use crate::core::connection::{Command, Connection};
use crate::core::error::SyncError;
use crate::core::frame::{Dialect, YWebsocket};
use crate::core::inbox::Inbox;
use crate::core::session::TabRole;
use crate::core::session::{CloseReason, Config, Event, Output, Session, Status};
use crate::core::stats::SyncStats;
use crate::driver::document::{AsDocument, Document};
use crate::driver::error::{Error, Result};
use crate::driver::leadership::Leadership;
use crate::driver::multiplex::{Attachment, Hub, Membership};
use crate::driver::subscribers::{Subscribers, Subscription};
pub use crate::driver::wait::Settle;
use crate::web::broadcast::Channel;
use crate::web::clock::{now_f64, now_ms, seed};
use crate::web::listener::Listener;
use crate::web::socket::{Socket, SocketEvent};
use crate::web::timer::{Interval, Timer};

/// A token fetch in progress: the token, or `None` to connect without one.
pub type TokenFuture = Pin<Box<dyn Future<Output = Result<Option<String>>>>>;

/// Called before every connection attempt for a fresh token.
pub type TokenSource = Rc<dyn Fn() -> TokenFuture>;

/// Where the token goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenIn {
    /// A query parameter (named by [`ProviderConfig::token_param`]).
    Query,
    /// One more offered WebSocket subprotocol (browsers print a failed connection's URL to
    /// the console, never its headers).
    Protocol,
    /// The protocol's own authentication message, first on the socket (Hocuspocus).
    Message,
}

/// How a provider connects and syncs; the defaults are y-websocket's.
#[derive(Clone)]
pub struct ProviderConfig {
    /// Connect right away (default true).
    pub connect: bool,
    /// Query parameters.
    pub params: Vec<(String, String)>,
    /// WebSocket subprotocols offered.
    pub protocols: Vec<String>,
    /// Fetches a token before every connection attempt.
    pub token: Option<TokenSource>,
    /// Query parameter carrying the token (default `token`).
    pub token_param: String,
    /// Where the token goes (default a query parameter).
    pub token_in: TokenIn,
    /// Presence on this connection (default true).
    pub awareness: bool,
    /// Drop a peer's presence not renewed for this long, ms (default 30000).
    pub awareness_timeout_ms: u64,
    /// Most remote clients whose presence is kept at once.
    pub max_awareness_clients: usize,
    /// Cap of the reconnect delay, ms (default 2500).
    pub max_backoff_ms: u64,
    /// Also re-sync this often, ms (0: never).
    pub resync_interval_ms: u64,
    /// While edits keep coming, ask for an acknowledgement at most this often, ms (default 50).
    pub ack_interval_ms: u64,
    /// Probe a quiet server this often, ms (default 15000).
    pub heartbeat_interval_ms: u64,
    /// Reconnect if a probe is not answered within this, ms (default 10000).
    pub heartbeat_timeout_ms: u64,
    /// Sync with the other tabs of this origin over BroadcastChannel (default true).
    pub cross_tab: bool,
    /// The tabs of this origin that open this document share one connection: the one a Web
    /// Lock elects connects, the others go through it (default true; needs `cross_tab` and
    /// Web Locks, else every tab connects).
    pub share_connection: bool,
    /// Larger frames close the connection, bytes (default 64 MiB).
    pub max_message_size: usize,
    /// Emit [`ProviderEvent::Stats`] this often, ms (0: off).
    pub stats_interval_ms: u64,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            connect: true,
            params: Vec::new(),
            protocols: Vec::new(),
            token: None,
            token_param: "token".into(),
            token_in: TokenIn::Query,
            awareness: true,
            awareness_timeout_ms: 30_000,
            max_awareness_clients: crate::core::awareness::MAX_CLIENTS,
            max_backoff_ms: 2_500,
            resync_interval_ms: 0,
            ack_interval_ms: 50,
            heartbeat_interval_ms: 15_000,
            heartbeat_timeout_ms: 10_000,
            cross_tab: true,
            share_connection: true,
            max_message_size: 64 * 1024 * 1024,
            stats_interval_ms: 0,
        }
    }
}

/// What a provider tells its subscribers (y-websocket's events, in Rust).
#[derive(Debug)]
pub enum ProviderEvent {
    /// `status`: connecting, connected or disconnected.
    Status(Status),
    /// `sync` / `synced`: whether the current connection finished its first sync.
    Sync(bool),
    /// `unsynced`: how many local changes the server has not acknowledged.
    Unsynced(usize),
    /// `connection-close`: the socket closed.
    ConnectionClose {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
        /// Whether the closing handshake completed.
        was_clean: bool,
    },
    /// `connection-error`: the socket failed (no detail: browsers give none), or a token or
    /// socket could not be had.
    ConnectionError(Option<Error>),
    /// `permission-denied`: the server refused this client; no reconnect follows.
    PermissionDenied(String),
    /// `error`: a sync problem (a malformed frame, an update the server could not apply...).
    Error(SyncError),
    /// `authenticated`: the server let this connection in, with this scope (Hocuspocus:
    /// `read-write` or `readonly`).
    Authenticated(String),
    /// `stateless`: an application message from the server (Hocuspocus).
    Stateless(String),
    /// Presence changed (`awareness.on('update' | 'change')`).
    Awareness {
        /// Which clients changed.
        change: AwarenessChange,
        /// Why (this client, the connection, an expiry).
        origin: AwarenessOrigin,
    },
    /// `stats`: the periodic snapshot ([`ProviderConfig::stats_interval_ms`]).
    Stats(ProviderStats),
}

/// A snapshot of a provider's metrics: the session's (see [`SyncStats`]) and the driver's.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStats {
    /// Traffic, updates, connections, lag, probe round trip, errors.
    #[serde(flatten)]
    pub sync: SyncStats,
    /// `connecting`, `connected` or `disconnected`.
    pub status: &'static str,
    /// Delay of the pending reconnect (ms), if one is scheduled.
    pub backoff_ms: Option<u64>,
    /// Whose connection this is: `solo` (this tab's own), `leader` (this tab's, for the
    /// other tabs too) or `follower` (another tab's: the traffic, connection and error
    /// figures are the leader's; the updates applied and the unacknowledged ones this tab's).
    pub role: &'static str,
}

/// What the driver owns and the machines it runs, borrowed one event at a time.
struct ProviderState {
    session: Session,
    /// The socket's URL, without query.
    socket_url: String,
    /// What names this document on this server: the BroadcastChannel name and the storage key
    /// (serverUrl/room for y-websocket, url/name for Hocuspocus).
    base_url: String,
    params: Vec<(String, String)>,
    protocols: Vec<String>,
    token: Option<TokenSource>,
    token_param: String,
    token_in: TokenIn,
    socket: Option<Link>,
    /// The shared socket this provider's document rides on, if it has no socket of its own.
    shared: Option<Membership>,
    /// Bumped for every connection attempt: events of older sockets are ignored.
    generation: u64,
    /// A token is being fetched for this generation.
    fetching_token: bool,
    /// The token for the protocol's authentication message ([`TokenIn::Message`]).
    hello_token: Option<String>,
    /// One timer for the session's and the connection policy's timeouts.
    timer: Option<Timer>,
    /// When to connect (core policy); the driver only executes its commands.
    conn: Connection,
    destroyed: bool,
    cross_tab: bool,
    channel: Option<Channel>,
    /// Share one connection with the other tabs (config).
    share: bool,
    /// The tabs of this document and the lock that makes one of them lead.
    leadership: Leadership,
    window: Vec<Listener>,
    synced_waiters: Vec<Settle>,
    ack_waiters: Vec<(u64, Settle)>,
    /// Unconfirmed changes were taken from local storage (done once, when storage exists).
    seeded: bool,
    /// Emits the periodic `stats` event.
    stats_timer: Option<Interval>,
    /// This driver's consumer on the document's tap.
    tap_id: u64,
    /// Socket events handled in time slices (a burst of frames must not hold the page).
    inbox: Inbox<(u64, SocketEvent)>,
    /// The inbox's zero-delay timer: ends a slice, drains what waits.
    inbox_timer: Option<Timer>,
}

struct ProviderCore {
    state: RefCell<ProviderState>,
    doc: Rc<Document>,
    subscribers: Subscribers<ProviderEvent>,
    /// Events to deliver once no borrow is held.
    events: RefCell<Vec<ProviderEvent>>,
    /// Waits to settle once no borrow is held.
    settled: RefCell<Vec<(Settle, Result<()>)>>,
    /// A pump is queued as a microtask. Outside `state`: set from a yrs observer that may run
    /// while `state` is borrowed (remote updates applied by the session).
    pump_scheduled: Cell<bool>,
}

/// Where a provider's frames go: its own socket, or its document on a shared one.
enum Link {
    Own(Socket),
    Shared(Attachment),
}

impl Link {
    fn send(&self, frame: &[u8]) -> std::result::Result<(), wasm_bindgen::JsValue> {
        match self {
            Link::Own(s) => s.send(frame),
            Link::Shared(a) => a.send(frame),
        }
    }
}

/// Lets go of the link: a document on a shared socket at once (its `close` frame must reach
/// the server before anything a new attachment sends), an own socket after the current event
/// handler returns (its closure may be the one running).
fn release(link: Option<Link>) {
    match link {
        Some(Link::Own(s)) => drop_later(Some(s)),
        Some(Link::Shared(a)) => drop(a),
        None => {}
    }
}

/// Real-time sync of a document with a y-websocket server room. Dropping it disconnects and
/// releases every listener, timer, channel and socket.
pub struct WebsocketProvider {
    driver: Rc<ProviderCore>,
}

impl ProviderCore {
    fn emit(&self, e: ProviderEvent) {
        self.events.borrow_mut().push(e);
    }

    /// Delivers the document's events, then queued settlements and events. Called with no
    /// borrow held.
    fn flush(&self) {
        self.doc.deliver();
        loop {
            let events = std::mem::take(&mut *self.events.borrow_mut());
            let settled = std::mem::take(&mut *self.settled.borrow_mut());
            if events.is_empty() && settled.is_empty() {
                break;
            }
            for (f, r) in settled {
                f(r);
            }
            for e in events {
                self.subscribers.call(&e);
            }
        }
    }
}

fn navigator_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// The app wants to be connected: tell the policy, run what it says.
fn connect(d: &Rc<ProviderCore>) {
    d.state.borrow_mut().conn.start();
    run_commands(d);
}

/// Executes the connection policy's commands.
fn run_commands(d: &Rc<ProviderCore>) {
    loop {
        let cmd = d.state.borrow_mut().conn.poll_command();
        match cmd {
            None => return,
            Some(Command::Connect) => attempt(d),
            Some(Command::Probe) => {
                d.state.borrow_mut().session.probe_now(now_ms());
                pump(d);
            }
        }
    }
}

/// Starts a connection attempt: fetch a token if configured, then open the socket.
fn attempt(d: &Rc<ProviderCore>) {
    let token = {
        let mut st = d.state.borrow_mut();
        if st.destroyed || st.socket.is_some() || st.fetching_token {
            return;
        }
        if !navigator_online() {
            // No `offline` event came: the `online` event reconnects.
            st.conn.not_attempted();
            return;
        }
        st.generation += 1;
        st.session.connecting(now_ms());
        log::info!(
            target: "ysync::provider",
            "connecting to {} (attempt {})",
            crate::web::log::redact_url(&st.base_url),
            st.generation
        );
        st.token.clone().map(|f| (f, st.generation))
    };
    match token {
        None => open_socket(d, None),
        Some((f, generation)) => {
            d.state.borrow_mut().fetching_token = true;
            pump(d);
            let weak = Rc::downgrade(d);
            wasm_bindgen_futures::spawn_local(async move {
                let result = f().await;
                let Some(d) = weak.upgrade() else { return };
                let current = {
                    let mut st = d.state.borrow_mut();
                    st.fetching_token = false;
                    st.generation == generation && !st.destroyed && st.conn.wanted()
                };
                if !current {
                    return;
                }
                match result {
                    Ok(token) => open_socket(&d, token),
                    Err(e) => {
                        // Never echo the token or the URL: only the failure's kind.
                        d.emit(ProviderEvent::ConnectionError(Some(e)));
                        attempt_failed(&d);
                    }
                }
            });
        }
    }
}

fn attempt_failed(d: &Rc<ProviderCore>) {
    {
        let mut st = d.state.borrow_mut();
        let now = now_ms();
        st.session.closed(now, None);
        closed(&mut st, now);
    }
    pump(d);
}

/// The connection is gone (or never came up): the policy plans the next attempt.
fn closed(st: &mut ProviderState, now: u64) {
    st.conn.closed(now);
    if let Some(delay) = st.conn.pending_delay() {
        log::info!(target: "ysync::provider", "reconnecting in {delay} ms");
    }
}

/// RFC 9110 `tchar`: what a subprotocol name may contain.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn query(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                js_sys::encode_uri_component(k),
                js_sys::encode_uri_component(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn open_socket(d: &Rc<ProviderCore>, token: Option<String>) {
    let failed = {
        let mut st = d.state.borrow_mut();
        let mut params = st.params.clone();
        let mut protocols = st.protocols.clone();
        st.hello_token = None;
        match token {
            Some(t) if st.token_in == TokenIn::Protocol => {
                if t.is_empty() || !t.bytes().all(is_tchar) {
                    // Checked here: the browser's own SyntaxError would quote the token.
                    drop(st);
                    d.emit(ProviderEvent::ConnectionError(Some(Error::InvalidArgument(
                        "the token is not a valid WebSocket subprotocol (letters, digits and !#$%&'*+-.^_`|~ only)".into(),
                    ))));
                    attempt_failed(d);
                    return;
                }
                protocols.push(t);
            }
            Some(t) if st.token_in == TokenIn::Message => st.hello_token = Some(t),
            Some(t) => params.push((st.token_param.clone(), t)),
            None => {}
        }
        let generation = st.generation;
        let weak = Rc::downgrade(d);
        let handler = move |ev| {
            if let Some(d) = weak.upgrade() {
                on_socket(&d, generation, ev);
            }
        };
        if let Some(m) = &st.shared {
            let a = m.attach(handler);
            st.socket = Some(Link::Shared(a));
            drop(st);
            pump(d);
            return;
        }
        let url = if params.is_empty() {
            st.socket_url.clone()
        } else {
            format!("{}?{}", st.socket_url, query(&params))
        };
        match Socket::open(&url, &protocols, handler) {
            Ok(s) => {
                st.socket = Some(Link::Own(s));
                None
            }
            Err(e) => Some(Error::browser(e)),
        }
    };
    match failed {
        None => pump(d),
        Some(err) => {
            d.emit(ProviderEvent::ConnectionError(Some(err)));
            attempt_failed(d);
        }
    }
}

/// A socket event arrived: handled now, or queued behind a burst (see [`Inbox`]).
fn on_socket(d: &Rc<ProviderCore>, generation: u64, ev: SocketEvent) {
    let handle = {
        let mut st = d.state.borrow_mut();
        let now = now_f64();
        let item = st.inbox.arrive(now, (generation, ev));
        arm_inbox(d, &mut st);
        item
    };
    if let Some((generation, ev)) = handle {
        socket_event(d, &mut d.state.borrow_mut(), generation, ev);
        pump(d);
    }
}

/// Schedules the inbox's timer if it asks for it.
fn arm_inbox(d: &Rc<ProviderCore>, st: &mut ProviderState) {
    if st.inbox.take_timer_request() {
        st.inbox_timer
            .get_or_insert_with(|| Timer::for_owner(Rc::downgrade(d), drain_inbox))
            .schedule(0);
    }
}

/// The inbox's timer: a new slice; queued events are handled until its budget is spent, then
/// the session's outputs run once for all of them.
fn drain_inbox(d: &Rc<ProviderCore>) {
    {
        let mut st = d.state.borrow_mut();
        st.inbox.yielded();
        while let Some((generation, ev)) = st.inbox.next(now_f64()) {
            socket_event(d, &mut st, generation, ev);
        }
        arm_inbox(d, &mut st);
    }
    pump(d);
}

/// Feeds one socket event to the session and the policy (the caller pumps).
fn socket_event(d: &Rc<ProviderCore>, st: &mut ProviderState, generation: u64, ev: SocketEvent) {
    {
        // Events of a replaced socket are ignored.
        if st.generation != generation || st.socket.is_none() {
            return;
        }
        let now = now_ms();
        match ev {
            SocketEvent::Open => {
                log::info!(target: "ysync::provider", "connected");
                st.conn.opened();
                let token = st.hello_token.take();
                st.session.connected_with_token(now, token.as_deref())
            }
            SocketEvent::Message(bytes) => {
                log::trace!(target: "ysync::provider", "frame in: {} bytes", bytes.len());
                st.session.handle_frame(now, &bytes)
            }
            SocketEvent::Text => {}
            SocketEvent::Error => d.emit(ProviderEvent::ConnectionError(None)),
            SocketEvent::Close {
                code,
                reason,
                was_clean,
            } => {
                d.emit(ProviderEvent::ConnectionClose {
                    code,
                    reason,
                    was_clean,
                });
                log::info!(target: "ysync::provider", "closed: code {code}");
                release(st.socket.take());
                st.session.closed(now, Some(code));
                if crate::core::connection::refuses(code, st.token.is_some()) {
                    // Like a refusal in the protocol: no reconnect; a new provider is the
                    // way back.
                    log::warn!(target: "ysync::provider", "refused by the server (close code {code}): not reconnecting");
                    st.conn.denied();
                    d.emit(ProviderEvent::PermissionDenied(format!(
                        "the server closed the connection with code {code}"
                    )));
                } else {
                    closed(st, now);
                }
            }
        }
    }
}

/// Drops a browser resource after the current event handler returns (its closure may be the
/// one running).
fn drop_later<T: 'static>(x: Option<T>) {
    if let Some(x) = x {
        wasm_bindgen_futures::spawn_local(async move { drop(x) });
    }
}

/// Executes the session's outputs, settles waits, arms the timer, then delivers events.
fn pump(d: &Rc<ProviderCore>) {
    d.pump_scheduled.set(false);
    {
        let mut st = d.state.borrow_mut();
        if st.destroyed {
            return;
        }
        let now = now_ms();
        st.session.report_status();
        while let Some(out) = st.session.poll_output(now) {
            match out {
                Output::Transmit(frame) => {
                    log::trace!(target: "ysync::provider", "frame out: {} bytes", frame.len());
                    if let Some(s) = &st.socket {
                        // A failed send is followed by a close event, which reconnects.
                        let _ = s.send(&frame);
                    }
                }
                Output::Broadcast(frame) => {
                    if let Some(c) = &st.channel {
                        let _ = c.post(&frame);
                    }
                }
                Output::Control(message) => st.leadership.post(&message),
                Output::Close(reason) => {
                    log::warn!(target: "ysync::provider", "closing: {reason:?}");
                    if let (CloseReason::Timeout, Some(Link::Shared(a))) = (&reason, &st.socket) {
                        // A silent server is silent for every document on the socket.
                        a.fail();
                    }
                    release(st.socket.take());
                    let now = now_ms();
                    st.session.closed(now, None);
                    if matches!(reason, CloseReason::PermissionDenied) {
                        st.conn.denied();
                    } else {
                        closed(&mut st, now);
                    }
                }
                Output::SaveAcknowledged(state_vector) => {
                    if let Some(store) = d.doc.local_store() {
                        store.save_acknowledged(&st.base_url, &state_vector);
                    }
                }
                Output::Event(e) => on_event(d, &mut st, e),
            }
        }
        if !st.seeded {
            if let Some(store) = d.doc.local_store() {
                st.seeded = true;
                seed_from_store(d, store.acknowledged(&st.base_url));
            }
        }
        let mut settled: Vec<(Settle, Result<()>)> = Vec::new();
        if st.session.synced() {
            settled.extend(st.synced_waiters.drain(..).map(|f| (f, Ok(()))));
        }
        for (mark, f) in std::mem::take(&mut st.ack_waiters) {
            if st.session.confirmed(mark) {
                settled.push((f, Ok(())));
            } else {
                st.ack_waiters.push((mark, f));
            }
        }
        d.settled.borrow_mut().extend(settled);
        let due = [st.session.poll_timeout(), st.conn.poll_timeout()];
        if let Some(at) = due.into_iter().flatten().min() {
            let t = st.timer.get_or_insert_with(|| {
                Timer::for_owner(Rc::downgrade(d), |d| {
                    {
                        let mut st = d.state.borrow_mut();
                        let now = now_ms();
                        st.session.handle_timeout(now);
                        st.conn.handle_timeout(now);
                    }
                    run_commands(d);
                    pump(d);
                })
            });
            t.schedule_by(at, now_ms());
        }
    }
    d.flush();
}

/// Marks local content the server never acknowledged (per local storage) as unconfirmed.
fn seed_from_store(d: &Rc<ProviderCore>, acknowledged: crate::driver::document::Acknowledged) {
    let weak = Rc::downgrade(d);
    wasm_bindgen_futures::spawn_local(async move {
        let stored = acknowledged.await;
        let Some(d) = weak.upgrade() else { return };
        let sv = match stored {
            // Bytes from disk are checked before yrs decodes them.
            Ok(Some(b)) => match crate::core::validate::state_vector(&b).ok().and_then(|_| {
                <yrs::StateVector as yrs::updates::decoder::Decode>::decode_v1(&b).ok()
            }) {
                Some(sv) => sv,
                None => return,
            },
            Ok(None) => yrs::StateVector::default(),
            // Storage failed: it reports its own error; nothing is known, nothing is claimed.
            Err(()) => return,
        };
        d.state.borrow_mut().session.seed_unconfirmed(now_ms(), &sv);
        pump(&d);
    });
}

fn on_event(d: &Rc<ProviderCore>, st: &mut ProviderState, e: Event) {
    match e {
        Event::Status(s) => d.emit(ProviderEvent::Status(s)),
        Event::Synced(b) => {
            if b {
                st.conn.synced();
            }
            log::debug!(target: "ysync::provider", "synced: {b}");
            d.emit(ProviderEvent::Sync(b));
        }
        Event::Unsynced { count, bytes } => {
            log::debug!(target: "ysync::provider", "unacknowledged: {count} changes, {bytes} bytes");
            d.emit(ProviderEvent::Unsynced(count))
        }
        Event::Awareness { change, origin } => d.emit(ProviderEvent::Awareness { change, origin }),
        Event::PermissionDenied(reason) => {
            log::warn!(target: "ysync::provider", "permission denied");
            d.emit(ProviderEvent::PermissionDenied(reason))
        }
        Event::Error(err) => {
            log::warn!(target: "ysync::provider", "error {}", err.code());
            d.emit(ProviderEvent::Error(err))
        }
        Event::Authenticated(scope) => {
            log::info!(target: "ysync::provider", "authenticated: {scope}");
            d.emit(ProviderEvent::Authenticated(scope))
        }
        Event::Stateless(payload) => d.emit(ProviderEvent::Stateless(payload)),
        Event::TokenRequested => resend_token(d, st),
        Event::TabStatsWanted => {
            let backoff = st.conn.pending_delay();
            st.session.send_tab_stats(now_ms(), backoff);
        }
        Event::TabStats { sync, backoff_ms } => {
            st.leadership.leader_stats = Some((sync, backoff_ms));
        }
    }
}

/// The server asked for the token again: fetch a fresh one (the empty token again when there
/// is no token source), send it on the same socket.
fn resend_token(d: &Rc<ProviderCore>, st: &ProviderState) {
    let generation = st.generation;
    let source = st.token.clone();
    let weak = Rc::downgrade(d);
    wasm_bindgen_futures::spawn_local(async move {
        let result = match source {
            Some(f) => f().await,
            None => Ok(None),
        };
        let Some(d) = weak.upgrade() else { return };
        if d.state.borrow().generation != generation {
            return;
        }
        match result {
            Ok(token) => {
                d.state
                    .borrow_mut()
                    .session
                    .send_token(now_ms(), token.as_deref());
                pump(&d);
            }
            Err(e) => {
                d.emit(ProviderEvent::ConnectionError(Some(e)));
                d.flush();
            }
        }
    });
}

fn role_name(role: TabRole) -> &'static str {
    match role {
        TabRole::Solo => "solo",
        TabRole::Leader => "leader",
        TabRole::Follower => "follower",
    }
}

fn snapshot(d: &Rc<ProviderCore>) -> ProviderStats {
    let stats = {
        let mut st = d.state.borrow_mut();
        let now = now_ms();
        let own = st.session.stats(now);
        let mut backoff_ms = st.conn.pending_delay();
        let role = st.session.role();
        let mut sync = match (&st.leadership.leader_stats, st.session.through_tab()) {
            // The connection's figures are the leader's (at most a second old); what this tab
            // applied and waits for is its own.
            (Some((leader, leader_backoff)), true) => {
                backoff_ms = *leader_backoff;
                let mut s = leader.clone();
                s.updates_applied = own.updates_applied;
                s.unacknowledged = own.unacknowledged;
                s
            }
            _ => own,
        };
        // Storage failures are counted by the document's local store (IndexedDB), if any.
        if let Some(n) = d.doc.local_store().map(|s| s.failures()).filter(|n| *n > 0) {
            sync.errors.insert("STORAGE_FAILURE".into(), n);
        }
        ProviderStats {
            status: st.session.status().as_str(),
            backoff_ms,
            sync,
            role: role_name(role),
        }
    };
    stats
}

/// Tells peers this client left, if it had a state (the caller pumps).
fn leave(st: &mut ProviderState) {
    if st.session.awareness().local_state().is_some() {
        st.session.set_local_awareness(now_ms(), None);
    }
}

fn schedule_pump(weak: &Weak<ProviderCore>) {
    let Some(d) = weak.upgrade() else { return };
    if d.pump_scheduled.replace(true) {
        return;
    }
    let weak = weak.clone();
    wasm_bindgen_futures::spawn_local(async move {
        if let Some(d) = weak.upgrade() {
            pump(&d);
        }
    });
}

fn open_channel(d: &Rc<ProviderCore>) {
    {
        let mut st = d.state.borrow_mut();
        if !st.cross_tab || st.channel.is_some() || st.destroyed {
            return;
        }
        let weak = Rc::downgrade(d);
        let handler = move |frame: Vec<u8>| {
            if let Some(d) = weak.upgrade() {
                d.state
                    .borrow_mut()
                    .session
                    .handle_broadcast(now_ms(), &frame);
                pump(&d);
            }
        };
        // Where BroadcastChannel is missing the provider simply works without it.
        if let Ok(c) = Channel::open(&st.base_url, handler) {
            st.channel = Some(c);
            st.session.broadcast_opened(now_ms());
        }
    }
    pump(d);
}

/// Joins the other tabs of the document to share one connection, if the config and the
/// browser allow: this tab follows until its Web Lock is granted, then leads and connects.
/// False if it connects on its own.
fn join_tabs(d: &Rc<ProviderCore>) -> bool {
    let joined = {
        let mut st = d.state.borrow_mut();
        if st.leadership.joined() {
            return true;
        }
        if st.destroyed || st.channel.is_none() || !Leadership::possible(st.share, st.cross_tab) {
            return false;
        }
        let key = st.base_url.clone();
        let weak = Rc::downgrade(d);
        let on_message = move |bytes: Vec<u8>| {
            if let Some(d) = weak.upgrade() {
                d.state
                    .borrow_mut()
                    .session
                    .handle_control(now_ms(), &bytes);
                pump(&d);
            }
        };
        let weak = Rc::downgrade(d);
        let on_granted = move || {
            if let Some(d) = weak.upgrade() {
                lead(&d);
            }
        };
        let joined = st.leadership.join(&key, on_message, on_granted);
        if joined {
            st.session.set_role(now_ms(), TabRole::Follower);
        }
        joined
    };
    pump(d);
    joined
}

/// This tab's lock was granted: it leads, and connects for every tab.
fn lead(d: &Rc<ProviderCore>) {
    {
        let mut st = d.state.borrow_mut();
        if st.destroyed || !st.leadership.joined() {
            return;
        }
        log::info!(target: "ysync::provider", "leading the tabs of this document");
        st.session.set_role(now_ms(), TabRole::Leader);
    }
    connect(d);
}

/// Reports the window's events to the connection policy (online, offline, visibility) and
/// to the session (pagehide).
fn watch_window(d: &Rc<ProviderCore>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let mut ls = Vec::new();
    let weak = Rc::downgrade(d);
    ls.extend(Listener::new(&window, "online", move |_| {
        if let Some(d) = weak.upgrade() {
            d.state.borrow_mut().conn.online();
            run_commands(&d);
        }
    }));
    let weak = Rc::downgrade(d);
    ls.extend(Listener::new(&window, "offline", move |_| {
        if let Some(d) = weak.upgrade() {
            d.state.borrow_mut().conn.offline();
        }
    }));
    let weak = Rc::downgrade(d);
    ls.extend(Listener::new(&window, "pagehide", move |_| {
        // Tell peers we left; a page restored from the back/forward cache sets its state again.
        if let Some(d) = weak.upgrade() {
            leave(&mut d.state.borrow_mut());
            pump(&d);
        }
    }));
    if let Some(document) = window.document() {
        let weak = Rc::downgrade(d);
        let doc2 = document.clone();
        ls.extend(Listener::new(&document, "visibilitychange", move |_| {
            let Some(d) = weak.upgrade() else { return };
            let now = now_ms();
            {
                let mut st = d.state.borrow_mut();
                if doc2.hidden() {
                    st.conn.hidden(now);
                } else {
                    st.conn.visible(now);
                }
            }
            run_commands(&d);
            pump(&d);
        }));
    }
    d.state.borrow_mut().window = ls;
}

impl WebsocketProvider {
    /// Syncs `doc` with the room `room` of the server at `server_url` (`ws://` or `wss://`).
    pub fn new(
        server_url: &str,
        room: &str,
        doc: &dyn AsDocument,
        cfg: ProviderConfig,
    ) -> Result<WebsocketProvider> {
        let url = format!("{}/{}", server_url.trim_end_matches('/'), room);
        Self::start(url.clone(), url, Box::new(YWebsocket), doc, cfg, None)
    }

    /// A provider speaking `dialect` on a socket to `socket_url`; `key` names the document
    /// for the other tabs and for storage. With `shared` (a socket and the document's name
    /// on it), it rides on that socket instead of opening its own.
    pub(crate) fn start(
        socket_url: String,
        key: String,
        dialect: Box<dyn Dialect>,
        doc: &dyn AsDocument,
        cfg: ProviderConfig,
        shared: Option<(Rc<Hub>, String)>,
    ) -> Result<WebsocketProvider> {
        let doc = doc.document();
        let mut session_cfg = Config {
            awareness: cfg.awareness,
            awareness_timeout_ms: cfg.awareness_timeout_ms,
            resync_interval_ms: cfg.resync_interval_ms,
            ack_interval_ms: cfg.ack_interval_ms,
            idle_probe_ms: cfg.heartbeat_interval_ms.max(1),
            probe_timeout_ms: cfg.heartbeat_timeout_ms.max(1),
            // Tabs' sessions are numbered in separate processes: a random number tells them
            // apart.
            tab: u64::from(fastrand::u32(..)),
            ..Config::default()
        };
        session_cfg.limits.max_frame = cfg.max_message_size;
        session_cfg.limits.max_awareness_clients = cfg.max_awareness_clients;
        let mut session = Session::with_dialect(doc.ydoc.clone(), session_cfg, dialect, now_ms())
            .map_err(|_| Error::Busy)?;
        // One gate per document: the server's blocks and those of storage and applyUpdate wait
        // for each other's gaps in the same place.
        session.share_gate(doc.gate.clone());
        // And one tap: the session takes local changes from the bytes every consumer shares.
        session.share_tap(doc.tap.clone());
        let d = Rc::new(ProviderCore {
            state: RefCell::new(ProviderState {
                session,
                socket_url,
                base_url: key,
                params: cfg.params,
                protocols: cfg.protocols,
                token: cfg.token,
                token_param: cfg.token_param,
                token_in: cfg.token_in,
                socket: None,
                shared: None,
                generation: 0,
                fetching_token: false,
                hello_token: None,
                timer: None,
                conn: Connection::new(cfg.max_backoff_ms, seed(), navigator_online()),
                destroyed: false,
                cross_tab: cfg.cross_tab,
                channel: None,
                share: cfg.share_connection,
                leadership: Leadership::default(),
                window: Vec::new(),
                synced_waiters: vec![],
                ack_waiters: vec![],
                seeded: false,
                stats_timer: None,
                tap_id: 0,
                inbox: Inbox::default(),
                inbox_timer: None,
            }),
            doc: doc.clone(),
            subscribers: Subscribers::default(),
            events: RefCell::default(),
            settled: RefCell::default(),
            pump_scheduled: Cell::new(false),
        });
        if let Some((hub, name)) = shared {
            let weak = Rc::downgrade(&d);
            // The shared socket is up: a provider waiting out its delay attaches now.
            let membership = hub.join(
                &name,
                Rc::new(move || {
                    if let Some(d) = weak.upgrade() {
                        d.state.borrow_mut().conn.link_up();
                        run_commands(&d);
                    }
                }),
                !(cfg.share_connection && cfg.cross_tab),
            )?;
            d.state.borrow_mut().shared = Some(membership);
        }
        // Local edits: pump after the transaction has committed (never inside it).
        let weak = Rc::downgrade(&d);
        let tapped = doc.tap.add(move |_| schedule_pump(&weak));
        d.state.borrow_mut().tap_id = tapped;
        watch_window(&d);
        if cfg.stats_interval_ms > 0 {
            let every = Interval::for_owner(Rc::downgrade(&d), cfg.stats_interval_ms, |d| {
                d.emit(ProviderEvent::Stats(snapshot(d)));
                d.flush();
            });
            d.state.borrow_mut().stats_timer = Some(every);
        }
        let p = WebsocketProvider { driver: d };
        if cfg.connect {
            p.connect();
        }
        Ok(p)
    }

    /// Calls `f` with every event from now on, until the subscription is dropped. `f` runs
    /// with no borrow held: it may call the provider.
    pub fn subscribe(&self, f: impl Fn(&ProviderEvent) + 'static) -> Subscription<ProviderEvent> {
        self.driver.subscribers.add(f)
    }

    /// The transaction origins of the updates this provider applies (from the server, from
    /// other tabs).
    pub fn applied_origins(&self) -> Vec<String> {
        let st = self.driver.state.borrow();
        st.session
            .applied_origins()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Starts connecting (and reconnecting after failures), and joins the other tabs: with
    /// [`ProviderConfig::share_connection`], through the tab that leads them (this one once
    /// its Web Lock is granted).
    pub fn connect(&self) {
        open_channel(&self.driver);
        if !join_tabs(&self.driver) {
            connect(&self.driver);
        }
    }

    /// Closes the connection and the cross-tab channel, and stops reconnecting.
    pub fn disconnect(&self) {
        {
            let mut st = self.driver.state.borrow_mut();
            st.conn.stop();
            st.generation += 1;
            st.fetching_token = false;
            st.inbox.clear();
            release(st.socket.take());
            st.session.closed(now_ms(), Some(1000));
            // Another tab leads from now on.
            st.leadership.leave();
            st.session.set_role(now_ms(), TabRole::Solo);
            drop_later(st.channel.take());
            st.session.broadcast_closed();
        }
        pump(&self.driver);
    }

    /// Disconnects and releases every listener, timer, channel and socket (after telling
    /// peers this client left). Pending waits fail with [`Error::Destroyed`].
    pub fn destroy(&self) {
        let d = &self.driver;
        {
            let mut st = d.state.borrow_mut();
            if st.destroyed {
                return;
            }
            // Tell peers (server and tabs) we left before the socket goes.
            leave(&mut st);
        }
        pump(d);
        let rejected: Vec<Settle> = {
            let mut st = d.state.borrow_mut();
            st.destroyed = true;
            st.conn.stop();
            st.timer = None;
            st.stats_timer = None;
            st.inbox.clear();
            st.inbox_timer = None;
            st.window.clear();
            release(st.socket.take());
            st.shared = None;
            st.session.closed(now_ms(), Some(1000));
            st.leadership.leave();
            st.session.set_role(now_ms(), TabRole::Solo);
            drop_later(st.channel.take());
            st.session.broadcast_closed();
            let synced = std::mem::take(&mut st.synced_waiters);
            let acked = std::mem::take(&mut st.ack_waiters);
            synced
                .into_iter()
                .chain(acked.into_iter().map(|(_, f)| f))
                .collect()
        };
        let tap_id = d.state.borrow().tap_id;
        d.doc.tap.remove(tap_id);
        d.subscribers.clear();
        d.events.borrow_mut().clear();
        for f in rejected {
            f(Err(Error::Destroyed));
        }
    }

    /// Whether `destroy` ran.
    pub fn destroyed(&self) -> bool {
        self.driver.state.borrow().destroyed
    }

    /// Connecting, connected or disconnected (a follower's: its leader's connection).
    pub fn status(&self) -> Status {
        self.driver.state.borrow().session.status()
    }

    /// Whose connection this is: `solo`, `leader` or `follower` (see
    /// [`ProviderConfig::share_connection`]).
    pub fn role(&self) -> &'static str {
        role_name(self.driver.state.borrow().session.role())
    }

    /// True once the first sync step 2 of the current connection arrived.
    pub fn synced(&self) -> bool {
        self.driver.state.borrow().session.synced()
    }

    /// How many local changes the server has not confirmed yet.
    pub fn unsynced_changes(&self) -> usize {
        self.driver.state.borrow_mut().session.unconfirmed().0
    }

    /// A snapshot of the sync metrics.
    pub fn stats(&self) -> ProviderStats {
        snapshot(&self.driver)
    }

    /// Calls `f` once synced with the server (at once if synced now).
    pub fn when_synced(&self, f: Settle) {
        let mut st = self.driver.state.borrow_mut();
        if st.destroyed {
            drop(st);
            f(Err(Error::Destroyed));
        } else if st.session.synced() {
            drop(st);
            f(Ok(()));
        } else {
            st.synced_waiters.push(f);
        }
    }

    /// Calls `f` once the server has applied every local change made before the call.
    pub fn when_acknowledged(&self, f: Settle) {
        let mut st = self.driver.state.borrow_mut();
        let mark = st.session.ack_mark();
        if st.session.confirmed(mark) {
            drop(st);
            f(Ok(()));
        } else if st.destroyed {
            drop(st);
            f(Err(Error::Destroyed));
        } else {
            st.ack_waiters.push((mark, f));
        }
    }

    /// Waits until synced with the server.
    pub async fn wait_synced(&self) -> Result<()> {
        crate::driver::wait::wait(|s| self.when_synced(s)).await
    }

    /// Waits until the server has applied every local change made before the call.
    pub async fn wait_acknowledged(&self) -> Result<()> {
        crate::driver::wait::wait(|s| self.when_acknowledged(s)).await
    }

    /// Whether presence runs on this provider (`awareness` option).
    pub fn awareness_enabled(&self) -> bool {
        self.driver.state.borrow().session.awareness_enabled()
    }

    /// This client's awareness id (the document's client id).
    pub fn awareness_client_id(&self) -> u64 {
        self.driver.state.borrow().session.awareness().client_id()
    }

    /// This client's awareness state as JSON text, if it has one.
    pub fn local_awareness(&self) -> Option<String> {
        self.driver.state.borrow().session.awareness().local_state()
    }

    /// Sets this client's awareness state from JSON text (`None` clears it) and sends it.
    pub fn set_local_awareness(&self, json: Option<&str>) {
        self.driver
            .state
            .borrow_mut()
            .session
            .set_local_awareness(now_ms(), json);
        pump(&self.driver);
    }

    /// Every client's awareness state as JSON text, by client id.
    pub fn awareness_states(&self) -> Vec<(u64, String)> {
        self.driver.state.borrow().session.awareness().states()
    }

    /// Moves whenever an awareness state or clock may have changed (see
    /// [`Awareness::version`](crate::core::awareness::Awareness::version)).
    pub fn awareness_version(&self) -> u64 {
        self.driver.state.borrow().session.awareness().version()
    }

    /// Every known client's awareness clock and last update (ms, `performance.now()`'s
    /// clock), by client id.
    pub fn awareness_meta(&self) -> Vec<(u64, u32, u64)> {
        self.driver.state.borrow().session.awareness().meta()
    }

    /// Sends an application message; false when not connected (or the dialect has none).
    pub(crate) fn send_stateless(&self, payload: &str) -> bool {
        let sent = self
            .driver
            .state
            .borrow_mut()
            .session
            .send_stateless(now_ms(), payload);
        pump(&self.driver);
        sent
    }

    /// The scope the server granted the current connection, if it says.
    pub(crate) fn authorized_scope(&self) -> Option<String> {
        let st = self.driver.state.borrow();
        st.session.scope().map(str::to_owned)
    }
}

impl Drop for WebsocketProvider {
    fn drop(&mut self) {
        self.destroy();
    }
}
