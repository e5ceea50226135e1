//! Named JS event listeners (`on` / `off`), called with no Rust borrow held.

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::JsValue;

/// Listeners by event name.
#[derive(Default)]
pub struct Listeners(RefCell<HashMap<String, Vec<js_sys::Function>>>);

impl Listeners {
    /// Adds `f` for `event`.
    pub fn add(&self, event: &str, f: js_sys::Function) {
        self.0
            .borrow_mut()
            .entry(event.to_string())
            .or_default()
            .push(f);
    }

    /// Removes `f` from `event`.
    pub fn remove(&self, event: &str, f: &js_sys::Function) {
        if let Some(v) = self.0.borrow_mut().get_mut(event) {
            v.retain(|g| g != f);
        }
    }

    /// The listeners of `event` (a copy: calling them may add or remove listeners).
    pub fn get(&self, event: &str) -> Vec<js_sys::Function> {
        self.0.borrow().get(event).cloned().unwrap_or_default()
    }

    /// Whether `event` has listeners.
    pub fn has(&self, event: &str) -> bool {
        self.0.borrow().get(event).is_some_and(|v| !v.is_empty())
    }

    /// Removes every listener of `event`.
    pub fn remove_all(&self, event: &str) {
        self.0.borrow_mut().remove(event);
    }

    /// Removes every listener.
    pub fn clear(&self) {
        self.0.borrow_mut().clear();
    }

    /// Calls every listener of `event` with `args`. The list is copied first, so a listener
    /// may add or remove listeners; one that throws is reported and the others still run.
    pub fn call(&self, event: &str, args: &[JsValue]) {
        let fs = self.0.borrow().get(event).cloned().unwrap_or_default();
        let args: js_sys::Array = args.iter().collect();
        for f in fs {
            if let Err(e) = f.apply(&JsValue::NULL, &args) {
                web_sys::console::error_2(
                    &JsValue::from_str(&format!("ysync: a '{event}' listener threw")),
                    &e,
                );
            }
        }
    }
}
