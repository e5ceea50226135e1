//! Time for the core, read from the browser (the core never reads a clock itself).

/// Milliseconds on a monotonic clock (`performance.now()`), falling back to `Date.now()` where
/// there is no `performance` (some workers).
pub fn now_ms() -> u64 {
    now_f64() as u64
}

/// [`now_ms`] with sub-millisecond precision (for measuring durations). The `performance`
/// object is looked up once: this runs for every frame that arrives.
pub fn now_f64() -> f64 {
    thread_local! {
        static PERF: Option<web_sys::Performance> =
            js_sys::Reflect::get(&js_sys::global(), &"performance".into())
                .ok()
                .and_then(|p| wasm_bindgen::JsCast::dyn_into::<web_sys::Performance>(p).ok());
    }
    PERF.with(|p| match p {
        Some(p) => p.now(),
        None => js_sys::Date::now(),
    })
}

/// A random seed for jitter (an input to the core, drawn at the edge).
pub fn seed() -> u64 {
    let hi = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let lo = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (hi << 32) | lo
}
