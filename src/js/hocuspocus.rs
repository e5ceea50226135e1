//! `HocuspocusProvider` for JS, with `@hocuspocus/provider`'s names: its options parsed into a
//! [`ProviderConfig`], the driver's events turned into its events. The behaviour is the
//! driver's (`driver::hocuspocus`).

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::core::session::Status;
use crate::driver::hocuspocus::{self as driver, HocuspocusProvider as Driver};
use crate::driver::provider::{ProviderConfig, ProviderEvent, TokenFuture};
use crate::js::doc::{doc_of, Doc};
use crate::js::error::{to_js, ApiError, ApiResult};
use crate::js::events::Listeners;
use crate::js::multiplex::socket_of;
use crate::js::promise::promise;
use crate::js::provider::{
    close_event, dispatch_awareness, get, ms, obj, parse_common, string_pairs, token_source, Shell,
    Started,
};
use crate::js::value::to_js_json;

/// The `token` option: a string, a (possibly async) function, or null.
fn token_option(v: JsValue) -> ApiResult<Option<crate::driver::provider::TokenSource>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if let Some(t) = v.as_string() {
        return Ok(Some(Rc::new(move || -> TokenFuture {
            let t = t.clone();
            Box::pin(async move { Ok(Some(t)) })
        })));
    }
    match v.dyn_into::<js_sys::Function>() {
        Ok(f) => Ok(Some(token_source(f))),
        Err(_) => Err(ApiError::InvalidArgument(
            "option token must be a string, a function or null".into(),
        )),
    }
}

fn required_string(o: &JsValue, k: &str) -> ApiResult<String> {
    get(o, k)
        .as_string()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::InvalidArgument(format!("option {k} must be a non-empty string")))
}

/// Where a provider connects: its own socket to a URL, or a shared socket.
enum Target {
    Url(String),
    Shared(crate::driver::multiplex::HocuspocusProviderWebsocket),
}

/// `new HocuspocusProvider(configuration)`: `@hocuspocus/provider`'s names and defaults.
fn parse_options(
    o: &JsValue,
) -> ApiResult<(Target, String, ProviderConfig, Option<log::LevelFilter>)> {
    if !o.is_object() {
        return Err(ApiError::InvalidArgument(
            "the configuration must be an object with url and name".into(),
        ));
    }
    let shared = get(o, "websocketProvider");
    let target = if shared.is_undefined() || shared.is_null() {
        Target::Url(required_string(o, "url")?)
    } else {
        Target::Shared(socket_of(&shared).ok_or_else(|| {
            ApiError::InvalidArgument(
                "option websocketProvider must be a ysync HocuspocusProviderWebsocket".into(),
            )
        })?)
    };
    let name = required_string(o, "name")?;
    let (d, level) = parse_common(o, driver::default_config())?;
    let awareness = match get(o, "awareness") {
        v if v.is_undefined() => true,
        v if v.is_null() || v.as_bool() == Some(false) => false,
        v if v.as_bool() == Some(true) => true,
        _ => {
            return Err(ApiError::InvalidArgument(
                "option awareness must be null (no presence) or left out: provider.awareness is made by the provider".into(),
            ))
        }
    };
    let resync = match get(o, "forceSyncInterval") {
        v if v.is_undefined() || v.as_bool() == Some(false) => 0,
        _ => ms(o, "forceSyncInterval", 0)?,
    };
    let cfg = ProviderConfig {
        params: string_pairs(&get(o, "parameters")),
        token: token_option(get(o, "token"))?,
        awareness,
        max_backoff_ms: ms(o, "maxDelay", d.max_backoff_ms)?,
        resync_interval_ms: resync,
        ..d
    };
    Ok((target, name, cfg, level))
}

/// `awarenessStatesToArray`: every state as `{ clientId, ...state }`.
fn states_array(provider: &crate::driver::provider::WebsocketProvider) -> JsValue {
    let out = js_sys::Array::new();
    for (client, json) in provider.awareness_states() {
        let entry = js_sys::Object::new();
        let _ = js_sys::Reflect::set(
            &entry,
            &"clientId".into(),
            &JsValue::from_f64(client as f64),
        );
        // States were checked as JSON when they arrived.
        if let Ok(state) = js_sys::JSON::parse(&json) {
            if state.is_object() {
                let _ = js_sys::Object::assign(&entry, state.unchecked_ref());
            }
        }
        out.push(&entry);
    }
    out.into()
}

/// `status` ({ status }), and `connect` once connected: Hocuspocus's provider and socket both.
pub(crate) fn status_events(listeners: &Listeners, s: Status) {
    listeners.call(
        "status",
        &[obj(&[("status", JsValue::from_str(s.as_str()))])],
    );
    if s == Status::Connected {
        listeners.call("connect", &[]);
    }
}

/// `close` and `disconnect`, each `{ event }`: Hocuspocus's provider and socket both.
pub(crate) fn close_events(listeners: &Listeners, code: u16, reason: &str, was_clean: bool) {
    let event = close_event(code, reason, was_clean);
    listeners.call("close", &[obj(&[("event", event.clone())])]);
    listeners.call("disconnect", &[obj(&[("event", event)])]);
}

/// Calls the JS listeners of `e` with `@hocuspocus/provider`'s event names and arguments.
fn dispatch(shell: &Shell, e: &ProviderEvent) {
    let listeners = &shell.listeners;
    match e {
        ProviderEvent::Status(s) => status_events(listeners, *s),
        // Hocuspocus only tells when it becomes synced.
        ProviderEvent::Sync(true) => listeners.call("synced", &[obj(&[("state", JsValue::TRUE)])]),
        ProviderEvent::Sync(false) => {}
        ProviderEvent::Unsynced(n) => listeners.call(
            "unsyncedChanges",
            &[obj(&[("number", JsValue::from(*n as u32))])],
        ),
        ProviderEvent::ConnectionClose {
            code,
            reason,
            was_clean,
        } => close_events(listeners, *code, reason, *was_clean),
        // A failed socket is followed by its close; a token that could not be had is an error.
        ProviderEvent::ConnectionError(None) => {}
        ProviderEvent::ConnectionError(Some(err)) => listeners.call("error", &[to_js(err)]),
        ProviderEvent::PermissionDenied(reason) => listeners.call(
            "authenticationFailed",
            &[obj(&[("reason", JsValue::from_str(reason))])],
        ),
        ProviderEvent::Authenticated(scope) => listeners.call(
            "authenticated",
            &[obj(&[("scope", JsValue::from_str(scope))])],
        ),
        ProviderEvent::Stateless(payload) => listeners.call(
            "stateless",
            &[obj(&[("payload", JsValue::from_str(payload))])],
        ),
        ProviderEvent::Error(err) => listeners.call("error", &[ApiError::Sync(err.clone()).into()]),
        ProviderEvent::Awareness { change, origin } => {
            // The awareness object's own events, then the provider's `{ states }` ones.
            let changed = dispatch_awareness(shell, change, *origin);
            for (event, fire) in [("awarenessUpdate", true), ("awarenessChange", changed)] {
                if fire && listeners.has(event) {
                    let states = states_array(&shell.provider);
                    listeners.call(event, &[obj(&[("states", states)])]);
                }
            }
        }
        ProviderEvent::Stats(s) => listeners.call("stats", &[to_js_json(s)]),
    }
}

/// Real-time sync of a `Doc` with a Hocuspocus server document.
#[wasm_bindgen]
pub struct HocuspocusProvider {
    shell: Rc<Shell>,
    awareness: JsValue,
    document: JsValue,
    name: String,
}

#[wasm_bindgen]
impl HocuspocusProvider {
    /// `new HocuspocusProvider({ url, name, document, token, parameters, awareness,
    /// forceSyncInterval, ... })`: runs until `destroy()`, whether or not the app keeps a
    /// reference to it (as Hocuspocus's).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "HocuspocusProviderConfiguration")]
        configuration: JsValue,
    ) -> ApiResult<HocuspocusProvider> {
        let (target, name, cfg, level) = parse_options(&configuration)?;
        if let Some(level) = level {
            crate::web::log::set_level(level);
        }
        let given = get(&configuration, "document");
        let (document, shared) = if given.is_undefined() || given.is_null() {
            let doc = Doc::new(None)?;
            let shared = doc.shared();
            (JsValue::from(doc), shared)
        } else {
            let shared = doc_of(&given).ok_or_else(|| {
                ApiError::InvalidArgument("option document must be a ysync Doc".into())
            })?;
            (given, shared)
        };
        let provider = match &target {
            Target::Url(url) => Driver::new(url, &name, shared.document(), cfg)?,
            Target::Shared(ws) => Driver::with_websocket(ws, &name, shared.document(), cfg)?,
        }
        .into_inner();
        let Started { shell, awareness } = Shell::start(provider, shared, dispatch);
        Ok(HocuspocusProvider {
            shell,
            awareness,
            document,
            name,
        })
    }

    /// The document name on the server.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The `Doc` this provider syncs.
    #[wasm_bindgen(getter, unchecked_return_type = "Doc")]
    pub fn document(&self) -> JsValue {
        self.document.clone()
    }

    /// The origin of the updates this provider applies (and of the presence its connection
    /// brings), as events see it.
    #[wasm_bindgen(getter, unchecked_return_type = "object")]
    pub fn origin(&self) -> JsValue {
        self.shell.origin()
    }

    /// Makes `value` the origin events see (internal: the `ysync/yjs` entry's provider).
    #[wasm_bindgen(js_name = __adoptOrigin, skip_typescript)]
    pub fn adopt_origin(&self, value: JsValue) {
        self.shell.adopt_origin(value);
    }

    /// Sends an application message to the server's `onStateless` hook (dropped when not
    /// connected, as Hocuspocus's is).
    #[wasm_bindgen(js_name = sendStateless)]
    pub fn send_stateless(&self, payload: &str) {
        self.shell.provider.send_stateless(payload);
    }

    /// Starts connecting (and reconnecting after failures). On a shared socket
    /// (`websocketProvider`), puts this document on it.
    pub fn connect(&self) {
        self.shell.provider.connect();
    }

    /// Closes the connection and stops reconnecting. On a shared socket, takes this document
    /// off it (a `close` message) and leaves the socket to the others.
    pub fn disconnect(&self) {
        self.shell.provider.disconnect();
    }

    /// Puts this document on its shared socket (the same as `connect()`).
    pub fn attach(&self) {
        self.connect();
    }

    /// Takes this document off its shared socket (the same as `disconnect()`).
    pub fn detach(&self) {
        self.disconnect();
    }

    /// Disconnects and releases everything; emits `destroy`. Pending waits are rejected.
    pub fn destroy(&self) {
        if self.shell.destroy() {
            self.shell.listeners.call("destroy", &[]);
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

    /// True once the first sync of the current connection finished.
    #[wasm_bindgen(getter, js_name = isSynced)]
    pub fn is_synced(&self) -> bool {
        self.shell.provider.synced()
    }

    /// The same as `isSynced`.
    #[wasm_bindgen(getter)]
    pub fn synced(&self) -> bool {
        self.is_synced()
    }

    /// True once the server let the current connection in.
    #[wasm_bindgen(getter, js_name = isAuthenticated)]
    pub fn is_authenticated(&self) -> bool {
        self.shell.provider.authorized_scope().is_some()
    }

    /// `'read-write' | 'readonly'` once authenticated, else undefined.
    #[wasm_bindgen(getter, js_name = authorizedScope)]
    pub fn authorized_scope(&self) -> Option<String> {
        self.shell.provider.authorized_scope()
    }

    /// How many local changes the server has not applied yet.
    #[wasm_bindgen(getter, js_name = unsyncedChanges)]
    pub fn unsynced_changes(&self) -> u32 {
        self.shell.provider.unsynced_changes() as u32
    }

    /// True while the server has not applied every local change.
    #[wasm_bindgen(getter, js_name = hasUnsyncedChanges)]
    pub fn has_unsynced_changes(&self) -> bool {
        self.unsynced_changes() > 0
    }

    /// A snapshot of the sync metrics (as `WebsocketProvider.stats()`).
    #[wasm_bindgen(unchecked_return_type = "ProviderStats")]
    pub fn stats(&self) -> JsValue {
        to_js_json(&self.shell.provider.stats())
    }

    /// Resolves when synced with the server.
    #[wasm_bindgen(js_name = whenSynced, unchecked_return_type = "Promise<true>")]
    pub fn when_synced(&self) -> js_sys::Promise {
        promise(JsValue::TRUE, |s| self.shell.provider.when_synced(s))
    }

    /// Resolves once the server has applied every local change made before the call (its
    /// sync status said so); never on a read-only connection.
    #[wasm_bindgen(js_name = whenAcknowledged, unchecked_return_type = "Promise<void>")]
    pub fn when_acknowledged(&self) -> js_sys::Promise {
        promise(JsValue::UNDEFINED, |s| {
            self.shell.provider.when_acknowledged(s)
        })
    }

    /// The presence of this document (y-protocols' `Awareness` methods), or null when the
    /// configuration said `awareness: null`.
    #[wasm_bindgen(getter, unchecked_return_type = "Awareness | null")]
    pub fn awareness(&self) -> JsValue {
        if self.shell.provider.awareness_enabled() {
            self.awareness.clone()
        } else {
            JsValue::NULL
        }
    }

    /// Sets one field of this client's presence state (Hocuspocus's `setAwarenessField`).
    #[wasm_bindgen(js_name = setAwarenessField)]
    pub fn set_awareness_field(
        &self,
        key: &str,
        #[wasm_bindgen(unchecked_param_type = "JsonValue")] value: JsValue,
    ) -> ApiResult<()> {
        if !self.shell.provider.awareness_enabled() {
            return Err(ApiError::InvalidArgument(
                "this provider has no awareness (awareness: null)".into(),
            ));
        }
        // Hocuspocus starts from an empty state, so the first field makes one.
        let state = Some(self.shell.local_state())
            .filter(JsValue::is_object)
            .unwrap_or_else(|| js_sys::Object::new().into());
        js_sys::Reflect::set(&state, &JsValue::from_str(key), &value).map_err(ApiError::browser)?;
        self.shell.set_local_state(&state)
    }

    /// `provider.on(event, cb)`: status, connect, synced, authenticated, authenticationFailed,
    /// unsyncedChanges, stateless, awarenessUpdate, awarenessChange, close, disconnect,
    /// destroy, and ysync's error and stats.
    pub fn on(&self, event: &str, f: js_sys::Function) {
        self.shell.listeners.add(event, f);
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.shell.listeners.remove(event, f);
    }
}

#[wasm_bindgen(typescript_custom_section)]
const HOCUSPOCUS_TS: &str = r#"
/** The configuration of `new HocuspocusProvider(configuration)` (`@hocuspocus/provider`'s names). */
export interface HocuspocusProviderConfiguration {
  /** The server, `ws://` or `wss://` (the path is ignored by the server); not needed with `websocketProvider`. */
  url?: string;
  /** A socket shared with other documents (its url and parameters are used). */
  websocketProvider?: HocuspocusProviderWebsocket;
  /** The document's name on the server. */
  name: string;
  /** The document to sync (a new one if left out). */
  document?: Doc;
  /** Sent in the first message, and again when the server asks; a function is called before every connection. */
  token?: string | (() => string) | (() => Promise<string>) | null;
  /** Query parameters (they reach the server's hooks as `requestParameters`). */
  parameters?: { [name: string]: string | number };
  /** `null`: no presence on this connection. */
  awareness?: null;
  /** Also re-sync this often, ms (default false: never). */
  forceSyncInterval?: false | number;
  /** Cap of the reconnect delay, ms (default 30000). */
  maxDelay?: number;
  /** Connect right away (default true). */
  connect?: boolean;
  /** ysync's own, as in `WebsocketProviderOptions`. */
  awarenessTimeout?: number;
  maxAwarenessClients?: number;
  ackInterval?: number;
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
  disableBc?: boolean;
  /** One connection for the tabs of this origin (see `WebsocketProviderOptions`). */
  shareConnection?: boolean;
  maxMessageSize?: number;
  statsInterval?: number;
  logLevel?: LogLevel;
}
"#;
