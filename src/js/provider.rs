//! `WebsocketProvider`: the browser adapter around [`Session`], with y-websocket's names.
//!
//! Every browser event (socket, channel, timer, window event, local edit) feeds the session,
//! then `pump` executes the session's outputs. JS callbacks are queued while the state is
//! borrowed and called after the borrow is released.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::core::awareness::AwarenessChange;
use crate::core::connection::{Command, Connection};
use crate::core::session::{CloseReason, Config, Event, Output, PersistCommand, Session};
use crate::core::stats::SyncStats;
use crate::js::doc::{Doc, DocShared};
use crate::js::error::{ApiError, ApiResult};
use crate::js::events::Listeners;
use crate::js::keepalive;
use crate::js::value::to_js_json;
use crate::web::broadcast::Channel;
use crate::web::clock::{now_ms, seed};
use crate::web::listener::Listener;
use crate::web::socket::{Socket, SocketEvent};
use crate::web::timer::{Interval, Timer};

/// Settings read from the JS options object.
struct Options {
    connect: bool,
    params: Vec<(String, String)>,
    token: Option<js_sys::Function>,
    token_param: String,
    token_in_protocol: bool,
    protocols: Vec<String>,
    awareness: bool,
    awareness_timeout: u64,
    max_awareness_clients: usize,
    max_backoff: u64,
    resync_interval: u64,
    ack_interval: u64,
    heartbeat_interval: u64,
    heartbeat_timeout: u64,
    disable_bc: bool,
    max_message_size: usize,
    stats_interval: u64,
    log_level: Option<log::LevelFilter>,
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or_default()
    } else {
        JsValue::UNDEFINED
    }
}

impl Options {
    fn parse(o: &JsValue) -> ApiResult<Self> {
        if !(o.is_undefined() || o.is_null() || o.is_object()) {
            return Err(ApiError::InvalidArgument(
                "options must be an object".into(),
            ));
        }
        let num = |k: &str, d: f64| -> ApiResult<f64> {
            let v = get(o, k);
            if v.is_undefined() {
                return Ok(d);
            }
            match v.as_f64() {
                Some(n) if n >= 0.0 && n.is_finite() => Ok(n),
                _ => Err(ApiError::InvalidArgument(format!(
                    "option {k} must be a non-negative number"
                ))),
            }
        };
        let flag = |k: &str, d: bool| get(o, k).as_bool().unwrap_or(d);
        let mut params = Vec::new();
        let p = get(o, "params");
        if p.is_object() {
            for e in js_sys::Object::entries(p.unchecked_ref()).iter() {
                let pair: js_sys::Array = e.unchecked_into();
                let v = pair.get(1);
                let v = v
                    .as_string()
                    .or_else(|| v.as_f64().map(|n| n.to_string()))
                    .unwrap_or_default();
                params.push((pair.get(0).as_string().unwrap_or_default(), v));
            }
        }
        let protocols = match get(o, "protocols") {
            v if v.is_string() => v.as_string().into_iter().collect(),
            v if js_sys::Array::is_array(&v) => js_sys::Array::from(&v)
                .iter()
                .filter_map(|p| p.as_string())
                .collect(),
            _ => vec![],
        };
        let token = match get(o, "token") {
            v if v.is_undefined() || v.is_null() => None,
            v => Some(v.dyn_into::<js_sys::Function>().map_err(|_| {
                ApiError::InvalidArgument("option token must be a function".into())
            })?),
        };
        Ok(Options {
            connect: flag("connect", true),
            params,
            token,
            token_param: get(o, "tokenParam")
                .as_string()
                .unwrap_or_else(|| "token".into()),
            token_in_protocol: match get(o, "tokenIn") {
                v if v.is_undefined() => false,
                v => match v.as_string().as_deref() {
                    Some("query") => false,
                    Some("protocol") => true,
                    _ => {
                        return Err(ApiError::InvalidArgument(
                            "option tokenIn must be 'query' or 'protocol'".into(),
                        ))
                    }
                },
            },
            protocols,
            awareness: flag("awareness", true),
            awareness_timeout: num("awarenessTimeout", 30_000.0)? as u64,
            max_awareness_clients: num(
                "maxAwarenessClients",
                crate::core::awareness::MAX_CLIENTS as f64,
            )? as usize,
            max_backoff: num("maxBackoffTime", 2_500.0)? as u64,
            resync_interval: num("resyncInterval", 0.0)? as u64,
            ack_interval: num("ackInterval", 50.0)? as u64,
            heartbeat_interval: num("heartbeatInterval", 15_000.0)? as u64,
            heartbeat_timeout: num("heartbeatTimeout", 10_000.0)? as u64,
            disable_bc: flag("disableBc", false),
            max_message_size: num("maxMessageSize", 64.0 * 1024.0 * 1024.0)? as usize,
            stats_interval: num("statsInterval", 0.0)? as u64,
            log_level: log_level(&get(o, "logLevel"))?,
        })
    }
}

/// The `logLevel` option: undefined (leave as is) or a level name.
pub(crate) fn log_level(v: &JsValue) -> ApiResult<Option<log::LevelFilter>> {
    if v.is_undefined() {
        return Ok(None);
    }
    v.as_string()
        .and_then(|s| crate::web::log::parse_level(&s))
        .map(Some)
        .ok_or_else(|| {
            ApiError::InvalidArgument(
                "option logLevel must be 'off', 'error', 'warn', 'info', 'debug' or 'trace'".into(),
            )
        })
}

fn query(params: &[(String, String)]) -> String {
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

type Waiter = js_sys::Function;

struct Inner {
    session: Session,
    /// serverUrl/room, without query (also the BroadcastChannel name).
    base_url: String,
    params: Vec<(String, String)>,
    token: Option<js_sys::Function>,
    token_param: String,
    token_in_protocol: bool,
    protocols: Vec<String>,
    socket: Option<Socket>,
    /// Bumped for every connection attempt: events of older sockets are ignored.
    generation: u64,
    /// A token is being fetched for this generation.
    fetching_token: bool,
    /// One timer for the session's and the connection policy's timeouts.
    timer: Option<Timer>,
    /// When to connect (core policy); this adapter only executes its commands.
    conn: Connection,
    destroyed: bool,
    disable_bc: bool,
    channel: Option<Channel>,
    listeners: Vec<Listener>,
    synced_waiters: Vec<(Waiter, Waiter)>,
    ack_waiters: Vec<(u64, Waiter, Waiter)>,
    /// Unconfirmed changes were taken from local storage (done once, when storage exists).
    seeded: bool,
    /// Emits the periodic `stats` event.
    stats_timer: Option<Interval>,
}

pub(crate) struct Core {
    inner: RefCell<Inner>,
    doc: Rc<DocShared>,
    listeners: Listeners,
    /// JS events to deliver once no borrow is held: (name, arguments).
    events: RefCell<Vec<(String, Vec<JsValue>)>>,
    /// Promise settlements to run once no borrow is held.
    resolutions: RefCell<Vec<(Waiter, JsValue)>>,
    observer_key: String,
    /// A pump is queued as a microtask. Outside `inner`: set from a yrs observer that may run
    /// while `inner` is borrowed (remote updates applied by the session).
    pump_scheduled: Cell<bool>,
}

/// A snapshot of a provider's metrics: the session's (see [`SyncStats`]) and the adapter's.
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
}

/// Real-time sync of a `Doc` with a y-websocket server room.
#[wasm_bindgen]
pub struct WebsocketProvider {
    core: Rc<Core>,
    /// Made by JS: runs until `destroy()` even if the wrapper is collected (see `keepalive`).
    kept: bool,
    /// The one `Awareness` object `provider.awareness` returns.
    awareness: JsValue,
    /// What events see as the origin of the updates this provider applies.
    origin: JsValue,
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

impl Core {
    fn emit(&self, name: &str, args: Vec<JsValue>) {
        self.events.borrow_mut().push((name.to_string(), args));
    }

    /// Delivers queued events and promise settlements. Called with no borrow held.
    fn flush(&self) {
        self.doc.flush_or_log();
        loop {
            let events = std::mem::take(&mut *self.events.borrow_mut());
            let resolutions = std::mem::take(&mut *self.resolutions.borrow_mut());
            if events.is_empty() && resolutions.is_empty() {
                break;
            }
            for (f, v) in resolutions {
                let _ = f.call1(&JsValue::NULL, &v);
            }
            for (name, args) in events {
                self.listeners.call(&name, &args);
            }
        }
    }
}

fn navigator_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// The app wants to be connected: tell the policy, run what it says.
fn connect(core: &Rc<Core>) {
    core.inner.borrow_mut().conn.start();
    run_commands(core);
}

/// Executes the connection policy's commands.
fn run_commands(core: &Rc<Core>) {
    loop {
        let cmd = core.inner.borrow_mut().conn.poll_command();
        match cmd {
            None => return,
            Some(Command::Connect) => attempt(core),
            Some(Command::Probe) => {
                core.inner.borrow_mut().session.probe_now(now_ms());
                pump(core);
            }
        }
    }
}

/// Starts a connection attempt: fetch a token if configured, then open the socket.
fn attempt(core: &Rc<Core>) {
    let token = {
        let mut inner = core.inner.borrow_mut();
        if inner.destroyed || inner.socket.is_some() || inner.fetching_token {
            return;
        }
        if !navigator_online() {
            // No `offline` event came: the `online` event reconnects.
            inner.conn.not_attempted();
            return;
        }
        inner.generation += 1;
        inner.session.connecting(now_ms());
        log::info!(
            target: "ysync::provider",
            "connecting to {} (attempt {})",
            crate::web::log::redact_url(&inner.base_url),
            inner.generation
        );
        inner.token.clone().map(|f| (f, inner.generation))
    };
    match token {
        None => open_socket(core, None),
        Some((f, generation)) => {
            core.inner.borrow_mut().fetching_token = true;
            pump(core);
            let weak = Rc::downgrade(core);
            wasm_bindgen_futures::spawn_local(async move {
                let result = match f.call0(&JsValue::NULL) {
                    Ok(v) => match v.dyn_into::<js_sys::Promise>() {
                        Ok(p) => JsFuture::from(p).await,
                        Err(v) => Ok(v),
                    },
                    Err(e) => Err(e),
                };
                let Some(core) = weak.upgrade() else { return };
                let current = {
                    let mut inner = core.inner.borrow_mut();
                    inner.fetching_token = false;
                    inner.generation == generation && !inner.destroyed && inner.conn.wanted()
                };
                if !current {
                    return;
                }
                match result {
                    Ok(token) => open_socket(&core, token.as_string()),
                    Err(e) => {
                        // Never echo the token or the URL: only the failure's kind.
                        core.emit("connection-error", vec![ApiError::browser(e).into()]);
                        attempt_failed(&core);
                    }
                }
            });
        }
    }
}

fn attempt_failed(core: &Rc<Core>) {
    {
        let mut inner = core.inner.borrow_mut();
        let now = now_ms();
        inner.session.closed(now, None);
        closed(&mut inner, now);
    }
    pump(core);
}

/// The connection is gone (or never came up): the policy plans the next attempt.
fn closed(inner: &mut Inner, now: u64) {
    inner.conn.closed(now);
    if let Some(delay) = inner.conn.pending_delay() {
        log::info!(target: "ysync::provider", "reconnecting in {delay} ms");
    }
}

/// RFC 9110 `tchar`: what a subprotocol name may contain.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn open_socket(core: &Rc<Core>, token: Option<String>) {
    let failed = {
        let mut inner = core.inner.borrow_mut();
        let mut params = inner.params.clone();
        let mut protocols = inner.protocols.clone();
        match token {
            // As one more offered subprotocol: Chromium prints the URL of a failed connection
            // to the console, never its headers.
            Some(t) if inner.token_in_protocol => {
                if t.is_empty() || !t.bytes().all(is_tchar) {
                    // Checked here: the browser's own SyntaxError would quote the token.
                    drop(inner);
                    core.emit(
                        "connection-error",
                        vec![ApiError::InvalidArgument(
                            "the token is not a valid WebSocket subprotocol (letters, digits and !#$%&'*+-.^_`|~ only)".into(),
                        )
                        .into()],
                    );
                    attempt_failed(core);
                    return;
                }
                protocols.push(t);
            }
            Some(t) => params.push((inner.token_param.clone(), t)),
            None => {}
        }
        let url = if params.is_empty() {
            inner.base_url.clone()
        } else {
            format!("{}?{}", inner.base_url, query(&params))
        };
        let generation = inner.generation;
        let weak = Rc::downgrade(core);
        match Socket::open(&url, &protocols, move |ev| {
            if let Some(core) = weak.upgrade() {
                on_socket(&core, generation, ev);
            }
        }) {
            Ok(s) => {
                inner.socket = Some(s);
                None
            }
            Err(e) => Some(ApiError::browser(e)),
        }
    };
    match failed {
        None => pump(core),
        Some(err) => {
            core.emit("connection-error", vec![err.into()]);
            attempt_failed(core);
        }
    }
}

fn on_socket(core: &Rc<Core>, generation: u64, ev: SocketEvent) {
    {
        let mut inner = core.inner.borrow_mut();
        // Events of a replaced socket are ignored.
        if inner.generation != generation || inner.socket.is_none() {
            return;
        }
        let now = now_ms();
        match ev {
            SocketEvent::Open => {
                log::info!(target: "ysync::provider", "connected");
                inner.conn.opened();
                inner.session.connected(now)
            }
            SocketEvent::Message(bytes) => {
                log::trace!(target: "ysync::provider", "frame in: {} bytes", bytes.len());
                inner.session.handle_frame(now, &bytes)
            }
            SocketEvent::Text => {}
            SocketEvent::Error => core.emit("connection-error", vec![JsValue::UNDEFINED]),
            SocketEvent::Close {
                code,
                reason,
                was_clean,
            } => {
                core.emit(
                    "connection-close",
                    vec![obj(&[
                        ("code", JsValue::from(code)),
                        ("reason", JsValue::from_str(&reason)),
                        ("wasClean", JsValue::from_bool(was_clean)),
                    ])],
                );
                log::info!(target: "ysync::provider", "closed: code {code}");
                drop_later(inner.socket.take());
                inner.session.closed(now, Some(code));
                closed(&mut inner, now);
            }
        }
    }
    pump(core);
}

/// Drops a browser resource after the current event handler returns (its closure may be the
/// one running).
fn drop_later<T: 'static>(x: Option<T>) {
    if let Some(x) = x {
        wasm_bindgen_futures::spawn_local(async move { drop(x) });
    }
}

/// Executes the session's outputs, then delivers JS events.
fn pump(core: &Rc<Core>) {
    core.pump_scheduled.set(false);
    {
        let mut inner = core.inner.borrow_mut();
        if inner.destroyed {
            return;
        }
        let now = now_ms();
        while let Some(out) = inner.session.poll_output(now) {
            match out {
                Output::Transmit(frame) => {
                    log::trace!(target: "ysync::provider", "frame out: {} bytes", frame.len());
                    if let Some(s) = &inner.socket {
                        // A failed send is followed by a close event, which reconnects.
                        let _ = s.send(&frame);
                    }
                }
                Output::Broadcast(frame) => {
                    if let Some(c) = &inner.channel {
                        let _ = c.post(&frame);
                    }
                }
                Output::Close(reason) => {
                    log::warn!(target: "ysync::provider", "closing: {reason:?}");
                    drop_later(inner.socket.take());
                    let now = now_ms();
                    inner.session.closed(now, None);
                    if matches!(reason, CloseReason::PermissionDenied) {
                        inner.conn.denied();
                    } else {
                        closed(&mut inner, now);
                    }
                }
                Output::Persist(PersistCommand::Acknowledged { state_vector }) => {
                    if let Some(store) = core.doc.local_store() {
                        store.save_acknowledged(&inner.base_url, &state_vector);
                    }
                }
                Output::Event(e) => on_event(core, &mut inner, e),
            }
        }
        if !inner.seeded {
            if let Some(store) = core.doc.local_store() {
                inner.seeded = true;
                seed_from_store(core, store.acknowledged(&inner.base_url));
            }
        }
        let mut resolved = Vec::new();
        if inner.session.synced() {
            resolved.extend(
                inner
                    .synced_waiters
                    .drain(..)
                    .map(|(f, _)| (f, JsValue::TRUE)),
            );
        }
        for (mark, f, reject) in std::mem::take(&mut inner.ack_waiters) {
            if inner.session.confirmed(mark) {
                resolved.push((f, JsValue::UNDEFINED));
            } else {
                inner.ack_waiters.push((mark, f, reject));
            }
        }
        core.resolutions.borrow_mut().extend(resolved);
        let due = [inner.session.poll_timeout(), inner.conn.poll_timeout()];
        if let Some(at) = due.into_iter().flatten().min() {
            let t = inner.timer.get_or_insert_with(|| {
                Timer::for_owner(Rc::downgrade(core), |core| {
                    {
                        let mut inner = core.inner.borrow_mut();
                        let now = now_ms();
                        inner.session.handle_timeout(now);
                        inner.conn.handle_timeout(now);
                    }
                    run_commands(core);
                    pump(core);
                })
            });
            t.schedule_by(at, now_ms());
        }
    }
    core.flush();
}

/// Marks local content the server never acknowledged (per local storage) as unconfirmed.
fn seed_from_store(core: &Rc<Core>, acknowledged: js_sys::Promise) {
    let weak = Rc::downgrade(core);
    wasm_bindgen_futures::spawn_local(async move {
        let stored = JsFuture::from(acknowledged).await;
        let Some(core) = weak.upgrade() else { return };
        let sv = match stored {
            Ok(v) => match v.dyn_ref::<js_sys::Uint8Array>().map(|a| a.to_vec()) {
                // Bytes from disk are checked before yrs decodes them.
                Some(b) => match crate::core::validate::state_vector(&b).ok().and_then(|_| {
                    <yrs::StateVector as yrs::updates::decoder::Decode>::decode_v1(&b).ok()
                }) {
                    Some(sv) => sv,
                    None => return,
                },
                None => yrs::StateVector::default(),
            },
            // Storage failed: it reports its own error; nothing is known, nothing is claimed.
            Err(_) => return,
        };
        core.inner
            .borrow_mut()
            .session
            .seed_unconfirmed(now_ms(), &sv);
        pump(&core);
    });
}

fn ids(v: &[u64]) -> JsValue {
    v.iter()
        .map(|c| JsValue::from_f64(*c as f64))
        .collect::<js_sys::Array>()
        .into()
}

fn change_obj(change: &AwarenessChange, with_renewed: bool) -> JsValue {
    let mut updated = change.updated.clone();
    if with_renewed {
        updated.extend(&change.renewed);
    }
    obj(&[
        ("added", ids(&change.added)),
        ("updated", ids(&updated)),
        ("removed", ids(&change.removed)),
    ])
}

fn on_event(core: &Rc<Core>, inner: &mut Inner, e: Event) {
    match e {
        Event::Status(s) => core.emit(
            "status",
            vec![obj(&[("status", JsValue::from_str(s.as_str()))])],
        ),
        Event::Synced(b) => {
            if b {
                inner.conn.synced();
            }
            log::debug!(target: "ysync::provider", "synced: {b}");
            core.emit("sync", vec![JsValue::from_bool(b)]);
            core.emit("synced", vec![JsValue::from_bool(b)]);
        }
        Event::Unsynced { count, bytes } => {
            log::debug!(target: "ysync::provider", "unacknowledged: {count} changes, {bytes} bytes");
            core.emit("unsynced", vec![JsValue::from(count as u32)])
        }
        Event::Awareness { change, local } => {
            // y-protocols' events: `update` for every update (renewals too), `change` when a
            // state appeared, changed or left; the origin is 'local' or 'remote'.
            let origin = JsValue::from_str(if local { "local" } else { "remote" });
            core.emit(
                "awareness:update",
                vec![change_obj(&change, true), origin.clone()],
            );
            if change.changed() {
                core.emit("awareness:change", vec![change_obj(&change, false), origin]);
            }
        }
        Event::PermissionDenied(reason) => {
            log::warn!(target: "ysync::provider", "permission denied");
            core.emit(
                "permission-denied",
                vec![obj(&[("reason", JsValue::from_str(&reason))])],
            )
        }
        Event::Error(err) => {
            log::warn!(target: "ysync::provider", "error {}", err.code());
            core.emit("error", vec![ApiError::Sync(err).into()])
        }
    }
}

fn snapshot(core: &Core) -> ProviderStats {
    let mut inner = core.inner.borrow_mut();
    let mut sync = inner.session.stats(now_ms());
    // Storage failures are counted by the document's local store (IndexedDB), if any.
    if let Some(n) = core
        .doc
        .local_store()
        .map(|s| s.failures())
        .filter(|n| *n > 0)
    {
        sync.errors.insert("STORAGE_FAILURE".into(), n);
    }
    ProviderStats {
        status: inner.session.status().as_str(),
        backoff_ms: inner.conn.pending_delay(),
        sync,
    }
}

fn stats_js(core: &Core) -> JsValue {
    to_js_json(&snapshot(core))
}

/// Sets (`None`: clears) this client's awareness state and sends it.
fn set_awareness(core: &Rc<Core>, json: Option<&str>) {
    core.inner
        .borrow_mut()
        .session
        .set_local_awareness(now_ms(), json);
    pump(core);
}

/// Tells peers this client left, if it had a state (the caller pumps).
fn leave(inner: &mut Inner) {
    if inner.session.awareness().local_state().is_some() {
        inner.session.set_local_awareness(now_ms(), None);
    }
}

fn schedule_pump(weak: &Weak<Core>) {
    let Some(core) = weak.upgrade() else { return };
    if core.pump_scheduled.replace(true) {
        return;
    }
    let weak = weak.clone();
    wasm_bindgen_futures::spawn_local(async move {
        if let Some(core) = weak.upgrade() {
            pump(&core);
        }
    });
}

fn open_channel(core: &Rc<Core>) {
    {
        let mut inner = core.inner.borrow_mut();
        if inner.disable_bc || inner.channel.is_some() || inner.destroyed {
            return;
        }
        let weak = Rc::downgrade(core);
        let handler = move |frame: Vec<u8>| {
            if let Some(core) = weak.upgrade() {
                core.inner
                    .borrow_mut()
                    .session
                    .handle_broadcast(now_ms(), &frame);
                pump(&core);
            }
        };
        // Where BroadcastChannel is missing the provider simply works without it.
        if let Ok(c) = Channel::open(&inner.base_url, handler) {
            inner.channel = Some(c);
            inner.session.broadcast_opened(now_ms());
        }
    }
    pump(core);
}

fn watch_window(core: &Rc<Core>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let mut ls = Vec::new();
    let weak = Rc::downgrade(core);
    ls.extend(Listener::new(&window, "online", move |_| {
        if let Some(core) = weak.upgrade() {
            core.inner.borrow_mut().conn.online();
            run_commands(&core);
        }
    }));
    let weak = Rc::downgrade(core);
    ls.extend(Listener::new(&window, "offline", move |_| {
        if let Some(core) = weak.upgrade() {
            core.inner.borrow_mut().conn.offline();
        }
    }));
    let weak = Rc::downgrade(core);
    ls.extend(Listener::new(&window, "pagehide", move |_| {
        // Tell peers we left; a page restored from the back/forward cache sets its state again.
        if let Some(core) = weak.upgrade() {
            leave(&mut core.inner.borrow_mut());
            pump(&core);
        }
    }));
    if let Some(document) = window.document() {
        let weak = Rc::downgrade(core);
        let doc2 = document.clone();
        ls.extend(Listener::new(&document, "visibilitychange", move |_| {
            let Some(core) = weak.upgrade() else { return };
            let now = now_ms();
            {
                let mut inner = core.inner.borrow_mut();
                if doc2.hidden() {
                    inner.conn.hidden(now);
                } else {
                    inner.conn.visible(now);
                }
            }
            run_commands(&core);
            pump(&core);
        }));
    }
    core.inner.borrow_mut().listeners = ls;
}

#[wasm_bindgen]
impl WebsocketProvider {
    /// `new WebsocketProvider(serverUrl, room, doc, options)`: runs until `destroy()`, whether
    /// or not the app keeps a reference to it (as y-websocket's).
    #[wasm_bindgen(constructor)]
    pub fn create(
        server_url: &str,
        room: &str,
        doc: &Doc,
        options: Option<crate::js::ts::ProviderOptionsArg>,
    ) -> ApiResult<WebsocketProvider> {
        let mut p = Self::new(server_url, room, doc, options)?;
        keepalive::keep(&p.core);
        p.kept = true;
        Ok(p)
    }
}

impl WebsocketProvider {
    /// The provider for a Rust app: as `new WebsocketProvider(…)` in JS, but it is destroyed
    /// when this value is dropped.
    pub fn new(
        server_url: &str,
        room: &str,
        doc: &Doc,
        options: Option<crate::js::ts::ProviderOptionsArg>,
    ) -> ApiResult<WebsocketProvider> {
        let opts = Options::parse(&crate::js::ts::or_undefined(options))?;
        let shared = doc.shared();
        let mut cfg = Config {
            awareness: opts.awareness,
            awareness_timeout_ms: opts.awareness_timeout,
            resync_interval_ms: opts.resync_interval,
            ack_interval_ms: opts.ack_interval,
            idle_probe_ms: opts.heartbeat_interval.max(1),
            probe_timeout_ms: opts.heartbeat_timeout.max(1),
            ..Config::default()
        };
        cfg.limits.max_frame = opts.max_message_size;
        cfg.limits.max_awareness_clients = opts.max_awareness_clients;
        let observer_key = format!("{}-pump", cfg.origin);
        let mut session =
            Session::new(shared.doc.clone(), cfg, now_ms()).map_err(|_| ApiError::Busy)?;
        // One gate per document: the server's blocks and those of storage and applyUpdate wait
        // for each other's gaps in the same place.
        session.share_gate(shared.gate.clone());
        let core = Rc::new(Core {
            inner: RefCell::new(Inner {
                session,
                base_url: format!("{}/{}", server_url.trim_end_matches('/'), room),
                params: opts.params,
                token: opts.token,
                token_param: opts.token_param,
                token_in_protocol: opts.token_in_protocol,
                protocols: opts.protocols,
                socket: None,
                generation: 0,
                fetching_token: false,
                timer: None,
                conn: Connection::new(opts.max_backoff, seed(), navigator_online()),
                destroyed: false,
                disable_bc: opts.disable_bc,
                channel: None,
                listeners: Vec::new(),
                synced_waiters: vec![],
                ack_waiters: vec![],
                seeded: false,
                stats_timer: None,
            }),
            doc: shared.clone(),
            listeners: Listeners::default(),
            events: RefCell::default(),
            resolutions: RefCell::default(),
            observer_key,
            pump_scheduled: Cell::new(false),
        });
        // Local edits: pump after the transaction has committed (never inside it).
        let weak = Rc::downgrade(&core);
        shared
            .doc
            .observe_transaction_cleanup(core.observer_key.as_str(), move |txn, _| {
                if crate::core::changed(txn) {
                    schedule_pump(&weak)
                }
            })
            .map_err(|_| ApiError::Busy)?;
        watch_window(&core);
        if let Some(level) = opts.log_level {
            crate::web::log::set_level(level);
        }
        if opts.stats_interval > 0 {
            let every = Interval::for_owner(Rc::downgrade(&core), opts.stats_interval, |core| {
                core.emit("stats", vec![stats_js(core)]);
                core.flush();
            });
            core.inner.borrow_mut().stats_timer = Some(every);
        }
        if opts.connect {
            connect(&core);
            open_channel(&core);
        }
        let awareness = Awareness { core: core.clone() }.into();
        let origin: JsValue = js_sys::Object::freeze(&js_sys::Object::new()).into();
        for k in core.inner.borrow().session.applied_origins() {
            shared.register_origin(k.as_bytes(), origin.clone());
        }
        Ok(WebsocketProvider {
            core,
            kept: false,
            awareness,
            origin,
        })
    }
}

#[wasm_bindgen]
impl WebsocketProvider {
    /// The origin of the updates this provider applies (from the server and other tabs), as
    /// events see it: `transaction.origin === provider.origin` (Yjs passes the provider
    /// itself; a wasm object cannot hand out its own JS wrapper).
    #[wasm_bindgen(getter, unchecked_return_type = "object")]
    pub fn origin(&self) -> JsValue {
        self.origin.clone()
    }

    /// Starts connecting (and reconnecting after failures), and joins the other tabs.
    pub fn connect(&self) {
        connect(&self.core);
        open_channel(&self.core);
    }

    /// Closes the connection and the cross-tab channel, and stops reconnecting.
    pub fn disconnect(&self) {
        {
            let mut inner = self.core.inner.borrow_mut();
            inner.conn.stop();
            inner.generation += 1;
            inner.fetching_token = false;
            drop_later(inner.socket.take());
            drop_later(inner.channel.take());
            inner.session.broadcast_closed();
            inner.session.closed(now_ms(), Some(1000));
        }
        pump(&self.core);
    }

    /// Disconnects and releases every listener, timer, channel and socket. Pending
    /// `whenSynced` / `whenAcknowledged` promises are rejected.
    pub fn destroy(&self) {
        {
            let mut inner = self.core.inner.borrow_mut();
            if inner.destroyed {
                return;
            }
            for k in inner.session.applied_origins() {
                self.core.doc.unregister_origin(k.as_bytes());
            }
            // Tell peers (server and tabs) we left before the socket goes.
            leave(&mut inner);
        }
        pump(&self.core);
        let rejected: Vec<Waiter> = {
            let mut inner = self.core.inner.borrow_mut();
            inner.destroyed = true;
            inner.conn.stop();
            inner.timer = None;
            inner.stats_timer = None;
            inner.listeners.clear();
            drop_later(inner.socket.take());
            drop_later(inner.channel.take());
            inner.session.broadcast_closed();
            inner.session.closed(now_ms(), Some(1000));
            let synced = std::mem::take(&mut inner.synced_waiters);
            let acked = std::mem::take(&mut inner.ack_waiters);
            synced
                .into_iter()
                .map(|(_, r)| r)
                .chain(acked.into_iter().map(|(_, _, r)| r))
                .collect()
        };
        let _ = self
            .core
            .doc
            .doc
            .unobserve_transaction_cleanup(self.core.observer_key.as_str());
        self.core.listeners.clear();
        self.core.events.borrow_mut().clear();
        let err: JsValue = ApiError::Destroyed.into();
        for r in rejected {
            let _ = r.call1(&JsValue::NULL, &err);
        }
        keepalive::release(&self.core);
    }

    /// `'connecting' | 'connected' | 'disconnected'`.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> String {
        self.core.inner.borrow().session.status().as_str().into()
    }

    /// True once the first sync step 2 of the current connection arrived.
    #[wasm_bindgen(getter)]
    pub fn synced(&self) -> bool {
        self.core.inner.borrow().session.synced()
    }

    /// True while the server has not confirmed every local change.
    #[wasm_bindgen(getter, js_name = hasUnsyncedChanges)]
    pub fn has_unsynced_changes(&self) -> bool {
        self.unsynced_changes() > 0
    }

    /// How many local changes the server has not confirmed yet (0 when `hasUnsyncedChanges` is
    /// false).
    #[wasm_bindgen(getter, js_name = unsyncedChanges)]
    pub fn unsynced_changes(&self) -> u32 {
        self.core.inner.borrow_mut().session.unconfirmed().0 as u32
    }

    /// A snapshot of the sync metrics (see the README: traffic per message type, updates
    /// applied, connects and close reasons, time connected, current backoff, unacknowledged
    /// changes and the age of the oldest, last probe round trip, errors by code).
    #[wasm_bindgen(unchecked_return_type = "ProviderStats")]
    pub fn stats(&self) -> JsValue {
        stats_js(&self.core)
    }

    /// Resolves when synced with the server.
    #[wasm_bindgen(js_name = whenSynced, unchecked_return_type = "Promise<true>")]
    pub fn when_synced(&self) -> js_sys::Promise {
        let core = self.core.clone();
        js_sys::Promise::new(&mut |resolve, reject| {
            let mut inner = core.inner.borrow_mut();
            if inner.destroyed {
                let _ = reject.call1(&JsValue::NULL, &ApiError::Destroyed.into());
            } else if inner.session.synced() {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::TRUE);
            } else {
                inner.synced_waiters.push((resolve, reject));
            }
        })
    }

    /// Resolves once the server has applied every local change made before the call.
    #[wasm_bindgen(js_name = whenAcknowledged, unchecked_return_type = "Promise<void>")]
    pub fn when_acknowledged(&self) -> js_sys::Promise {
        let core = self.core.clone();
        js_sys::Promise::new(&mut |resolve, reject| {
            let mut inner = core.inner.borrow_mut();
            let mark = inner.session.ack_mark();
            if inner.session.confirmed(mark) {
                let _ = resolve.call0(&JsValue::NULL);
            } else if inner.destroyed {
                let _ = reject.call1(&JsValue::NULL, &ApiError::Destroyed.into());
            } else {
                inner.ack_waiters.push((mark, resolve, reject));
            }
        })
    }

    /// The awareness (presence) of this room, with y-protocols' `Awareness` methods.
    #[wasm_bindgen(getter, unchecked_return_type = "Awareness")]
    pub fn awareness(&self) -> JsValue {
        self.awareness.clone()
    }

    /// `provider.on(event, cb)`: status, sync, synced, unsynced, connection-close,
    /// connection-error, permission-denied, error.
    pub fn on(&self, event: &str, f: js_sys::Function) {
        self.core.listeners.add(event, f);
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.core.listeners.remove(event, f);
    }
}

/// The async Rust API of the provider.
impl WebsocketProvider {
    /// A snapshot of the sync metrics, as Rust types.
    pub fn stats_snapshot(&self) -> ProviderStats {
        snapshot(&self.core)
    }

    /// Waits until synced with the server.
    pub async fn wait_synced(&self) -> Result<(), JsValue> {
        JsFuture::from(self.when_synced()).await.map(|_| ())
    }

    /// Waits until the server has applied every local change made before the call.
    pub async fn wait_acknowledged(&self) -> Result<(), JsValue> {
        JsFuture::from(self.when_acknowledged()).await.map(|_| ())
    }

    /// Sets this client's awareness state from JSON text (`None` clears it).
    pub fn set_awareness_json(&self, json: Option<&str>) {
        set_awareness(&self.core, json);
    }

    /// Every client's awareness state as JSON text, by client id.
    pub fn awareness_states_json(&self) -> Vec<(u64, String)> {
        self.core.inner.borrow().session.awareness().states()
    }
}

impl Drop for WebsocketProvider {
    fn drop(&mut self) {
        // A provider made by JS outlives its wrapper (collected or freed): `destroy()` ends it.
        if !self.kept {
            self.destroy();
        }
    }
}

/// y-protocols' `Awareness`, bound to a provider.
#[wasm_bindgen]
pub struct Awareness {
    core: Rc<Core>,
}

#[wasm_bindgen]
impl Awareness {
    /// This client's id (the document's).
    #[wasm_bindgen(getter, js_name = clientID)]
    pub fn client_id(&self) -> f64 {
        self.core.inner.borrow().session.awareness().client_id() as f64
    }

    /// This client's state, or null.
    #[wasm_bindgen(js_name = getLocalState, unchecked_return_type = "AwarenessState | null")]
    pub fn get_local_state(&self) -> JsValue {
        let json = self.core.inner.borrow().session.awareness().local_state();
        json.and_then(|j| js_sys::JSON::parse(&j).ok())
            .unwrap_or(JsValue::NULL)
    }

    /// Sets this client's state (any JSON value; null marks this client as gone).
    #[wasm_bindgen(js_name = setLocalState)]
    pub fn set_local_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AwarenessState | null")] state: JsValue,
    ) -> ApiResult<()> {
        let json = if state.is_null() || state.is_undefined() {
            None
        } else {
            Some(
                js_sys::JSON::stringify(&state)
                    .ok()
                    .and_then(|s| s.as_string())
                    .ok_or_else(|| {
                        ApiError::InvalidArgument("awareness state must be JSON".into())
                    })?,
            )
        };
        set_awareness(&self.core, json.as_deref());
        Ok(())
    }

    /// Sets one field of this client's state.
    #[wasm_bindgen(js_name = setLocalStateField)]
    pub fn set_local_state_field(
        &self,
        field: &str,
        #[wasm_bindgen(unchecked_param_type = "JsonValue")] value: JsValue,
    ) -> ApiResult<()> {
        let state = self.get_local_state();
        if state.is_null() {
            return Ok(());
        }
        js_sys::Reflect::set(&state, &JsValue::from_str(field), &value)
            .map_err(ApiError::browser)?;
        self.set_local_state(state)
    }

    /// Every known state, as `Map<clientID, state>`.
    #[wasm_bindgen(js_name = getStates, unchecked_return_type = "Map<number, AwarenessState>")]
    pub fn get_states(&self) -> js_sys::Map {
        let m = js_sys::Map::new();
        for (c, json) in self.core.inner.borrow().session.awareness().states() {
            // States were checked as JSON (and for size) when they arrived.
            if let Ok(v) = js_sys::JSON::parse(&json) {
                m.set(&JsValue::from_f64(c as f64), &v);
            }
        }
        m
    }

    /// `on('change' | 'update', ({ added, updated, removed }, origin) => …)`.
    pub fn on(&self, event: &str, f: js_sys::Function) -> ApiResult<()> {
        if event != "change" && event != "update" {
            return Err(ApiError::InvalidArgument(format!(
                "unknown awareness event '{event}' (expected 'change' or 'update')"
            )));
        }
        self.core.listeners.add(&format!("awareness:{event}"), f);
        Ok(())
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.core.listeners.remove(&format!("awareness:{event}"), f);
    }
}

/// Sets the level of the debug log (bridged to the console) for every provider and
/// persistence: `'off'` (the default), `'error'`, `'warn'`, `'info'`, `'debug'` or `'trace'`.
/// Log lines carry sizes, counts, codes and durations — never document contents, tokens or
/// URL queries.
#[wasm_bindgen(js_name = setLogLevel)]
pub fn set_log_level(
    #[wasm_bindgen(unchecked_param_type = "LogLevel")] level: JsValue,
) -> ApiResult<()> {
    if let Some(l) = log_level(&level)? {
        crate::web::log::set_level(l);
    }
    Ok(())
}

#[wasm_bindgen(typescript_custom_section)]
const STATS_TS: &str = r#"
/** Debug log levels (`setLogLevel`, option `logLevel`). */
export type LogLevel = 'off' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** Options of `new WebsocketProvider(serverUrl, room, doc, options)` (y-websocket's names). */
export interface WebsocketProviderOptions {
  /** Connect right away (default true). */
  connect?: boolean;
  /** Query parameters. */
  params?: { [name: string]: string | number };
  /** WebSocket subprotocols offered. */
  protocols?: string | string[];
  /** Called before every connection attempt. */
  token?: () => string | Promise<string>;
  /** Query parameter carrying the token (default 'token'). */
  tokenParam?: string;
  /** Where the token goes: a query parameter (default) or one more offered subprotocol. */
  tokenIn?: 'query' | 'protocol';
  /** Presence on this connection (default true). */
  awareness?: boolean;
  /** Drop a peer's presence not renewed for this long, ms (default 30000). */
  awarenessTimeout?: number;
  /** Most remote clients whose presence is kept at once (default 50000); entries of new
   * clients past it are refused with an `error` event of code AWARENESS_LIMIT. */
  maxAwarenessClients?: number;
  /** Cap of the reconnect delay, ms (default 2500). */
  maxBackoffTime?: number;
  /** Also re-sync this often, ms (default 0: never). */
  resyncInterval?: number;
  /** While edits keep coming, ask the server for an acknowledgement at most this often (ms);
   * the first edit after a quiet spell is asked about at once. 0: after every edit. Default 50. */
  ackInterval?: number;
  /** Probe a quiet server this often, ms (default 15000). */
  heartbeatInterval?: number;
  /** Reconnect if a probe is not answered within this, ms (default 10000). */
  heartbeatTimeout?: number;
  /** No cross-tab sync over BroadcastChannel (default false). */
  disableBc?: boolean;
  /** Larger frames close the connection, bytes (default 64 MiB). */
  maxMessageSize?: number;
  /** Emit a `stats` event this often, ms (default 0: off). */
  statsInterval?: number;
  /** Turn the debug log on. */
  logLevel?: LogLevel;
}

/** Options of `new IndexeddbPersistence(name, doc, options)`. */
export interface IndexeddbPersistenceOptions {
  /** Ask the browser for persistent storage (`navigator.storage.persist()`). */
  persist?: boolean;
  /** Compact the stored rows into one past this many rows (default 500). */
  compactRows?: number;
  /** ... or past this many stored bytes. */
  compactBytes?: number;
  /** Emit a `stats` event this often, ms (default 0: off). */
  statsInterval?: number;
  /** Turn the debug log on. */
  logLevel?: LogLevel;
}

/** One client's presence state (JSON). */
export type AwarenessState = { [field: string]: JsonValue };
/** Messages and the bytes of the frames that carried them. */
export interface Traffic { messages: number; bytes: number }
/** Traffic in one direction; `byType` keys: syncStep1, syncStep2, update, awareness, queryAwareness, auth, custom, invalid. */
export interface DirectionStats { frames: number; bytes: number; byType: Record<string, Traffic> }
/** `provider.stats()` and the `stats` event. */
export interface ProviderStats {
  status: 'connecting' | 'connected' | 'disconnected';
  sent: DirectionStats;
  received: DirectionStats;
  updatesApplied: { local: number; remote: number; tabs: number };
  connects: number;
  reconnects: number;
  /** Why connections ended: close codes ("1006") and "timeout", "protocol", "permissionDenied". */
  closes: Record<string, number>;
  connectedMs: number;
  /** Delay of the pending reconnect, if one is scheduled. */
  backoffMs: number | null;
  /** Local changes the server has not confirmed; `oldestAgeMs` is the sync lag. */
  unacknowledged: { count: number; bytes: number; oldestAgeMs: number | null };
  lastProbeRttMs: number | null;
  /** Errors by code: MALFORMED_FRAME, FRAME_TOO_LARGE, PERMISSION_DENIED, TIMEOUT, NOT_APPLIED, STORAGE_FAILURE... */
  errors: Record<string, number>;
}
/** `persistence.stats()` and its `stats` event. */
export interface PersistenceStats {
  rows: number;
  bytes: number;
  pendingUpdates: number;
  pendingBytes: number;
  writes: number;
  compactions: number;
  writeFailures: number;
  lastWriteMs: number | null;
  loadMs: number | null;
  /** Storage failures by DOMException name (QuotaExceededError, BlockedError...). */
  errors: Record<string, number>;
}
"#;
