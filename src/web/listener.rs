//! An event listener on a browser object, removed on drop.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

/// A registered listener; dropping it removes it.
pub struct Listener {
    target: EventTarget,
    event: &'static str,
    cb: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Listens to `event` on `target`. Returns `None` if the browser refuses.
    pub fn new(
        target: &EventTarget,
        event: &'static str,
        f: impl FnMut(Event) + 'static,
    ) -> Option<Listener> {
        let cb = Closure::<dyn FnMut(Event)>::new(f);
        target
            .add_event_listener_with_callback(event, cb.as_ref().unchecked_ref())
            .ok()?;
        Some(Listener {
            target: target.clone(),
            event,
            cb,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.event, self.cb.as_ref().unchecked_ref());
    }
}
