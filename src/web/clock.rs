//! Time for the core, read from the browser (the core never reads a clock itself).

/// Milliseconds on a monotonic clock (`performance.now()`), falling back to `Date.now()` where
/// there is no `performance` (some workers).
pub fn now_ms() -> u64 {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| wasm_bindgen::JsCast::dyn_into::<web_sys::Performance>(p).ok());
    match perf {
        Some(p) => p.now() as u64,
        None => js_sys::Date::now() as u64,
    }
}

/// A random seed for jitter (an input to the core, drawn at the edge).
pub fn seed() -> u64 {
    let hi = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let lo = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (hi << 32) | lo
}
