//! A driver's wait as a JS promise: resolved with `value`, or rejected with the JS error.

use wasm_bindgen::JsValue;

use crate::driver::wait::Settle;

/// The promise of a wait that `start` registers.
pub fn promise(value: JsValue, start: impl FnOnce(Settle)) -> js_sys::Promise {
    let mut start = Some(start);
    js_sys::Promise::new(&mut |resolve, reject| {
        let Some(start) = start.take() else { return };
        let value = value.clone();
        start(Box::new(move |r| {
            let _ = match r {
                Ok(()) => resolve.call1(&JsValue::NULL, &value),
                Err(e) => reject.call1(&JsValue::NULL, &e.into()),
            };
        }));
    })
}
