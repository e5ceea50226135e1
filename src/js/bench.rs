//! The Rust-in-wasm side of the B4 benchmark (`bench/b4.mjs`): the same trace, one yrs
//! transaction per edit with an update observer, no JS in the loop. Built only with the `bench`
//! feature.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yrs::{GetString, OffsetKind, Options, Text, Transact};

/// Replays edits `i`: delete `del[i]` characters at `pos[i]`, then insert the next
/// `ins_len[i]` bytes of `ins`. Returns the final text and the update bytes observed.
#[wasm_bindgen(js_name = benchReplayTrace)]
pub fn bench_replay_trace(pos: &[u32], del: &[u32], ins: &str, ins_len: &[u32]) -> js_sys::Array {
    let doc = yrs::Doc::with_options(Options {
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    });
    let text = doc.get_or_insert_text("t");
    let bytes = Rc::new(Cell::new(0usize));
    let b = bytes.clone();
    let _ = doc.observe_update_v1("bench", move |_, e| b.set(b.get() + e.update.len()));
    let mut off = 0usize;
    for i in 0..pos.len().min(del.len()).min(ins_len.len()) {
        let mut txn = doc.transact_mut();
        if del[i] > 0 {
            text.remove_range(&mut txn, pos[i], del[i]);
        }
        let n = ins_len[i] as usize;
        if n > 0 {
            let Some(chunk) = ins.get(off..off + n) else {
                break;
            };
            text.insert(&mut txn, pos[i], chunk);
            off += n;
        }
    }
    let out = text.get_string(&doc.transact());
    js_sys::Array::of2(&out.into(), &(bytes.get() as f64).into())
}
