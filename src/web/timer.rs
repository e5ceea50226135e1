//! One reschedulable timeout with a single long-lived closure.
//!
//! Not gloo-timers: its `Timeout` owns a fresh closure per schedule and frees it on drop, so
//! rescheduling from inside the callback would free the closure that is running. Here the
//! closure lives as long as the timer; the pending timeout is cleared on drop.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// A timer that calls its callback once per [`schedule`](Timer::schedule).
pub struct Timer {
    cb: Closure<dyn FnMut()>,
    pending: Option<JsValue>,
}

impl Timer {
    /// A timer that runs `f` when it fires.
    pub fn new(f: impl FnMut() + 'static) -> Self {
        Timer {
            cb: Closure::new(f),
            pending: None,
        }
    }

    /// Fires in `ms` milliseconds, replacing any pending schedule.
    pub fn schedule(&mut self, ms: u64) {
        self.cancel();
        self.pending = Some(set_timeout(self.cb.as_ref().unchecked_ref(), ms as f64));
    }

    /// Clears the pending schedule, if any.
    pub fn cancel(&mut self) {
        if let Some(id) = self.pending.take() {
            clear_timeout(&id);
        }
    }

    /// Marks the pending schedule as done (call at the start of the callback).
    pub fn fired(&mut self) {
        self.pending = None;
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.cancel();
    }
}
