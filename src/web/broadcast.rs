//! A BroadcastChannel (cross-tab messages) whose listener is removed and which is closed on drop.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

/// An open channel to the other tabs of this origin.
pub struct Channel {
    bc: BroadcastChannel,
    _message: Closure<dyn FnMut(MessageEvent)>,
}

impl Channel {
    /// Opens channel `name`; `handler` receives every binary message (Uint8Array or ArrayBuffer,
    /// as y-websocket posts them). Fails where BroadcastChannel does not exist.
    pub fn open(name: &str, handler: impl Fn(Vec<u8>) + 'static) -> Result<Channel, JsValue> {
        let bc = BroadcastChannel::new(name)?;
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let data = e.data();
            if let Some(u8s) = data.dyn_ref::<js_sys::Uint8Array>() {
                handler(u8s.to_vec());
            } else if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                handler(js_sys::Uint8Array::new(buf).to_vec());
            }
        });
        bc.set_onmessage(Some(message.as_ref().unchecked_ref()));
        Ok(Channel {
            bc,
            _message: message,
        })
    }

    /// Posts one frame to the other tabs.
    pub fn post(&self, frame: &[u8]) -> Result<(), JsValue> {
        self.bc
            .post_message(&js_sys::Uint8Array::from(frame).into())
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.bc.set_onmessage(None);
        self.bc.close();
    }
}
