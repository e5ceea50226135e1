//! A WebSocket whose listeners are removed and which is closed when it is dropped.

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

/// What the socket reports.
#[derive(Debug, Clone)]
pub enum SocketEvent {
    /// The connection opened.
    Open,
    /// A binary frame arrived.
    Message(Vec<u8>),
    /// A text frame arrived (not part of the protocol; reported, not applied).
    Text,
    /// The connection closed.
    Close {
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
        /// Whether the close handshake completed.
        was_clean: bool,
    },
    /// The browser reported an error (a close follows).
    Error,
}

type Handler = Rc<dyn Fn(SocketEvent)>;

/// An open (or opening) WebSocket with its four listeners.
pub struct Socket {
    ws: WebSocket,
    _open: Closure<dyn FnMut(Event)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
    _error: Closure<dyn FnMut(Event)>,
}

impl Socket {
    /// Opens `url` with the given sub-protocols; `handler` receives every event.
    pub fn open(
        url: &str,
        protocols: &[String],
        handler: impl Fn(SocketEvent) + 'static,
    ) -> Result<Socket, JsValue> {
        let ws = if protocols.is_empty() {
            WebSocket::new(url)?
        } else {
            let arr = js_sys::Array::new();
            for p in protocols {
                arr.push(&JsValue::from_str(p));
            }
            WebSocket::new_with_str_sequence(url, &arr)?
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let handler: Handler = Rc::new(handler);
        let h = handler.clone();
        let open = Closure::<dyn FnMut(Event)>::new(move |_| h(SocketEvent::Open));
        let h = handler.clone();
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            match data.dyn_into::<js_sys::ArrayBuffer>() {
                Ok(buf) => h(SocketEvent::Message(js_sys::Uint8Array::new(&buf).to_vec())),
                Err(_) => h(SocketEvent::Text),
            }
        });
        let h = handler.clone();
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            h(SocketEvent::Close {
                code: e.code(),
                reason: e.reason(),
                was_clean: e.was_clean(),
            })
        });
        let h = handler;
        let error = Closure::<dyn FnMut(Event)>::new(move |_| h(SocketEvent::Error));
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(error.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            _open: open,
            _message: message,
            _close: close,
            _error: error,
        })
    }

    /// Sends one binary frame.
    pub fn send(&self, frame: &[u8]) -> Result<(), JsValue> {
        self.ws.send_with_u8_array(frame)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let state = self.ws.ready_state();
        if state == WebSocket::CONNECTING || state == WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}
