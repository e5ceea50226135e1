//! What fills wasm memory, for `bench/memory.mjs`: a global allocator that counts the bytes
//! live and the most live at once, and a bare yrs document to compare ysync's with. Built only
//! with the `bench` feature: the published package keeps Rust's default allocator untouched
//! (and a Rust app its own).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use wasm_bindgen::prelude::*;
use yrs::updates::decoder::Decode;
use yrs::{Transact, Update};

/// The default allocator, counting.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let live = LIVE.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call goes to `System` with the caller's arguments; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as given.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as given.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as given.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as given.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `[live, peak]`: bytes allocated and not freed now, and the most at once since the last
/// call (the peak starts again from what is live).
#[wasm_bindgen(js_name = benchHeap)]
pub fn bench_heap() -> Vec<f64> {
    let live = LIVE.load(Relaxed);
    let peak = PEAK.swap(live, Relaxed);
    vec![live as f64, peak as f64]
}

thread_local! {
    /// Bare yrs documents (no ysync) loaded from a v1 update, kept alive until
    /// [`bench_drop_yrs`].
    static BARE: std::cell::RefCell<Vec<yrs::Doc>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Loads `update` into a new bare yrs document and keeps it: what yrs alone holds for it.
#[wasm_bindgen(js_name = benchLoadYrs)]
pub fn bench_load_yrs(update: &[u8]) -> Result<(), JsError> {
    let doc = yrs::Doc::new();
    doc.transact_mut()
        .apply_update(Update::decode_v1(update).map_err(|e| JsError::new(&e.to_string()))?)
        .map_err(|e| JsError::new(&e.to_string()))?;
    BARE.with(|v| v.borrow_mut().push(doc));
    Ok(())
}

/// Drops the bare documents of [`bench_load_yrs`].
#[wasm_bindgen(js_name = benchDropYrs)]
pub fn bench_drop_yrs() {
    // Taken out first: the documents drop with no borrow held.
    drop(BARE.with(|v| std::mem::take(&mut *v.borrow_mut())));
}
