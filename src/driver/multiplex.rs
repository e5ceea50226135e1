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
//! Across tabs (`share`, on by default, where Web Locks and BroadcastChannel exist), one tab of
//! the browser holds the socket of a server and its parameters: the first to need it takes the
//! lock `ysync-socket:<url>` and opens the socket; another tab's documents go on that socket
//! through the channel of the same name (`core::socket_share`), each still with its own session
//! in its own tab. A tab waiting for the lock takes over when the holder goes (closes, reloads,
//! crashes): its documents and every other tab's see the socket close, and attach again to the
//! new holder's socket.
//!
//! Re-entrancy: the hub's state is never borrowed while a provider's handler or wake-up runs;
//! events the hub makes up itself (an attachment to a socket already open, a close it decided)
//! are delivered from a microtask, never inside the provider call that caused them.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsValue;

use crate::core::hocuspocus::{address, Hocuspocus};
use crate::core::session::Status;
use crate::core::socket_share::{Act, Relay, Remotes};
use crate::core::validate::Limits;
use crate::driver::error::{Error, Result};
use crate::driver::subscribers::{Subscribers, Subscription};
use crate::web::broadcast::Channel;
use crate::web::locks::{Lock, TryLock};
use crate::web::socket::{Socket, SocketEvent};

/// How a shared socket connects.
#[derive(Debug, Clone)]
pub struct WebsocketConfig {
    /// Query parameters (they reach the server's hooks as `requestParameters`).
    pub params: Vec<(String, String)>,
    /// Connect when providers attach (default true); false waits for `connect()`.
    pub connect: bool,
    /// One socket to this server (URL and parameters) for every tab of the browser (default
    /// true): the tabs that do not hold it put their documents on the one that does.
    pub share: bool,
}

impl Default for WebsocketConfig {
    fn default() -> Self {
        WebsocketConfig {
            params: Vec::new(),
            connect: true,
            share: true,
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

/// The close every document on another tab's socket sees when that tab went.
const HOLDER_WENT: &str = "the tab holding the socket went";
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
    /// Asked the tab holding the socket to carry it (another tab's socket only).
    asked: bool,
}

/// Where this tab's socket is, when the tabs share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not known yet: found out when a document first wants the socket.
    Undecided,
    /// Finding out whether another tab holds it.
    Deciding,
    /// This tab holds the lock: the real socket is here, for the other tabs too.
    Own,
    /// Another tab holds it: this tab's documents travel on that tab's socket.
    Remote,
}

/// The tabs' one socket to a server, from this tab.
struct Share {
    /// This hub among the tabs.
    id: u64,
    /// The lock's and the channel's name.
    key: String,
    channel: Channel,
    /// Own: the lock held. Remote: the request waiting for the holder to go.
    lock: Option<Lock>,
    mode: Mode,
    /// Own: the other tabs' documents on the socket.
    remotes: Remotes,
    /// Remote: the holder said one of this tab's documents is up (since its last down).
    up: bool,
}

impl Share {
    fn post(&self, m: &Relay) {
        let _ = self.channel.post(&m.encode());
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        // The tabs on this socket see it go now rather than when the lock passes on.
        if self.mode == Mode::Own {
            let down = self
                .remotes
                .socket_down(1001, "the tab holding the socket left", true);
            self.post(&down);
        }
    }
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
    /// `None` when every tab opens its own socket.
    share: Option<Share>,
}

impl HubState {
    fn mode(&self) -> Option<Mode> {
        self.share.as_ref().map(|s| s.mode)
    }

    /// The share, when this tab's documents travel on another tab's socket.
    fn remote(&self) -> Option<&Share> {
        self.share.as_ref().filter(|s| s.mode == Mode::Remote)
    }

    fn post(&self, m: &Relay) {
        if let Some(s) = &self.share {
            s.post(m);
        }
    }
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
        let hub = Rc::new(Hub {
            state: RefCell::new(HubState {
                url: url.clone(),
                socket: None,
                open: false,
                wanted: cfg.connect,
                destroyed: false,
                members: Vec::new(),
                attached: Vec::new(),
                next_id: 1,
                share: None,
            }),
            subscribers: Subscribers::default(),
            events: RefCell::default(),
        });
        if cfg.share && Lock::supported() {
            let key = format!("ysync-socket:{url}");
            let weak = Rc::downgrade(&hub);
            let channel = Channel::open(&key, move |bytes| {
                if let Some(hub) = weak.upgrade() {
                    hub.on_relay(&bytes);
                }
            });
            if let Ok(channel) = channel {
                hub.state.borrow_mut().share = Some(Share {
                    id: crate::web::clock::seed() >> 11,
                    key,
                    channel,
                    lock: None,
                    mode: Mode::Undecided,
                    remotes: Remotes::default(),
                    up: false,
                });
            }
        }
        HocuspocusProviderWebsocket { hub }
    }

    /// The server's URL, without query: what names its documents for other tabs and storage.
    pub fn url(&self) -> String {
        let st = self.hub.state.borrow();
        st.url.split('?').next().unwrap_or_default().to_owned()
    }

    /// Connecting, connected or disconnected (through another tab's socket too).
    pub fn status(&self) -> Status {
        let st = self.hub.state.borrow();
        if let Some(share) = st.remote() {
            return if share.up {
                Status::Connected
            } else if st.attached.is_empty() {
                Status::Disconnected
            } else {
                Status::Connecting
            };
        }
        if st.open {
            Status::Connected
        } else if st.socket.is_some() {
            Status::Connecting
        } else {
            Status::Disconnected
        }
    }

    /// How many documents of this tab are on the socket now.
    pub fn attached(&self) -> usize {
        self.hub.state.borrow().attached.len()
    }

    /// Whether this tab holds the socket the tabs share (`Some(false)`: another tab does;
    /// `None`: not known yet, or every tab has its own).
    pub fn holds_shared(&self) -> Option<bool> {
        match self.hub.state.borrow().mode() {
            Some(Mode::Own) => Some(true),
            Some(Mode::Remote) => Some(false),
            _ => None,
        }
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
        self.hub.release();
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
        self.hub.release();
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
    /// their frames apart). `solo`: the provider connects in every tab (no leader among the
    /// tabs of its document), so two tabs may both put `name` on a socket: this tab's socket
    /// is then its own, not shared with the other tabs.
    pub(crate) fn join(self: &Rc<Self>, name: &str, wake: Wake, solo: bool) -> Result<Membership> {
        let mut st = self.state.borrow_mut();
        if st.members.iter().any(|m| m.name == name) {
            return Err(Error::InvalidArgument(format!(
                "a provider for the document {name:?} is already on this socket"
            )));
        }
        if solo {
            match st.mode() {
                Some(Mode::Undecided) => st.share = None,
                Some(_) => {
                    log::warn!(target: "ysync::provider", "shared socket: the provider of {name:?} connects in every tab (shareConnection or cross-tab sync off) on a socket the tabs already share: give this socket shareConnection: false")
                }
                None => {}
            }
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
        match st.mode() {
            Some(Mode::Undecided) => return self.decide(st),
            Some(Mode::Deciding) => return,
            Some(Mode::Remote) => return ask_remote(st),
            Some(Mode::Own) | None => {}
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
                    if let Some(share) = st.share.as_mut() {
                        for up in share.remotes.socket_up() {
                            share.post(&up);
                        }
                    }
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
                let handler = self.handler_for(&bytes);
                let to_tabs = handler.is_none() && {
                    let st = self.state.borrow();
                    st.share.as_ref().is_some_and(|s| s.remotes.routes(&bytes))
                };
                match handler {
                    Some(h) => h(SocketEvent::Message(bytes)),
                    None if to_tabs => self.state.borrow().post(&Relay::Recv(bytes)),
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
                    if let Some(share) = st.share.as_mut() {
                        let down = share.remotes.socket_down(code, &reason, was_clean);
                        share.post(&down);
                    }
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

    /// Finds out whether another tab holds the socket (asked when a document first wants it).
    fn decide(self: &Rc<Self>, st: &mut HubState) {
        let Some(share) = st.share.as_mut() else {
            return;
        };
        share.mode = Mode::Deciding;
        let key = share.key.clone();
        let weak = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            let got = Lock::try_now(&key).await;
            if let Some(hub) = weak.upgrade() {
                hub.decided(got);
            }
        });
    }

    /// What asking for the lock gave: the socket is here, or in another tab.
    fn decided(self: &Rc<Self>, got: TryLock) {
        {
            let mut st = self.state.borrow_mut();
            let (wanted, destroyed) = (st.wanted, st.destroyed);
            let Some(share) = st.share.as_mut().filter(|s| s.mode == Mode::Deciding) else {
                return;
            };
            if !wanted || destroyed {
                // Let go meanwhile (a lock just granted is released as it drops).
                share.mode = Mode::Undecided;
                return;
            }
            match got {
                TryLock::Held(lock) => {
                    share.lock = Some(lock);
                    share.mode = Mode::Own;
                    self.open_socket(&mut st);
                }
                TryLock::Busy => {
                    share.mode = Mode::Remote;
                    let weak = Rc::downgrade(self);
                    // Granted once the tab holding the socket goes: this tab takes over.
                    share.lock = Lock::request(&share.key, move || {
                        if let Some(hub) = weak.upgrade() {
                            hub.take_over();
                        }
                    });
                    ask_remote(&mut st);
                }
                TryLock::Unsupported => {
                    st.share = None;
                    self.open_socket(&mut st);
                }
            }
        }
        self.flush();
    }

    /// The tab that held the socket went and this one holds the lock now: this tab's
    /// documents, and every other tab's, see the old socket close and attach again here.
    fn take_over(self: &Rc<Self>) {
        let (handlers, was_up) = {
            let mut st = self.state.borrow_mut();
            let Some(share) = st.share.as_mut().filter(|s| s.mode == Mode::Remote) else {
                return;
            };
            share.mode = Mode::Own;
            let was_up = std::mem::take(&mut share.up);
            let down = share.remotes.socket_down(1006, HOLDER_WENT, false);
            share.post(&down);
            (detach_all(&mut st), was_up)
        };
        log::info!(target: "ysync::provider", "shared socket: this tab holds it now");
        self.close_handlers(handlers, was_up, 1006, HOLDER_WENT);
    }

    /// Lets the lock go (disconnect, destroy): the next document that wants the socket finds
    /// out again where it is.
    fn release(&self) {
        let mut st = self.state.borrow_mut();
        if let Some(share) = st.share.as_mut() {
            share.lock = None;
            share.mode = Mode::Undecided;
            share.up = false;
        }
    }

    /// Tells handlers taken off the socket that it closed (no borrow held).
    fn close_handlers(&self, handlers: Vec<Handler>, was_up: bool, code: u16, reason: &str) {
        if was_up {
            self.closed_events(code, reason, false);
        }
        self.flush();
        for h in handlers {
            h(SocketEvent::Close {
                code,
                reason: reason.to_owned(),
                was_clean: false,
            });
        }
    }

    /// A message of another tab on the socket's channel (no borrow is held: the browser
    /// called).
    fn on_relay(self: &Rc<Self>, bytes: &[u8]) {
        let msg = match Relay::decode(bytes, &Limits::default()) {
            Ok(m) => m,
            Err(e) => {
                log::warn!(target: "ysync::provider", "shared socket: a tab's message refused: {e}");
                return;
            }
        };
        let mode = self.state.borrow().mode();
        match mode {
            Some(Mode::Own) => {
                let close = {
                    let mut guard = self.state.borrow_mut();
                    let st = &mut *guard;
                    let acts = match st.share.as_mut() {
                        Some(share) => {
                            let attached = &st.attached;
                            let local = |n: &str| attached.iter().any(|a| a.name == n);
                            share.remotes.handle(msg, local, st.open)
                        }
                        None => Vec::new(),
                    };
                    self.run(st, acts)
                };
                if close {
                    self.close_later(1006, "the server stopped answering".into(), false);
                }
                self.flush();
            }
            Some(Mode::Remote) => self.from_holder(msg),
            _ => {}
        }
    }

    /// Carries out what the table of remote documents decided; true if the socket must close.
    fn run(self: &Rc<Self>, st: &mut HubState, acts: Vec<Act>) -> bool {
        let mut close = false;
        for a in acts {
            match a {
                Act::Post(m) => st.post(&m),
                Act::Send(frame) => {
                    if let (Some(s), true) = (&st.socket, st.open) {
                        let _ = s.send(&frame);
                    }
                }
                Act::Open => self.open_socket(st),
                Act::Close => close = true,
            }
        }
        close
    }

    /// A message of the tab holding the socket, to this tab's documents on it.
    fn from_holder(self: &Rc<Self>, msg: Relay) {
        let id = match &self.state.borrow().share {
            Some(s) => s.id,
            None => return,
        };
        match msg {
            Relay::Up { hub, name } if hub == id => {
                let (handler, first) = {
                    let mut st = self.state.borrow_mut();
                    let handler = st
                        .attached
                        .iter_mut()
                        .find(|a| a.name == name && a.asked && !a.opened)
                        .map(|a| {
                            a.opened = true;
                            a.handler.clone()
                        });
                    let first = match st.share.as_mut() {
                        Some(s) if handler.is_some() => !std::mem::replace(&mut s.up, true),
                        _ => false,
                    };
                    (handler, first)
                };
                if first {
                    self.emit(WebsocketEvent::Status(Status::Connected));
                    self.flush();
                }
                if let Some(h) = handler {
                    h(SocketEvent::Open);
                }
            }
            Relay::Refuse { hub, name } if hub == id => {
                let handler = {
                    let mut st = self.state.borrow_mut();
                    let i = st.attached.iter().position(|a| a.name == name);
                    i.map(|i| st.attached.remove(i).handler)
                };
                if let Some(h) = handler {
                    log::warn!(target: "ysync::provider", "shared socket: another tab's provider of {name:?} took its place (two tabs with shareConnection off on one shared socket?)");
                    h(SocketEvent::Close {
                        code: 4409,
                        reason: "another tab's provider of this document is on the shared socket"
                            .into(),
                        was_clean: false,
                    });
                }
            }
            Relay::Recv(frame) => {
                let handler = self.handler_for(&frame);
                if let Some(h) = handler {
                    h(SocketEvent::Message(frame));
                }
            }
            Relay::Down {
                code,
                reason,
                was_clean: _,
            } => {
                let (handlers, was_up) = {
                    let mut st = self.state.borrow_mut();
                    let was_up = st.share.as_mut().is_some_and(|s| std::mem::take(&mut s.up));
                    (detach_all(&mut st), was_up)
                };
                self.close_handlers(handlers, was_up, code, &reason);
            }
            _ => {}
        }
    }

    /// The handler of this tab's document a frame is for, if it is on the socket.
    fn handler_for(&self, frame: &[u8]) -> Option<Handler> {
        let st = self.state.borrow();
        let name = address(frame)?;
        st.attached
            .iter()
            .find(|a| a.opened && a.name == name)
            .map(|a| a.handler.clone())
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
        let (had, handlers, remote_up) = {
            let mut guard = self.state.borrow_mut();
            let st = &mut *guard;
            let had = st.socket.take();
            st.open = false;
            let mut remote_up = false;
            if let Some(share) = st.share.as_mut() {
                match share.mode {
                    Mode::Own => {
                        let down = share.remotes.socket_down(code, &reason, was_clean);
                        share.post(&down);
                    }
                    Mode::Remote => {
                        for a in st.attached.iter().filter(|a| a.asked) {
                            share.post(&Relay::Detach {
                                hub: share.id,
                                name: a.name.clone(),
                            });
                        }
                        remote_up = std::mem::take(&mut share.up);
                    }
                    Mode::Undecided | Mode::Deciding => {}
                }
            }
            (had, detach_all(st), remote_up)
        };
        // Dropping the socket closes it without a close event (its listeners go with it).
        let was_up = had.is_some() || remote_up;
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

/// Asks the tab holding the socket to carry every document of this tab not asked for yet.
fn ask_remote(st: &mut HubState) {
    let Some(share) = st.share.as_ref() else {
        return;
    };
    for a in st.attached.iter_mut().filter(|a| !a.asked) {
        a.asked = true;
        share.post(&Relay::Attach {
            hub: share.id,
            name: a.name.clone(),
        });
    }
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
        let mode = st.mode();
        let acts = match st.share.as_mut() {
            Some(share) if mode == Some(Mode::Own) => share.remotes.local_attach(&name, open),
            _ => Vec::new(),
        };
        hub.run(&mut st, acts);
        let remote = matches!(mode, Some(Mode::Remote | Mode::Deciding | Mode::Undecided));
        st.attached.push(Attached {
            member: self.id,
            name,
            handler: handler.clone(),
            opened: open && !remote,
            asked: false,
        });
        if remote {
            // Another tab's socket (or not known yet): up when its holder says so.
            hub.open_socket(&mut st);
        } else if open {
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
        if let Some(share) = st.remote() {
            if on {
                share.post(&Relay::Send {
                    hub: share.id,
                    frame: frame.to_vec(),
                });
            }
            return Ok(());
        }
        match (&st.socket, on && st.open) {
            (Some(s), true) => s.send(frame),
            _ => Ok(()),
        }
    }

    /// The server stopped answering this document: the socket is dead for all of them.
    pub(crate) fn fail(&self) {
        {
            let st = self.hub.state.borrow();
            if let Some(share) = st.remote() {
                share.post(&Relay::Fail { hub: share.id });
            }
        }
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
        if let Some(share) = st.remote() {
            if a.asked {
                share.post(&Relay::Detach {
                    hub: share.id,
                    name: a.name,
                });
            }
            return;
        }
        if a.opened && st.open {
            if let Some(s) = &st.socket {
                let _ = s.send(&Hocuspocus::new(a.name).close_frame());
            }
        }
    }
}
