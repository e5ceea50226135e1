//! Hooks for tests of what happens after a trap, built only with the `test-hooks` feature
//! (into target/bench-pkg, never into the published package).

use wasm_bindgen::prelude::*;

use crate::js::doc::Doc;

/// Traps (`unreachable`) while holding a read transaction on `doc`: what a panic inside yrs
/// does, leaving the document's lock taken.
#[wasm_bindgen(js_name = __trapInTransaction)]
pub fn trap_in_transaction(doc: &Doc) {
    let shared = doc.shared();
    let _txn = shared.read();
    core::arch::wasm32::unreachable()
}
