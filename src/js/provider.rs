//! `WebsocketProvider`: the browser adapter around [`Session`], with y-websocket's names.
//!
//! Every browser event (socket, timer, local edit) feeds the session, then `pump` executes the
//! session's outputs. JS callbacks are queued while the state is borrowed and called after the
//! borrow is released.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;

use crate::core::backoff::Backoff;
use crate::core::session::{CloseReason, Config, Event, Output, Session, Status};
use crate::js::doc::{Doc, DocShared};
use crate::js::error::{ApiError, ApiResult};
use crate::web::clock::{now_ms, seed};
use crate::web::socket::{Socket, SocketEvent};
use crate::web::timer::Timer;

/// Settings read from the JS options object.
struct Options {
    connect: bool,
    params: Vec<(String, String)>,
    protocols: Vec<String>,
    awareness: bool,
    max_backoff: u64,
    max_message_size: usize,
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
            v if v.is_string() => vec![v.as_string().unwrap_or_default()],
            v if js_sys::Array::is_array(&v) => js_sys::Array::from(&v)
                .iter()
                .filter_map(|p| p.as_string())
                .collect(),
            _ => vec![],
        };
        Ok(Options {
            connect: flag("connect", true),
            params,
            protocols,
            awareness: flag("awareness", true),
            max_backoff: num("maxBackoffTime", 2_500.0)? as u64,
            max_message_size: num("maxMessageSize", 64.0 * 1024.0 * 1024.0)? as usize,
        })
    }
}

fn build_url(server: &str, room: &str, params: &[(String, String)]) -> String {
    let base = server.trim_end_matches('/');
    let mut url = format!("{base}/{room}");
    if !params.is_empty() {
        let q = web_sys_url_encode(params);
        url.push('?');
        url.push_str(&q);
    }
    url
}

fn web_sys_url_encode(params: &[(String, String)]) -> String {
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
    url: String,
    protocols: Vec<String>,
    socket: Option<Socket>,
    generation: u64,
    timer: Option<Timer>,
    reconnect: Option<Timer>,
    backoff: Backoff,
    should_connect: bool,
    destroyed: bool,
    synced_waiters: Vec<Waiter>,
    ack_waiters: Vec<(u64, Waiter)>,
}

struct Core {
    inner: RefCell<Inner>,
    doc: Rc<DocShared>,
    listeners: RefCell<HashMap<String, Vec<js_sys::Function>>>,
    /// JS events to deliver once no borrow is held: (name, argument).
    events: RefCell<Vec<(String, JsValue)>>,
    /// Promise resolutions to run once no borrow is held.
    resolutions: RefCell<Vec<(Waiter, JsValue)>>,
    observer_key: String,
    /// A pump is queued as a microtask. Outside `inner`: set from a yrs observer that may run
    /// while `inner` is borrowed (remote updates applied by the session).
    pump_scheduled: Cell<bool>,
}

/// Real-time sync of a `Doc` with a y-websocket server room.
#[wasm_bindgen]
pub struct WebsocketProvider {
    core: Rc<Core>,
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

impl Core {
    fn emit(&self, name: &str, arg: JsValue) {
        self.events.borrow_mut().push((name.to_string(), arg));
    }

    /// Delivers queued events and promise resolutions. Called with no borrow held.
    fn flush(&self) {
        self.doc.flush();
        loop {
            let events = std::mem::take(&mut *self.events.borrow_mut());
            let resolutions = std::mem::take(&mut *self.resolutions.borrow_mut());
            if events.is_empty() && resolutions.is_empty() {
                break;
            }
            for (f, v) in resolutions {
                let _ = f.call1(&JsValue::NULL, &v);
            }
            for (name, arg) in events {
                let fs = self
                    .listeners
                    .borrow()
                    .get(&name)
                    .cloned()
                    .unwrap_or_default();
                for f in fs {
                    if let Err(e) = f.call1(&JsValue::NULL, &arg) {
                        web_sys::console::error_2(&"ysync: a provider listener threw".into(), &e);
                    }
                }
            }
        }
    }
}

fn connect(core: &Rc<Core>) {
    {
        let mut inner = core.inner.borrow_mut();
        if inner.destroyed || inner.session.denied() || !inner.should_connect {
            return;
        }
        if inner.socket.is_some() {
            return;
        }
        inner.generation += 1;
        let generation = inner.generation;
        let now = now_ms();
        inner.session.connecting(now);
        let weak = Rc::downgrade(core);
        let opened = Socket::open(&inner.url, &inner.protocols, move |ev| {
            if let Some(core) = weak.upgrade() {
                on_socket(&core, generation, ev);
            }
        });
        match opened {
            Ok(s) => inner.socket = Some(s),
            Err(e) => {
                let err = ApiError::browser(e);
                core.emit("connection-error", err.into());
                inner.session.closed(now);
            }
        }
    }
    pump(core);
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
            SocketEvent::Open => inner.session.connected(now),
            SocketEvent::Message(bytes) => inner.session.handle_frame(now, &bytes),
            SocketEvent::Text => {}
            SocketEvent::Error => core.emit("connection-error", JsValue::UNDEFINED),
            SocketEvent::Close {
                code,
                reason,
                was_clean,
            } => {
                core.emit(
                    "connection-close",
                    obj(&[
                        ("code", JsValue::from(code)),
                        ("reason", JsValue::from_str(&reason)),
                        ("wasClean", JsValue::from_bool(was_clean)),
                    ]),
                );
                drop_socket_later(inner.socket.take());
                inner.session.closed(now);
                schedule_reconnect(core, &mut inner);
            }
        }
    }
    pump(core);
}

/// Drops a socket after the current event handler returns (its closures may be running).
fn drop_socket_later(s: Option<Socket>) {
    if let Some(s) = s {
        wasm_bindgen_futures::spawn_local(async move { drop(s) });
    }
}

fn schedule_reconnect(core: &Rc<Core>, inner: &mut Inner) {
    if inner.destroyed || !inner.should_connect || inner.session.denied() {
        return;
    }
    let delay = inner.backoff.next_delay();
    let weak: Weak<Core> = Rc::downgrade(core);
    let timer = inner.reconnect.get_or_insert_with(|| {
        Timer::new(move || {
            if let Some(core) = weak.upgrade() {
                if let Some(t) = core.inner.borrow_mut().reconnect.as_mut() {
                    t.fired();
                }
                connect(&core);
            }
        })
    });
    timer.schedule(delay);
}

/// Executes the session's outputs, then delivers JS events.
fn pump(core: &Rc<Core>) {
    core.pump_scheduled.set(false);
    {
        let mut inner = core.inner.borrow_mut();
        if inner.destroyed {
            return;
        }
        while let Some(out) = inner.session.poll_output() {
            match out {
                Output::Transmit(frame) => {
                    if let Some(s) = &inner.socket {
                        // A failed send is followed by a close event, which reconnects.
                        let _ = s.send(&frame);
                    }
                }
                Output::Close(reason) => {
                    drop_socket_later(inner.socket.take());
                    let now = now_ms();
                    inner.session.closed(now);
                    if !matches!(reason, CloseReason::PermissionDenied) {
                        schedule_reconnect(core, &mut inner);
                    }
                }
                Output::Persist(_) => {}
                Output::Event(e) => on_event(core, &mut inner, e),
            }
        }
        let mut resolved = Vec::new();
        if inner.session.synced() {
            resolved.extend(inner.synced_waiters.drain(..).map(|f| (f, JsValue::TRUE)));
        }
        let waiters = std::mem::take(&mut inner.ack_waiters);
        for (mark, f) in waiters {
            if inner.session.confirmed(mark) {
                resolved.push((f, JsValue::UNDEFINED));
            } else {
                inner.ack_waiters.push((mark, f));
            }
        }
        core.resolutions.borrow_mut().extend(resolved);
        let next = inner.session.poll_timeout();
        if let Some(at) = next {
            let delay = at.saturating_sub(now_ms());
            let weak: Weak<Core> = Rc::downgrade(core);
            let t = inner.timer.get_or_insert_with(|| {
                Timer::new(move || {
                    if let Some(core) = weak.upgrade() {
                        {
                            let mut inner = core.inner.borrow_mut();
                            if let Some(t) = inner.timer.as_mut() {
                                t.fired();
                            }
                            inner.session.handle_timeout(now_ms());
                        }
                        pump(&core);
                    }
                })
            });
            t.schedule(delay);
        }
    }
    core.flush();
}

fn on_event(core: &Rc<Core>, inner: &mut Inner, e: Event) {
    match e {
        Event::Status(s) => core.emit("status", obj(&[("status", JsValue::from_str(s.as_str()))])),
        Event::Synced(b) => {
            if b {
                inner.backoff.reset();
            }
            core.emit("sync", JsValue::from_bool(b));
            core.emit("synced", JsValue::from_bool(b));
        }
        Event::Unsynced { count, .. } => core.emit("unsynced", JsValue::from(count as u32)),
        Event::Awareness { change, local } => core.emit(
            "awareness-change",
            obj(&[
                ("added", ids(&change.added)),
                ("updated", ids(&change.updated)),
                ("removed", ids(&change.removed)),
                ("local", JsValue::from_bool(local)),
            ]),
        ),
        Event::PermissionDenied(reason) => core.emit(
            "permission-denied",
            obj(&[("reason", JsValue::from_str(&reason))]),
        ),
        Event::Error(err) => core.emit("error", ApiError::Sync(err).into()),
    }
}

fn ids(v: &[u64]) -> JsValue {
    v.iter()
        .map(|c| JsValue::from_f64(*c as f64))
        .collect::<js_sys::Array>()
        .into()
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

#[wasm_bindgen]
impl WebsocketProvider {
    /// `new WebsocketProvider(serverUrl, room, doc, options)`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        server_url: &str,
        room: &str,
        doc: &Doc,
        options: JsValue,
    ) -> ApiResult<WebsocketProvider> {
        let opts = Options::parse(&options)?;
        let shared = doc.shared();
        let mut cfg = Config {
            awareness: opts.awareness,
            ..Config::default()
        };
        cfg.limits.max_frame = opts.max_message_size;
        let observer_key = format!("{}-pump", cfg.origin);
        let session =
            Session::new(shared.doc.clone(), cfg, now_ms()).map_err(|_| ApiError::Busy)?;
        let core = Rc::new(Core {
            inner: RefCell::new(Inner {
                session,
                url: build_url(server_url, room, &opts.params),
                protocols: opts.protocols,
                socket: None,
                generation: 0,
                timer: None,
                reconnect: None,
                backoff: Backoff::new(100, opts.max_backoff, seed()),
                should_connect: opts.connect,
                destroyed: false,
                synced_waiters: vec![],
                ack_waiters: vec![],
            }),
            pump_scheduled: Cell::new(false),
            doc: shared.clone(),
            listeners: RefCell::default(),
            events: RefCell::default(),
            resolutions: RefCell::default(),
            observer_key,
        });
        // Local edits: pump after the transaction has committed (never inside it).
        let weak = Rc::downgrade(&core);
        shared
            .doc
            .observe_update_v1(core.observer_key.as_str(), move |_, _| schedule_pump(&weak))
            .map_err(|_| ApiError::Busy)?;
        if opts.connect {
            connect(&core);
        }
        Ok(WebsocketProvider { core })
    }

    /// Starts connecting (and reconnecting after failures).
    pub fn connect(&self) {
        self.core.inner.borrow_mut().should_connect = true;
        connect(&self.core);
    }

    /// Closes the connection and stops reconnecting.
    pub fn disconnect(&self) {
        {
            let mut inner = self.core.inner.borrow_mut();
            inner.should_connect = false;
            if let Some(t) = inner.reconnect.as_mut() {
                t.cancel();
            }
            if inner.socket.is_some() {
                drop_socket_later(inner.socket.take());
                inner.session.closed(now_ms());
            }
        }
        pump(&self.core);
    }

    /// Disconnects and releases every listener, timer and socket.
    pub fn destroy(&self) {
        {
            let mut inner = self.core.inner.borrow_mut();
            if inner.destroyed {
                return;
            }
            // Tell peers we left before the socket goes.
            if inner.session.awareness().local_state().is_some() {
                inner.session.set_local_awareness(now_ms(), None);
            }
        }
        pump(&self.core);
        {
            let mut inner = self.core.inner.borrow_mut();
            inner.destroyed = true;
            inner.should_connect = false;
            inner.timer = None;
            inner.reconnect = None;
            drop_socket_later(inner.socket.take());
            inner.session.closed(now_ms());
            inner.synced_waiters.clear();
            inner.ack_waiters.clear();
        }
        let _ = self
            .core
            .doc
            .doc
            .unobserve_update_v1(self.core.observer_key.as_str());
        self.core.listeners.borrow_mut().clear();
        self.core.events.borrow_mut().clear();
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
        self.core.inner.borrow_mut().session.unconfirmed().0 > 0
    }

    /// Resolves when synced with the server.
    #[wasm_bindgen(js_name = whenSynced)]
    pub fn when_synced(&self) -> js_sys::Promise {
        let core = self.core.clone();
        js_sys::Promise::new(&mut |resolve, _reject| {
            let mut inner = core.inner.borrow_mut();
            if inner.session.synced() {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::TRUE);
            } else {
                inner.synced_waiters.push(resolve);
            }
        })
    }

    /// Resolves once the server has applied every local change made before the call.
    #[wasm_bindgen(js_name = whenAcknowledged)]
    pub fn when_acknowledged(&self) -> js_sys::Promise {
        let core = self.core.clone();
        js_sys::Promise::new(&mut |resolve, _reject| {
            let mut inner = core.inner.borrow_mut();
            let mark = inner.session.ack_mark();
            if inner.session.confirmed(mark) {
                let _ = resolve.call0(&JsValue::NULL);
            } else {
                inner.ack_waiters.push((mark, resolve));
            }
        })
    }

    /// Sets this client's awareness state (any JSON value; `null` clears it).
    #[wasm_bindgen(js_name = setAwarenessState)]
    pub fn set_awareness_state(&self, state: JsValue) -> ApiResult<()> {
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
        self.core
            .inner
            .borrow_mut()
            .session
            .set_local_awareness(now_ms(), json.as_deref());
        pump(&self.core);
        Ok(())
    }

    /// Every awareness state, as `Map<clientID, state>`.
    #[wasm_bindgen(js_name = getAwarenessStates)]
    pub fn get_awareness_states(&self) -> js_sys::Map {
        let m = js_sys::Map::new();
        for (c, json) in self.core.inner.borrow().session.awareness().states() {
            // States were checked as JSON when they arrived.
            if let Ok(v) = js_sys::JSON::parse(&json) {
                m.set(&JsValue::from_f64(c as f64), &v);
            }
        }
        m
    }

    /// `provider.on(event, cb)`: status, sync, synced, unsynced, connection-close,
    /// connection-error, permission-denied, awareness-change, error.
    pub fn on(&self, event: &str, f: js_sys::Function) {
        self.core
            .listeners
            .borrow_mut()
            .entry(event.to_string())
            .or_default()
            .push(f);
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        if let Some(v) = self.core.listeners.borrow_mut().get_mut(event) {
            v.retain(|g| g != f);
        }
    }
}

impl Drop for WebsocketProvider {
    fn drop(&mut self) {
        self.destroy();
    }
}

#[allow(dead_code)]
fn _status_names_are_y_websockets() -> [&'static str; 3] {
    [
        Status::Connecting.as_str(),
        Status::Connected.as_str(),
        Status::Disconnected.as_str(),
    ]
}
