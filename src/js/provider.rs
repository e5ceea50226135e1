//! `WebsocketProvider` and `Awareness` for JS, with y-websocket's and y-protocols' names: JS
//! options parsed into a [`ProviderConfig`], the driver's events turned into JS events, errors
//! into JS `Error`s. The behaviour is the driver's (`driver::provider`).

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::core::awareness::{AwarenessChange, AwarenessOrigin};
use crate::driver::provider::{
    self as driver, ProviderConfig, ProviderEvent, TokenFuture, TokenIn,
};
use crate::driver::subscribers::Subscription;
use crate::js::doc::Doc;
use crate::js::error::{to_js, ApiError, ApiResult};
use crate::js::events::Listeners;
use crate::js::keepalive;
use crate::js::promise::promise;
use crate::js::shared::DocShared;
use crate::js::value::to_js_json;

pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or_default()
    } else {
        JsValue::UNDEFINED
    }
}

/// The driver's token source for a JS `token` function (which may return a promise).
pub(crate) fn token_source(f: js_sys::Function) -> driver::TokenSource {
    Rc::new(move || -> TokenFuture {
        let called = f.call0(&JsValue::NULL);
        Box::pin(async move {
            let v = match called.map(|v| v.dyn_into::<js_sys::Promise>()) {
                Ok(Ok(p)) => JsFuture::from(p).await,
                Ok(Err(v)) => Ok(v),
                Err(e) => Err(e),
            };
            v.map(|t| t.as_string()).map_err(ApiError::browser)
        })
    })
}

/// A non-negative number option `k` of `o`, or `d` when absent.
pub(crate) fn num(o: &JsValue, k: &str, d: f64) -> ApiResult<f64> {
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
}

/// A duration option in ms.
pub(crate) fn ms(o: &JsValue, k: &str, d: u64) -> ApiResult<u64> {
    num(o, k, d as f64).map(|n| n as u64)
}

/// An object of string (or number) values, as `[name, value]` pairs.
pub(crate) fn string_pairs(p: &JsValue) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if p.is_object() {
        for e in js_sys::Object::entries(p.unchecked_ref()).iter() {
            let pair: js_sys::Array = e.unchecked_into();
            let v = pair.get(1);
            // A number as JS writes it (URLSearchParams does the same), not as Rust would.
            let v = v
                .as_string()
                .or_else(|| {
                    v.as_f64()?;
                    js_sys::Number::from(v.clone())
                        .to_string_with_radix(10)
                        .ok()
                        .and_then(|s| s.as_string())
                })
                .unwrap_or_default();
            pairs.push((pair.get(0).as_string().unwrap_or_default(), v));
        }
    }
    pairs
}

/// The options every provider class has (ysync's own, beyond its peer's), over `d`, and the
/// `logLevel`.
pub(crate) fn parse_common(
    o: &JsValue,
    d: ProviderConfig,
) -> ApiResult<(ProviderConfig, Option<log::LevelFilter>)> {
    if !(o.is_undefined() || o.is_null() || o.is_object()) {
        return Err(ApiError::InvalidArgument(
            "options must be an object".into(),
        ));
    }
    let flag = |k: &str, d: bool| get(o, k).as_bool().unwrap_or(d);
    let cfg = ProviderConfig {
        connect: flag("connect", d.connect),
        awareness_timeout_ms: ms(o, "awarenessTimeout", d.awareness_timeout_ms)?,
        max_awareness_clients: num(o, "maxAwarenessClients", d.max_awareness_clients as f64)?
            as usize,
        ack_interval_ms: ms(o, "ackInterval", d.ack_interval_ms)?,
        heartbeat_interval_ms: ms(o, "heartbeatInterval", d.heartbeat_interval_ms)?,
        heartbeat_timeout_ms: ms(o, "heartbeatTimeout", d.heartbeat_timeout_ms)?,
        cross_tab: !flag("disableBc", !d.cross_tab),
        share_connection: flag("shareConnection", d.share_connection),
        max_message_size: num(o, "maxMessageSize", d.max_message_size as f64)? as usize,
        stats_interval_ms: ms(o, "statsInterval", d.stats_interval_ms)?,
        ..d
    };
    Ok((cfg, log_level(&get(o, "logLevel"))?))
}

/// `new WebsocketProvider(…, options)`: y-websocket's option names and defaults.
fn parse_options(o: &JsValue) -> ApiResult<(ProviderConfig, Option<log::LevelFilter>)> {
    let (d, level) = parse_common(o, ProviderConfig::default())?;
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
        v => Some(token_source(v.dyn_into::<js_sys::Function>().map_err(
            |_| ApiError::InvalidArgument("option token must be a function".into()),
        )?)),
    };
    let token_in = match get(o, "tokenIn") {
        v if v.is_undefined() => TokenIn::Query,
        v => match v.as_string().as_deref() {
            Some("query") => TokenIn::Query,
            Some("protocol") => TokenIn::Protocol,
            _ => {
                return Err(ApiError::InvalidArgument(
                    "option tokenIn must be 'query' or 'protocol'".into(),
                ))
            }
        },
    };
    let cfg = ProviderConfig {
        params: string_pairs(&get(o, "params")),
        protocols,
        token,
        token_param: get(o, "tokenParam")
            .as_string()
            .unwrap_or(d.token_param.clone()),
        token_in,
        awareness: get(o, "awareness").as_bool().unwrap_or(d.awareness),
        max_backoff_ms: ms(o, "maxBackoffTime", d.max_backoff_ms)?,
        resync_interval_ms: ms(o, "resyncInterval", d.resync_interval_ms)?,
        ..d
    };
    Ok((cfg, level))
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

/// A socket's close as JS sees it: `{ code, reason, wasClean }` (a CloseEvent's fields).
pub(crate) fn close_event(code: u16, reason: &str, was_clean: bool) -> JsValue {
    obj(&[
        ("code", JsValue::from(code)),
        ("reason", JsValue::from_str(reason)),
        ("wasClean", JsValue::from_bool(was_clean)),
    ])
}

pub(crate) fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
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

/// Calls the JS listeners of `e` (y-websocket's event names and arguments).
fn dispatch(shell: &Shell, e: &ProviderEvent) {
    let listeners = &shell.listeners;
    match e {
        ProviderEvent::Status(s) => listeners.call(
            "status",
            &[obj(&[("status", JsValue::from_str(s.as_str()))])],
        ),
        ProviderEvent::Sync(b) => {
            listeners.call("sync", &[JsValue::from_bool(*b)]);
            listeners.call("synced", &[JsValue::from_bool(*b)]);
        }
        ProviderEvent::Unsynced(n) => listeners.call("unsynced", &[JsValue::from(*n as u32)]),
        ProviderEvent::ConnectionClose {
            code,
            reason,
            was_clean,
        } => listeners.call(
            "connection-close",
            &[close_event(*code, reason, *was_clean)],
        ),
        ProviderEvent::ConnectionError(err) => listeners.call(
            "connection-error",
            &[err.as_ref().map_or(JsValue::UNDEFINED, to_js)],
        ),
        ProviderEvent::PermissionDenied(reason) => listeners.call(
            "permission-denied",
            &[obj(&[("reason", JsValue::from_str(reason))])],
        ),
        ProviderEvent::Error(err) => listeners.call("error", &[ApiError::Sync(err.clone()).into()]),
        ProviderEvent::Awareness { change, origin } => {
            dispatch_awareness(shell, change, *origin);
        }
        ProviderEvent::Stats(s) => listeners.call("stats", &[to_js_json(s)]),
        // Hocuspocus's; the y-websocket dialect has neither.
        ProviderEvent::Authenticated(_) | ProviderEvent::Stateless(_) => {}
    }
}

/// The awareness events of y-protocols (`awareness.on('update' | 'change')`): `update` for
/// every update (renewals too), `change` when a state appeared, changed or left; the origin
/// is y-protocols' and y-websocket's: `'local'`, `'timeout'`, or the provider's origin for
/// what its connection brought or took away. True when `change` fired.
pub(crate) fn dispatch_awareness(
    shell: &Shell,
    change: &AwarenessChange,
    origin: AwarenessOrigin,
) -> bool {
    let listeners = &shell.listeners;
    let origin = match origin {
        AwarenessOrigin::Local => JsValue::from_str("local"),
        AwarenessOrigin::Timeout => JsValue::from_str("timeout"),
        AwarenessOrigin::Remote | AwarenessOrigin::Closed => shell.origin(),
    };
    listeners.call(
        "awareness:update",
        &[change_obj(change, true), origin.clone()],
    );
    if change.changed() {
        listeners.call("awareness:change", &[change_obj(change, false), origin]);
    }
    change.changed()
}

/// What a JS provider and its `Awareness` share: the driver and the JS listeners it feeds.
/// Kept alive until `destroy()` (see `keepalive`), whether or not JS keeps the wrapper.
pub(crate) struct Shell {
    /// Dropped first: no JS call after the driver is gone.
    _events: Subscription<ProviderEvent>,
    pub(crate) listeners: Rc<Listeners>,
    pub(crate) provider: driver::WebsocketProvider,
    doc: Rc<DocShared>,
    /// What `awareness.getStates()` / `states` and `meta` return: one Map each for the
    /// provider's life (as y-protocols' own), refilled only when the awareness moved (the
    /// version it was filled at).
    states: std::cell::RefCell<(u64, js_sys::Map)>,
    meta: std::cell::RefCell<(u64, js_sys::Map)>,
    /// `awareness.doc`: one wrapper of the provider's document.
    doc_js: std::cell::OnceCell<JsValue>,
    /// What events see as the origin of what this provider applies (document updates, and
    /// presence from the connection).
    origin: std::cell::RefCell<JsValue>,
    /// The `Awareness` object, for its `destroy` listeners (weakly: it holds this shell).
    awareness_js: std::cell::OnceCell<js_sys::WeakRef>,
    /// `awareness.destroy()` ran (or the provider went).
    awareness_gone: std::cell::Cell<bool>,
}

/// A running provider as JS sees it: its shell and its `Awareness`.
pub(crate) struct Started {
    pub(crate) shell: Rc<Shell>,
    pub(crate) awareness: JsValue,
}

impl Shell {
    /// Wraps a started driver: its events go to JS listeners through `dispatch` (each class
    /// has its own event names), its origins are registered with the document, and it is kept
    /// alive until `destroy()`.
    pub(crate) fn start(
        provider: driver::WebsocketProvider,
        shared: Rc<DocShared>,
        dispatch: fn(&Shell, &ProviderEvent),
    ) -> Started {
        let origin: JsValue = js_sys::Object::freeze(&js_sys::Object::new()).into();
        for k in provider.applied_origins() {
            shared.register_origin(k.as_bytes(), origin.clone());
        }
        let shell = Rc::new_cyclic(|weak: &std::rc::Weak<Shell>| {
            let weak = weak.clone();
            // Events are delivered with no borrow held: a listener may call the provider.
            let events = provider.subscribe(move |e| {
                if let Some(shell) = weak.upgrade() {
                    dispatch(&shell, e)
                }
            });
            Shell {
                _events: events,
                listeners: Rc::default(),
                provider,
                doc: shared,
                states: std::cell::RefCell::new((u64::MAX, js_sys::Map::new())),
                meta: std::cell::RefCell::new((u64::MAX, js_sys::Map::new())),
                doc_js: std::cell::OnceCell::new(),
                origin: std::cell::RefCell::new(origin),
                awareness_js: std::cell::OnceCell::new(),
                awareness_gone: std::cell::Cell::new(false),
            }
        });
        keepalive::keep(&shell);
        let awareness: JsValue = Awareness {
            shell: shell.clone(),
        }
        .into();
        if let Some(o) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Object>(&awareness) {
            let _ = shell.awareness_js.set(js_sys::WeakRef::new(o));
        }
        Started { awareness, shell }
    }

    /// The origin events see for what this provider applies.
    pub(crate) fn origin(&self) -> JsValue {
        self.origin.borrow().clone()
    }

    /// Makes `value` the origin events see (the `ysync/yjs` entry passes its provider object,
    /// as y-websocket does: `transaction.origin === provider`).
    pub(crate) fn adopt_origin(&self, value: JsValue) {
        for k in self.provider.applied_origins() {
            self.doc.register_origin(k.as_bytes(), value.clone());
        }
        *self.origin.borrow_mut() = value;
    }

    /// This client's presence state, parsed, or null.
    pub(crate) fn local_state(&self) -> JsValue {
        self.provider
            .local_awareness()
            .and_then(|j| js_sys::JSON::parse(&j).ok())
            .unwrap_or(JsValue::NULL)
    }

    /// Sets this client's presence state (any JSON value; null or undefined marks this client
    /// as gone).
    pub(crate) fn set_local_state(&self, state: &JsValue) -> ApiResult<()> {
        let json = if state.is_null() || state.is_undefined() {
            None
        } else {
            Some(
                js_sys::JSON::stringify(state)
                    .ok()
                    .and_then(|s| s.as_string())
                    .ok_or_else(|| {
                        ApiError::InvalidArgument("awareness state must be JSON".into())
                    })?,
            )
        };
        self.provider.set_local_awareness(json.as_deref());
        Ok(())
    }

    /// The awareness goes (y-protocols' `destroy()`, or the provider going with it): its
    /// `destroy` listeners are called with it, then, with `leave`, this client's state becomes
    /// null (the provider, when it goes, says so itself), then it has no listeners left.
    pub(crate) fn destroy_awareness(&self, leave: bool) {
        if self.awareness_gone.replace(true) {
            return;
        }
        // In y-protocols' order: `destroy`, then the local state's removal (with its `change`
        // and `update` events), then no listeners.
        let me = self
            .awareness_js
            .get()
            .and_then(|w| w.deref())
            .map_or(JsValue::UNDEFINED, JsValue::from);
        self.listeners
            .call("awareness:destroy", std::slice::from_ref(&me));
        if leave && !self.provider.destroyed() {
            self.provider.set_local_awareness(None);
        }
        for event in ["awareness:change", "awareness:update", "awareness:destroy"] {
            self.listeners.remove_all(event);
        }
    }

    /// Stops the driver and lets the shell go; false if it was stopped already.
    pub(crate) fn destroy(self: &Rc<Self>) -> bool {
        if self.provider.destroyed() {
            return false;
        }
        for k in self.provider.applied_origins() {
            self.doc.unregister_origin(k.as_bytes());
        }
        self.provider.destroy();
        keepalive::release(self);
        true
    }
}

/// Real-time sync of a `Doc` with a y-websocket server room.
#[wasm_bindgen]
pub struct WebsocketProvider {
    shell: Rc<Shell>,
    /// The one `Awareness` object `provider.awareness` returns.
    awareness: JsValue,
}

#[wasm_bindgen]
impl WebsocketProvider {
    /// `new WebsocketProvider(serverUrl, room, doc, options)`: runs until `destroy()`, whether
    /// or not the app keeps a reference to it (as y-websocket's).
    #[wasm_bindgen(constructor)]
    pub fn new(
        server_url: &str,
        room: &str,
        doc: &Doc,
        options: Option<crate::js::ts::ProviderOptionsArg>,
    ) -> ApiResult<WebsocketProvider> {
        let (cfg, level) = parse_options(&crate::js::ts::or_undefined(options))?;
        if let Some(level) = level {
            crate::web::log::set_level(level);
        }
        let shared = doc.shared();
        let provider = driver::WebsocketProvider::new(server_url, room, shared.document(), cfg)?;
        let Started { shell, awareness } = Shell::start(provider, shared, dispatch);
        Ok(WebsocketProvider { shell, awareness })
    }

    /// The origin of the updates this provider applies (from the server and other tabs) and
    /// of the presence changes its connection brings, as events see it:
    /// `transaction.origin === provider.origin` (y-websocket passes the provider itself; a
    /// wasm object cannot hand out its own JS wrapper, the `ysync/yjs` entry's can).
    #[wasm_bindgen(getter, unchecked_return_type = "object")]
    pub fn origin(&self) -> JsValue {
        self.shell.origin()
    }

    /// Makes `value` the origin events see (internal: the `ysync/yjs` entry's provider).
    #[wasm_bindgen(js_name = __adoptOrigin, skip_typescript)]
    pub fn adopt_origin(&self, value: JsValue) {
        self.shell.adopt_origin(value);
    }

    /// Starts connecting (and reconnecting after failures), and joins the other tabs.
    pub fn connect(&self) {
        self.shell.provider.connect();
    }

    /// Closes the connection and the cross-tab channel, and stops reconnecting.
    pub fn disconnect(&self) {
        self.shell.provider.disconnect();
    }

    /// Disconnects and releases every listener, timer, channel and socket. Pending
    /// `whenSynced` / `whenAcknowledged` promises are rejected.
    pub fn destroy(&self) {
        if self.shell.destroy() {
            self.shell.destroy_awareness(false);
            self.shell.listeners.clear();
        }
    }

    /// `'connecting' | 'connected' | 'disconnected'` (a follower's: its leader's connection).
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> String {
        self.shell.provider.status().as_str().into()
    }

    /// Whose connection this is: `'solo'`, `'leader'` or `'follower'` (see `shareConnection`).
    #[wasm_bindgen(getter, unchecked_return_type = "ProviderRole")]
    pub fn role(&self) -> String {
        self.shell.provider.role().into()
    }

    /// True once the first sync step 2 of the current connection arrived.
    #[wasm_bindgen(getter)]
    pub fn synced(&self) -> bool {
        self.shell.provider.synced()
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
        self.shell.provider.unsynced_changes() as u32
    }

    /// A snapshot of the sync metrics (see the README: traffic per message type, updates
    /// applied, connects and close reasons, time connected, current backoff, unacknowledged
    /// changes and the age of the oldest, last probe round trip, errors by code).
    #[wasm_bindgen(unchecked_return_type = "ProviderStats")]
    pub fn stats(&self) -> JsValue {
        to_js_json(&self.shell.provider.stats())
    }

    /// Resolves when synced with the server.
    #[wasm_bindgen(js_name = whenSynced, unchecked_return_type = "Promise<true>")]
    pub fn when_synced(&self) -> js_sys::Promise {
        promise(JsValue::TRUE, |s| self.shell.provider.when_synced(s))
    }

    /// Resolves once the server has applied every local change made before the call.
    #[wasm_bindgen(js_name = whenAcknowledged, unchecked_return_type = "Promise<void>")]
    pub fn when_acknowledged(&self) -> js_sys::Promise {
        promise(JsValue::UNDEFINED, |s| {
            self.shell.provider.when_acknowledged(s)
        })
    }

    /// The awareness (presence) of this room, with y-protocols' `Awareness` methods.
    #[wasm_bindgen(getter, unchecked_return_type = "Awareness")]
    pub fn awareness(&self) -> JsValue {
        self.awareness.clone()
    }

    /// `provider.on(event, cb)`: status, sync, synced, unsynced, connection-close,
    /// connection-error, permission-denied, error, stats.
    pub fn on(&self, event: &str, f: js_sys::Function) {
        self.shell.listeners.add(event, f);
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.shell.listeners.remove(event, f);
    }
}

/// y-protocols' `Awareness`, bound to a provider.
#[wasm_bindgen]
pub struct Awareness {
    shell: Rc<Shell>,
}

#[wasm_bindgen]
impl Awareness {
    /// This client's id (the document's).
    #[wasm_bindgen(getter, js_name = clientID)]
    pub fn client_id(&self) -> f64 {
        self.shell.provider.awareness_client_id() as f64
    }

    /// This client's state: `{}` until one is set (as y-protocols), null once cleared.
    #[wasm_bindgen(js_name = getLocalState, unchecked_return_type = "AwarenessState | null")]
    pub fn get_local_state(&self) -> JsValue {
        self.shell.local_state()
    }

    /// Sets this client's state (any JSON value; null marks this client as gone).
    #[wasm_bindgen(js_name = setLocalState)]
    pub fn set_local_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "AwarenessState | null")] state: JsValue,
    ) -> ApiResult<()> {
        self.shell.set_local_state(&state)
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

    /// Every known state, ours included, as `Map<clientID, state>`: the same Map on every
    /// call, refilled when presence changed (y-protocols' `states`; editor bindings call this
    /// on every redraw).
    #[wasm_bindgen(js_name = getStates, unchecked_return_type = "Map<number, AwarenessState>")]
    pub fn get_states(&self) -> js_sys::Map {
        let version = self.shell.provider.awareness_version();
        let mut cache = self.shell.states.borrow_mut();
        if cache.0 != version {
            cache.1.clear();
            for (c, json) in self.shell.provider.awareness_states() {
                // States were checked as JSON (and for size) when they arrived.
                if let Ok(v) = js_sys::JSON::parse(&json) {
                    cache.1.set(&JsValue::from_f64(c as f64), &v);
                }
            }
            cache.0 = version;
        }
        cache.1.clone()
    }

    /// The same Map as `getStates()`.
    #[wasm_bindgen(getter, unchecked_return_type = "Map<number, AwarenessState>")]
    pub fn states(&self) -> js_sys::Map {
        self.get_states()
    }

    /// y-protocols' `meta`: per known client, `{ clock, lastUpdated }` (`lastUpdated` in
    /// `Date.now()` milliseconds). The same Map on every call, refilled when presence moved.
    #[wasm_bindgen(
        getter,
        unchecked_return_type = "Map<number, { clock: number; lastUpdated: number }>"
    )]
    pub fn meta(&self) -> js_sys::Map {
        let version = self.shell.provider.awareness_version();
        let mut cache = self.shell.meta.borrow_mut();
        if cache.0 != version {
            cache.1.clear();
            // The core's times are on performance.now()'s clock; y-protocols' on Date.now()'s.
            let offset = js_sys::Date::now() - crate::web::clock::now_f64();
            for (c, clock, at) in self.shell.provider.awareness_meta() {
                let entry = obj(&[
                    ("clock", JsValue::from_f64(f64::from(clock))),
                    (
                        "lastUpdated",
                        JsValue::from_f64((at as f64 + offset).round()),
                    ),
                ]);
                cache.1.set(&JsValue::from_f64(c as f64), &entry);
            }
            cache.0 = version;
        }
        cache.1.clone()
    }

    /// The document this presence belongs to (y-protocols' `awareness.doc`; bindings read
    /// `awareness.doc.clientID`).
    #[wasm_bindgen(getter, unchecked_return_type = "Doc")]
    pub fn doc(&self) -> JsValue {
        self.shell
            .doc_js
            .get_or_init(|| Doc::from_shared(self.shell.doc.clone()).into())
            .clone()
    }

    /// `on('change' | 'update', ({ added, updated, removed }, origin) => …)`, and
    /// `on('destroy', (awareness) => …)` when the provider (and its presence) is destroyed.
    pub fn on(&self, event: &str, f: js_sys::Function) -> ApiResult<()> {
        if !matches!(event, "change" | "update" | "destroy") {
            return Err(ApiError::InvalidArgument(format!(
                "unknown awareness event '{event}' (expected 'change', 'update' or 'destroy')"
            )));
        }
        self.shell.listeners.add(&format!("awareness:{event}"), f);
        Ok(())
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.shell
            .listeners
            .remove(&format!("awareness:{event}"), f);
    }

    /// y-protocols' `destroy()`: this client leaves (its state becomes null, which peers see),
    /// the `destroy` listeners are called with this awareness, then it has no listeners. The
    /// provider goes on syncing the document.
    pub fn destroy(&self) {
        self.shell.destroy_awareness(true);
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
  /** The tabs of this origin that open this document share one connection: one tab (elected
   * with Web Locks) connects, the others go through it (default true; every tab connects when
   * false, with `disableBc`, or without Web Locks). */
  shareConnection?: boolean;
  /** Larger frames close the connection, bytes (default 64 MiB). */
  maxMessageSize?: number;
  /** Emit a `stats` event this often, ms (default 0: off). */
  statsInterval?: number;
  /** Turn the debug log on. */
  logLevel?: LogLevel;
}

/** Whose connection a provider's is: its own (`solo`: sharing off or unavailable), its own
 * for every tab of the document (`leader`), or another tab's (`follower`). */
export type ProviderRole = 'solo' | 'leader' | 'follower';

/** One client's presence state (JSON). */
export type AwarenessState = { [field: string]: JsonValue };
/** Messages and the bytes of the frames that carried them. */
export interface Traffic { messages: number; bytes: number }
/** A message type as the stats name it; `syncStatus`, `stateless` and `close` are Hocuspocus's. */
export type MessageType = 'syncStep1' | 'syncStep2' | 'update' | 'awareness' | 'queryAwareness' | 'auth' | 'custom' | 'invalid' | 'syncStatus' | 'stateless' | 'close';
/** Traffic in one direction; `byType` holds the types seen so far. */
export interface DirectionStats { frames: number; bytes: number; byType: Partial<Record<MessageType, Traffic>> }
/** `provider.stats()` and the `stats` event. */
export interface ProviderStats {
  status: 'connecting' | 'connected' | 'disconnected';
  /** A follower's traffic, connection and error figures are its leader's; `updatesApplied`
   * and `unacknowledged` are its own (the same count in every tab). */
  role: ProviderRole;
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
"#;
