//! `HocuspocusProviderWebsocket` for JS: one socket shared by several `HocuspocusProvider`s,
//! with `@hocuspocus/provider`'s names. The behaviour is the driver's (`driver::multiplex`).

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::driver::multiplex::{
    HocuspocusProviderWebsocket as Driver, WebsocketConfig, WebsocketEvent,
};
use crate::driver::subscribers::Subscription;
use crate::js::error::{ApiError, ApiResult};
use crate::js::events::Listeners;
use crate::js::hocuspocus::{close_events, status_events};
use crate::js::provider::{get, string_pairs};

thread_local! {
    static SOCKET_HANDOFF: std::cell::RefCell<Option<Driver>> = const { std::cell::RefCell::new(None) };
}

/// The socket behind a JS `HocuspocusProviderWebsocket` passed inside an options object: its
/// `__ysyncSocket` method hands it over (as `Doc`'s `__ysyncDoc`).
pub(crate) fn socket_of(v: &JsValue) -> Option<Driver> {
    let f = js_sys::Reflect::get(v, &"__ysyncSocket".into()).ok()?;
    let f: js_sys::Function = f.dyn_into().ok()?;
    SOCKET_HANDOFF.with(|h| h.borrow_mut().take());
    f.call0(v).ok()?;
    SOCKET_HANDOFF.with(|h| h.borrow_mut().take())
}

/// One WebSocket to a Hocuspocus server for several documents: give it to each
/// `HocuspocusProvider` as `websocketProvider`.
#[wasm_bindgen]
pub struct HocuspocusProviderWebsocket {
    socket: Driver,
    listeners: Rc<Listeners>,
    _events: Subscription<WebsocketEvent>,
}

#[wasm_bindgen]
impl HocuspocusProviderWebsocket {
    /// `new HocuspocusProviderWebsocket({ url, parameters, autoConnect })`. The socket opens
    /// when the first provider attaches.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "HocuspocusProviderWebsocketConfiguration")]
        configuration: JsValue,
    ) -> ApiResult<HocuspocusProviderWebsocket> {
        if !configuration.is_object() {
            return Err(ApiError::InvalidArgument(
                "the configuration must be an object with url".into(),
            ));
        }
        let url = get(&configuration, "url")
            .as_string()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::InvalidArgument("option url must be a non-empty string".into())
            })?;
        let connect = match get(&configuration, "autoConnect") {
            v if v.is_undefined() => true,
            v => v.as_bool().ok_or_else(|| {
                ApiError::InvalidArgument("option autoConnect must be a boolean".into())
            })?,
        };
        let share = match get(&configuration, "shareConnection") {
            v if v.is_undefined() => true,
            v => v.as_bool().ok_or_else(|| {
                ApiError::InvalidArgument("option shareConnection must be a boolean".into())
            })?,
        };
        let socket = Driver::new(
            &url,
            WebsocketConfig {
                params: string_pairs(&get(&configuration, "parameters")),
                connect,
                share,
            },
        );
        let listeners = Rc::new(Listeners::default());
        let l = listeners.clone();
        let events = socket.subscribe(move |e| dispatch(&l, e));
        Ok(HocuspocusProviderWebsocket {
            socket,
            listeners,
            _events: events,
        })
    }

    /// Hands this socket to a provider that takes it inside an options object (internal).
    #[wasm_bindgen(js_name = __ysyncSocket, skip_typescript)]
    pub fn socket_handoff(&self) {
        SOCKET_HANDOFF.with(|h| *h.borrow_mut() = Some(self.socket.clone()));
    }

    /// The server's URL, without query.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        self.socket.url()
    }

    /// `'connecting' | 'connected' | 'disconnected'`.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> String {
        self.socket.status().as_str().into()
    }

    /// How many documents are on the socket now.
    #[wasm_bindgen(getter, js_name = attachedCount)]
    pub fn attached_count(&self) -> u32 {
        self.socket.attached() as u32
    }

    /// With `shareConnection`: `true` if this tab holds the socket the tabs share, `false` if
    /// this tab's documents travel on another tab's, `undefined` until a document wants the
    /// socket (or when each tab has its own).
    #[wasm_bindgen(getter, js_name = holdsSocket)]
    pub fn holds_socket(&self) -> Option<bool> {
        self.socket.holds_shared()
    }

    /// Connects again after `disconnect()`.
    pub fn connect(&self) {
        self.socket.connect();
    }

    /// Closes the socket; the providers on it wait until `connect()`.
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }

    /// Closes the socket for good; emits `destroy`.
    pub fn destroy(&self) {
        self.socket.destroy();
        self.listeners.clear();
    }

    /// `on(event, cb)`: status ({ status }), connect, close ({ event }), disconnect
    /// ({ event }), destroy.
    pub fn on(&self, event: &str, f: js_sys::Function) {
        self.listeners.add(event, f);
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.listeners.remove(event, f);
    }
}

fn dispatch(listeners: &Listeners, e: &WebsocketEvent) {
    match e {
        WebsocketEvent::Status(s) => status_events(listeners, *s),
        WebsocketEvent::Close {
            code,
            reason,
            was_clean,
        } => close_events(listeners, *code, reason, *was_clean),
        WebsocketEvent::Destroy => listeners.call("destroy", &[]),
    }
}

#[wasm_bindgen(typescript_custom_section)]
const MULTIPLEX_TS: &str = r#"
/** The configuration of `new HocuspocusProviderWebsocket(configuration)`. */
export interface HocuspocusProviderWebsocketConfiguration {
  /** The server, `ws://` or `wss://`. */
  url: string;
  /** Query parameters (they reach the server's hooks as `requestParameters`). */
  parameters?: { [name: string]: string | number };
  /** Connect when providers attach (default true); false waits for `connect()`. */
  autoConnect?: boolean;
  /**
   * One socket to this server (same URL and parameters) for all the tabs of the browser
   * (default true, where Web Locks and BroadcastChannel exist): one tab holds it, the others'
   * documents travel on it, and another tab takes over when that tab goes. `false` gives each
   * tab its own socket, as does a provider on it with `shareConnection: false` or
   * `disableBc: true` (each tab then syncs that document on its own, and two tabs cannot put
   * one document on one socket).
   */
  shareConnection?: boolean;
}
"#;
