//! One socket for several Hocuspocus documents (`HocuspocusProviderWebsocket`).
//!
//! Every Hocuspocus frame starts with its document's name, so one socket can carry many
//! documents, each with its own token and its own session. The socket here is shared by the
//! providers that *join* it; each provider still runs its own session and its own connection
//! policy, and *attaches* to the socket where it would otherwise open one: the socket opens
//! with the first attachment, frames are routed to the attachment named by their prefix, and a
//! provider that lets go (disconnect, destroy, a protocol error) ends only its own document on
//! the server with a `close` frame (type 7) while the socket stays up for the others.
//!
//! When the socket closes, every attached provider sees the close, as if it had its own socket,
//! and plans its reconnect. The first to attach again opens a new socket; when it is up, every
//! provider waiting for its delay is told (`Connection::link_up`) and attaches at once.
//!
//! Re-entrancy: the hub's state is never borrowed while a provider's handler or wake-up runs;
//! events the hub makes up itself (an attachment to a socket already open, a close it decided)
//! are delivered from a microtask, never inside the provider call that caused them.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsValue;

use crate::core::hocuspocus::{address, Hocuspocus};
use crate::core::session::Status;
use crate::driver::error::{Error, Result};
use crate::driver::subscribers::{Subscribers, Subscription};
use crate::web::socket::{Socket, SocketEvent};

/// How a shared socket connects.
#[derive(Debug, Clone)]
pub struct WebsocketConfig {
    /// Query parameters (they reach the server's hooks as `requestParameters`).
    pub params: Vec<(String, String)>,
    /// Connect when providers attach (default true); false waits for `connect()`.
    pub connect: bool,
}

impl Default for WebsocketConfig {
    fn default() -> Self {
        WebsocketConfig {
            params: Vec::new(),
            connect: true,
        }
    }
}

/// What a shared socket tells its subscribers.
#[derive(Debug)]
pub enum WebsocketEvent {
    /// Connecting, connected or disconnected.
    Status(Status),
    /// The socket closed (the providers on it are told too).
    Close {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
        /// Whether the closing handshake completed.
        was_clean: bool,
    },
    /// `destroy()` ran.
    Destroy,
}

type Handler = Rc<dyn Fn(SocketEvent)>;
type Wake = Rc<dyn Fn()>;

/// A provider that uses this socket.
struct Member {
    id: u64,
    name: String,
    /// Tells the provider the socket is up (it attaches at once if it was waiting).
    wake: Wake,
}

/// A provider's document on the socket now.
struct Attached {
    member: u64,
    name: String,
    handler: Handler,
    /// Told the socket is open (so it may send and receive).
    opened: bool,
}

struct HubState {
    url: String,
    socket: Option<Socket>,
    open: bool,
    wanted: bool,
    destroyed: bool,
    members: Vec<Member>,
    attached: Vec<Attached>,
    next_id: u64,
}

pub(crate) struct Hub {
    state: RefCell<HubState>,
    subscribers: Subscribers<WebsocketEvent>,
    /// Events to deliver once no borrow is held.
    events: RefCell<Vec<WebsocketEvent>>,
}

/// One socket to a Hocuspocus server, shared by the [`HocuspocusProvider`]s made with
/// [`HocuspocusProvider::with_websocket`]. Clones share the socket; it closes when
/// [`destroy`](Self::destroy) runs or when the last clone and the last provider on it are gone.
///
/// [`HocuspocusProvider`]: crate::driver::hocuspocus::HocuspocusProvider
/// [`HocuspocusProvider::with_websocket`]: crate::driver::hocuspocus::HocuspocusProvider::with_websocket
#[derive(Clone)]
pub struct HocuspocusProviderWebsocket {
    hub: Rc<Hub>,
}

impl HocuspocusProviderWebsocket {
    /// A socket to the Hocuspocus server at `url` (`ws://` or `wss://`).
    pub fn new(url: &str, cfg: WebsocketConfig) -> HocuspocusProviderWebsocket {
        let base = url.trim_end_matches('/');
        let url = if cfg.params.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", crate::driver::provider::query(&cfg.params))
        };
        HocuspocusProviderWebsocket {
            hub: Rc::new(Hub {
                state: RefCell::new(HubState {
                    url,
                    socket: None,
                    open: false,
                    wanted: cfg.connect,
                    destroyed: false,
                    members: Vec::new(),
                    attached: Vec::new(),
                    next_id: 1,
                }),
                subscribers: Subscribers::default(),
                events: RefCell::default(),
            }),
        }
    }

    /// The server's URL, without query: what names its documents for other tabs and storage.
    pub fn url(&self) -> String {
        let st = self.hub.state.borrow();
        st.url.split('?').next().unwrap_or_default().to_owned()
    }

    /// Connecting, connected or disconnected.
    pub fn status(&self) -> Status {
        let st = self.hub.state.borrow();
        if st.open {
            Status::Connected
        } else if st.socket.is_some() {
            Status::Connecting
        } else {
            Status::Disconnected
        }
    }

    /// How many documents are on the socket now.
    pub fn attached(&self) -> usize {
        self.hub.state.borrow().attached.len()
    }

    /// Connects (again) for the providers that want to be; after `disconnect`.
    pub fn connect(&self) {
        let wakes = {
            let mut st = self.hub.state.borrow_mut();
            if st.destroyed {
                return;
            }
            st.wanted = true;
            if !st.attached.is_empty() {
                self.hub.open_socket(&mut st);
            }
            // Providers waiting out a delay come now.
            st.members
                .iter()
                .map(|m| m.wake.clone())
                .collect::<Vec<_>>()
        };
        self.hub.flush();
        for w in wakes {
            w();
        }
    }

    /// Closes the socket; the providers on it see the close and wait until `connect`.
    pub fn disconnect(&self) {
        {
            let mut st = self.hub.state.borrow_mut();
            st.wanted = false;
        }
        self.hub.close_later(1000, "disconnected".into(), true);
        self.hub.flush();
    }

    /// Closes the socket for good: the providers on it are disconnected and cannot attach
    /// again. Emits [`WebsocketEvent::Destroy`].
    pub fn destroy(&self) {
        {
            let mut st = self.hub.state.borrow_mut();
            if st.destroyed {
                return;
            }
            st.destroyed = true;
            st.wanted = false;
        }
        self.hub.close_later(1000, "destroyed".into(), true);
        self.hub.events.borrow_mut().push(WebsocketEvent::Destroy);
        self.hub.flush();
    }

    /// Calls `f` with every event from now on, until the subscription is dropped.
    pub fn subscribe(&self, f: impl Fn(&WebsocketEvent) + 'static) -> Subscription<WebsocketEvent> {
        self.hub.subscribers.add(f)
    }

    pub(crate) fn hub(&self) -> Rc<Hub> {
        self.hub.clone()
    }
}

/// A provider's place on a shared socket; leaving it (drop) ends its document there.
pub(crate) struct Membership {
    hub: Rc<Hub>,
    id: u64,
}

impl Hub {
    /// Registers a provider for the document `name`; `wake` is called when the socket comes
    /// up. Two providers of one document cannot share a socket (the server could not tell
    /// their frames apart).
    pub(crate) fn join(self: &Rc<Self>, name: &str, wake: Wake) -> Result<Membership> {
        let mut st = self.state.borrow_mut();
        if st.members.iter().any(|m| m.name == name) {
            return Err(Error::InvalidArgument(format!(
                "a provider for the document {name:?} is already on this socket"
            )));
        }
        let id = st.next_id;
        st.next_id += 1;
        st.members.push(Member {
            id,
            name: name.to_owned(),
            wake,
        });
        Ok(Membership {
            hub: self.clone(),
            id,
        })
    }

    /// Opens the real socket if none is open or opening and someone wants it.
    fn open_socket(self: &Rc<Self>, st: &mut HubState) {
        if st.socket.is_some() || !st.wanted || st.destroyed {
            return;
        }
        let weak: Weak<Hub> = Rc::downgrade(self);
        match Socket::open(&st.url, &[], move |ev| {
            if let Some(hub) = weak.upgrade() {
                hub.on_socket(ev);
            }
        }) {
            Ok(s) => {
                st.socket = Some(s);
                self.emit(WebsocketEvent::Status(Status::Connecting));
            }
            // A malformed URL: every attached provider sees a failed attempt.
            Err(e) => {
                log::warn!(target: "ysync::provider", "shared socket: {}", Error::browser(e));
                let handlers = detach_all(st);
                let reason = String::from("the socket could not be opened");
                deliver_later(
                    handlers,
                    SocketEvent::Close {
                        code: 1006,
                        reason,
                        was_clean: false,
                    },
                );
            }
        }
    }

    /// An event of the real socket (no borrow is held: the browser called).
    fn on_socket(self: &Rc<Self>, ev: SocketEvent) {
        match ev {
            SocketEvent::Open => {
                let (handlers, wakes) = {
                    let mut st = self.state.borrow_mut();
                    st.open = true;
                    let handlers: Vec<Handler> = st
                        .attached
                        .iter_mut()
                        .map(|a| {
                            a.opened = true;
                            a.handler.clone()
                        })
                        .collect();
                    let on: Vec<u64> = st.attached.iter().map(|a| a.member).collect();
                    let wakes: Vec<Wake> = st
                        .members
                        .iter()
                        .filter(|m| !on.contains(&m.id))
                        .map(|m| m.wake.clone())
                        .collect();
                    (handlers, wakes)
                };
                self.emit(WebsocketEvent::Status(Status::Connected));
                self.flush();
                for h in handlers {
                    h(SocketEvent::Open);
                }
                for w in wakes {
                    w();
                }
            }
            SocketEvent::Message(bytes) => {
                let handler = {
                    let st = self.state.borrow();
                    address(&bytes).and_then(|name| {
                        st.attached
                            .iter()
                            .find(|a| a.opened && a.name == name)
                            .map(|a| a.handler.clone())
                    })
                };
                match handler {
                    Some(h) => h(SocketEvent::Message(bytes)),
                    None => {
                        log::trace!(target: "ysync::provider", "shared socket: a frame for no attached document ({} bytes)", bytes.len())
                    }
                }
            }
            SocketEvent::Text => {}
            SocketEvent::Error => {
                let handlers: Vec<Handler> = {
                    let st = self.state.borrow();
                    st.attached.iter().map(|a| a.handler.clone()).collect()
                };
                for h in handlers {
                    h(SocketEvent::Error);
                }
            }
            SocketEvent::Close {
                code,
                reason,
                was_clean,
            } => {
                let handlers = {
                    let mut st = self.state.borrow_mut();
                    // Its closure is the one running: dropped after it returns.
                    if let Some(s) = st.socket.take() {
                        wasm_bindgen_futures::spawn_local(async move { drop(s) });
                    }
                    st.open = false;
                    detach_all(&mut st)
                };
                self.closed_events(code, &reason, was_clean);
                self.flush();
                for h in handlers {
                    h(SocketEvent::Close {
                        code,
                        reason: reason.clone(),
                        was_clean,
                    });
                }
                // Someone may have attached again while being told.
                {
                    let mut st = self.state.borrow_mut();
                    if !st.attached.is_empty() {
                        self.open_socket(&mut st);
                    }
                }
                self.flush();
            }
        }
    }

    fn emit(&self, e: WebsocketEvent) {
        self.events.borrow_mut().push(e);
    }

    fn closed_events(&self, code: u16, reason: &str, was_clean: bool) {
        self.emit(WebsocketEvent::Close {
            code,
            reason: reason.to_owned(),
            was_clean,
        });
        self.emit(WebsocketEvent::Status(Status::Disconnected));
    }

    /// Closes the real socket from here (disconnect, destroy, a silent server): the attached
    /// providers are told from a microtask, with this code.
    fn close_later(self: &Rc<Self>, code: u16, reason: String, was_clean: bool) {
        let (had, handlers) = {
            let mut st = self.state.borrow_mut();
            let had = st.socket.take();
            st.open = false;
            (had, detach_all(&mut st))
        };
        // Dropping the socket closes it without a close event (its listeners go with it).
        let was_up = had.is_some();
        drop(had);
        if was_up {
            self.closed_events(code, &reason, was_clean);
        }
        deliver_later(
            handlers,
            SocketEvent::Close {
                code,
                reason,
                was_clean,
            },
        );
    }

    /// Delivers queued events; called with no borrow held.
    fn flush(&self) {
        loop {
            let events = std::mem::take(&mut *self.events.borrow_mut());
            if events.is_empty() {
                return;
            }
            for e in events {
                self.subscribers.call(&e);
            }
        }
    }

    /// Delivers queued events from a microtask (the caller may be inside a provider's call).
    fn flush_later(self: &Rc<Self>) {
        if self.events.borrow().is_empty() {
            return;
        }
        let hub = self.clone();
        wasm_bindgen_futures::spawn_local(async move { hub.flush() });
    }
}

/// Takes every attachment off the socket, returning their handlers.
fn detach_all(st: &mut HubState) -> Vec<Handler> {
    std::mem::take(&mut st.attached)
        .into_iter()
        .map(|a| a.handler)
        .collect()
}

/// Delivers `ev` to each handler from a microtask.
fn deliver_later(handlers: Vec<Handler>, ev: SocketEvent) {
    if handlers.is_empty() {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        for h in handlers {
            h(ev.clone());
        }
    });
}

impl Membership {
    /// Puts the document on the socket (opening it if needed); `handler` receives its events
    /// as a socket's: open, its frames, error, close.
    pub(crate) fn attach(&self, handler: impl Fn(SocketEvent) + 'static) -> Attachment {
        let handler: Handler = Rc::new(handler);
        let hub = &self.hub;
        let mut st = hub.state.borrow_mut();
        let name = st
            .members
            .iter()
            .find(|m| m.id == self.id)
            .map(|m| m.name.clone())
            .unwrap_or_default();
        st.attached.retain(|a| a.member != self.id);
        let open = st.open;
        st.attached.push(Attached {
            member: self.id,
            name,
            handler: handler.clone(),
            opened: open,
        });
        if open {
            // As a socket would: the open event comes after the call that opened it.
            deliver_later(vec![handler.clone()], SocketEvent::Open);
        } else {
            hub.open_socket(&mut st);
        }
        drop(st);
        hub.flush_later();
        Attachment {
            hub: hub.clone(),
            member: self.id,
            handler,
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut st = self.hub.state.borrow_mut();
        st.members.retain(|m| m.id != self.id);
    }
}

/// A document on the shared socket now; dropping it ends the document's session on the
/// server (type 7) and keeps the socket.
pub(crate) struct Attachment {
    hub: Rc<Hub>,
    member: u64,
    handler: Handler,
}

impl Attachment {
    /// Sends one frame of this document.
    pub(crate) fn send(&self, frame: &[u8]) -> std::result::Result<(), JsValue> {
        let st = self.hub.state.borrow();
        let on = st
            .attached
            .iter()
            .any(|a| a.member == self.member && a.opened && Rc::ptr_eq(&a.handler, &self.handler));
        match (&st.socket, on && st.open) {
            (Some(s), true) => s.send(frame),
            _ => Ok(()),
        }
    }

    /// The server stopped answering this document: the socket is dead for all of them.
    pub(crate) fn fail(&self) {
        self.hub
            .close_later(1006, "the server stopped answering".into(), false);
        self.hub.flush_later();
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let mut st = self.hub.state.borrow_mut();
        let Some(i) = st
            .attached
            .iter()
            .position(|a| a.member == self.member && Rc::ptr_eq(&a.handler, &self.handler))
        else {
            return;
        };
        let a = st.attached.remove(i);
        if a.opened && st.open {
            if let Some(s) = &st.socket {
                let _ = s.send(&Hocuspocus::new(a.name).close_frame());
            }
        }
    }
}
