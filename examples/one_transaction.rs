//! Measures what many small changes in one yrs transaction cost against the same changes in
//! separate transactions (and, for stored rows, in transactions of 256 as the persistence
//! loads them), and what merging them into one update costs (yrs's merge, ysync's).
//! Natively: `cargo run --release --example one_transaction [n]`.
//!
//! Why it matters: yrs finds a position by walking the blocks from the start and merges the
//! blocks a transaction made only when it commits, right to left, copying the merged run at
//! every step; both make one big transaction of small changes quadratic. yrs's merge sorts
//! all its inputs again before each run of blocks it writes: quadratic too. Prints a table.

use std::time::{Duration, Instant};

use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, Text, Transact, Update};

fn time(f: impl FnOnce() -> Doc) -> (Duration, String) {
    let t0 = Instant::now();
    let doc = f();
    let took = t0.elapsed();
    let text = doc.get_or_insert_text("t").get_string(&doc.transact());
    (took, text)
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    // One row per edit, as y-indexeddb (and a persistence that writes every edit) stores them.
    let rows = {
        let doc = Doc::new();
        let rows = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = rows.clone();
        doc.observe_update_v1("rows", move |_, e| sink.borrow_mut().push(e.update.clone()))
            .expect("a fresh document");
        let t = doc.get_or_insert_text("t");
        for i in 0..n {
            t.insert(&mut doc.transact_mut(), i, "x");
        }
        let rows = rows.borrow().clone();
        rows
    };
    let apply = |doc: &Doc, rows: &[Vec<u8>]| {
        let mut txn = doc.transact_mut();
        for r in rows {
            let u = Update::decode_v1(r).expect("yrs's own update");
            txn.apply_update(u).expect("applies");
        }
    };
    let cases: Vec<(&str, (Duration, String))> = vec![
        (
            "one-character appends, one transaction",
            time(|| {
                let doc = Doc::new();
                let t = doc.get_or_insert_text("t");
                let mut txn = doc.transact_mut();
                for i in 0..n {
                    t.insert(&mut txn, i, "x");
                }
                drop(txn);
                doc
            }),
        ),
        (
            "one-character appends, a transaction each",
            time(|| {
                let doc = Doc::new();
                let t = doc.get_or_insert_text("t");
                for i in 0..n {
                    t.insert(&mut doc.transact_mut(), i, "x");
                }
                doc
            }),
        ),
        (
            "stored rows applied in one transaction",
            time(|| {
                let doc = Doc::new();
                apply(&doc, &rows);
                doc
            }),
        ),
        (
            "stored rows applied in transactions of 256",
            time(|| {
                let doc = Doc::new();
                for chunk in rows.chunks(256) {
                    apply(&doc, chunk);
                }
                doc
            }),
        ),
        (
            "stored rows merged (yrs::merge_updates_v1), then applied",
            time(|| {
                let doc = Doc::new();
                let merged = yrs::merge_updates_v1(rows.iter().map(|r| r.as_slice()))
                    .expect("yrs's own updates");
                apply(&doc, &[merged]);
                doc
            }),
        ),
        (
            "stored rows merged in groups of 16 (ysync::core::merge), then applied",
            time(|| {
                let doc = Doc::new();
                let merged = ysync::core::merge::merge_v1(&rows).expect("yrs's own updates");
                apply(&doc, &[merged]);
                doc
            }),
        ),
    ];
    println!("| {n} changes | time |\n|---|---:|");
    let want = "x".repeat(n as usize);
    for (what, (took, text)) in cases {
        assert_eq!(text, want, "{what}: wrong result");
        println!("| {what} | {:.1} ms |", took.as_secs_f64() * 1e3);
    }
}
