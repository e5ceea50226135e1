//! Untrusted bytes through the same paths the SDK runs them, for the fuzz targets
//! (`fuzz/`) and for the replay of their corpora natively and on wasm32.
//!
//! Each entry point takes bytes as they would arrive from a server, a peer tab or IndexedDB
//! and runs them the way the SDK does: checked by [`validate`](crate::core::validate), then
//! decoded and applied by yrs, then re-encoded. It returns whether the input was accepted; a
//! panic (a trap on wasm32) is the bug being looked for.

use yrs::sync::awareness::AwarenessUpdate;
use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Text, Transact, Update};

use crate::core::awareness::{Awareness, MAX_CLIENTS};
use crate::core::gate::Gate;
use crate::core::session::{Config, Session};
use crate::core::validate::{self, Limits};

/// What kind of untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A WebSocket frame from the server (one or more y-protocols messages).
    Frame,
    /// A v1 update (sync step 2, update messages, IndexedDB rows, other tabs).
    UpdateV1,
    /// A v2 update.
    UpdateV2,
    /// A v1 state vector (sync step 1, stored acknowledgements).
    StateVector,
    /// An awareness update.
    Awareness,
}

impl Target {
    /// Every target, with the directory name of its corpus.
    pub const ALL: [(Target, &'static str); 5] = [
        (Target::Frame, "frame"),
        (Target::UpdateV1, "update_v1"),
        (Target::UpdateV2, "update_v2"),
        (Target::StateVector, "state_vector"),
        (Target::Awareness, "awareness"),
    ];
}

/// Runs `bytes` as `target`; true if it was accepted.
pub fn exercise(target: Target, bytes: &[u8]) -> bool {
    match target {
        Target::Frame => frame(bytes),
        Target::UpdateV1 => update(bytes, false),
        Target::UpdateV2 => update(bytes, true),
        Target::StateVector => state_vector(bytes),
        Target::Awareness => awareness(bytes),
    }
}

/// A document with some history, so updates and state vectors have something to meet.
fn seeded_doc() -> Doc {
    let doc = Doc::with_options(yrs::Options {
        client_id: yrs::ClientID::new(1),
        offset_kind: yrs::OffsetKind::Utf16,
        ..yrs::Options::default()
    });
    let text = doc.get_or_insert_text("t");
    let mut txn = doc.transact_mut();
    text.insert(&mut txn, 0, "hello");
    text.remove_range(&mut txn, 1, 2);
    drop(txn);
    doc
}

/// Applies `first` (a valid update the document builds on) and then untrusted `bytes` as the
/// SDK does, then runs [`every_operation`]; true if `bytes` was accepted.
pub fn update_after(first: &[u8], bytes: &[u8], v2: bool) -> bool {
    let doc = seeded_doc();
    let limits = Limits::default();
    let _ = Gate::default().apply(&mut doc.transact_mut(), first, &limits);
    apply_untrusted(&doc, bytes, v2)
}

fn update(bytes: &[u8], v2: bool) -> bool {
    apply_untrusted(&seeded_doc(), bytes, v2)
}

fn apply_untrusted(doc: &Doc, bytes: &[u8], v2: bool) -> bool {
    let limits = Limits::default();
    let checked = if v2 {
        validate::update_v2(bytes, &limits)
    } else {
        validate::update_v1(bytes, &limits)
    };
    if checked.is_err() {
        return false;
    }
    let applied = if v2 {
        // v2 input reaches yrs only after its own checks, then goes through the gate as v1.
        match Update::decode_v2(bytes) {
            Ok(u) => Gate::default()
                .apply(&mut doc.transact_mut(), &u.encode_v1(), &limits)
                .is_ok(),
            Err(_) => return false,
        }
    } else {
        Gate::default()
            .apply(&mut doc.transact_mut(), bytes, &limits)
            .is_ok()
    };
    every_operation(doc, bytes, v2);
    applied
}

/// A clock for undo that never reads the wall clock (it panics on wasm32).
struct Frozen;

impl yrs::sync::Clock for Frozen {
    fn now(&self) -> yrs::sync::time::Timestamp {
        0
    }
}

/// Runs on an accepted document every operation the SDK offers on one: encodings v1 and v2
/// with and without a state vector, merge and diff with the input, JSON, observers with their
/// deltas, undo and redo, relative positions, and edits of every root. Each must neither
/// panic (a trap on wasm32) nor produce bytes our own checks refuse.
pub fn every_operation(doc: &Doc, input: &[u8], v2: bool) {
    let limits = Limits::default();
    let input_v1 = if v2 {
        Update::decode_v2(input).ok().map(|u| u.encode_v1())
    } else {
        Some(input.to_vec())
    };
    // Observers that read what the JS layer reads from every event.
    for (_, out) in roots(doc) {
        observe(&out);
    }
    let sv_seed = seeded_doc().transact().state_vector();
    {
        let txn = doc.transact();
        let sv = txn.state_vector();
        for with in [StateVector::default(), sv_seed.clone(), sv.clone()] {
            let out = txn.encode_state_as_update_v1(&with);
            assert!(
                validate::update_v1(&out, &limits).is_ok(),
                "re-encoded state fails validation"
            );
            assert!(
                Update::decode_v1(&out).is_ok(),
                "re-encoded state does not decode"
            );
            let out2 = crate::core::update_v2::encode_state_as_update(&txn, &with)
                .expect("v1 state re-decodes");
            assert!(Update::decode_v2(&out2).is_ok(), "v2 state does not decode");
            let _ = txn.encode_diff_v1(&with);
        }
        let state = txn.encode_state_as_update_v1(&StateVector::default());
        if let Some(u) = &input_v1 {
            if let Ok(m) = yrs::merge_updates_v1([state.as_slice(), u.as_slice()]) {
                let _ = yrs::diff_updates_v1(&m, &sv.encode_v1());
            }
        }
        let _ = yrs::diff_updates_v1(&state, &sv_seed.encode_v1());
        let mut json = String::new();
        doc.to_json(&txn).to_json(&mut json);
    }
    let mut um = yrs::UndoManager::with_options(yrs::undo::Options {
        capture_timeout_millis: 0,
        tracked_origins: Default::default(),
        capture_transaction: None,
        timestamp: std::sync::Arc::new(Frozen),
        init_undo_stack: Vec::new(),
        init_redo_stack: Vec::new(),
    });
    for (name, out) in roots(doc) {
        match &out {
            yrs::Out::YText(t) => um.expand_scope(doc, t),
            yrs::Out::YArray(a) => um.expand_scope(doc, a),
            yrs::Out::YMap(m) => um.expand_scope(doc, m),
            yrs::Out::YXmlFragment(x) => um.expand_scope(doc, x),
            _ => {}
        }
        edit_root(doc, &name);
    }
    um.undo_blocking();
    um.redo_blocking();
    um.undo_blocking();
    // After the edits the document still encodes and its positions still resolve.
    let txn = doc.transact();
    let out = txn.encode_state_as_update_v1(&StateVector::default());
    assert!(
        Update::decode_v1(&out).is_ok(),
        "state after edits does not decode"
    );
    let _ = crate::core::update_v2::encode_state_as_update(&txn, &StateVector::default());
}

/// Every root of `doc`, by name.
fn roots(doc: &Doc) -> Vec<(String, yrs::Out)> {
    let txn = doc.transact();
    txn.root_refs()
        .map(|(name, out)| (name.to_string(), out))
        .collect()
}

/// A deep observer on `out` that reads each event's path and delta or keys, as the JS layer's
/// observers do.
fn observe(out: &yrs::Out) {
    use yrs::{types::Event, DeepObservable};
    fn read(txn: &yrs::TransactionMut, events: &yrs::types::Events) {
        for e in events.iter() {
            let _ = e.path();
            match e {
                Event::Text(t) => drop(t.delta(txn).to_vec()),
                Event::Array(a) => drop(a.delta(txn).to_vec()),
                Event::Map(m) => drop(m.keys(txn).len()),
                Event::XmlFragment(x) => drop(x.delta(txn).to_vec()),
                Event::XmlText(x) => drop(x.delta(txn).to_vec()),
            }
        }
    }
    match out {
        yrs::Out::YText(t) => t.observe_deep("fuzz", read),
        yrs::Out::YArray(a) => a.observe_deep("fuzz", read),
        yrs::Out::YMap(m) => m.observe_deep("fuzz", read),
        yrs::Out::YXmlFragment(x) => x.observe_deep("fuzz", read),
        _ => {}
    }
}

/// Edits root `name` as the type the JS API would see it as, with relative positions taken
/// before and resolved after.
fn edit_root(doc: &Doc, name: &str) {
    use yrs::{Array, GetString, Map, XmlFragment};
    let kind = {
        let txn = doc.transact();
        txn.root_refs().find(|(n, _)| *n == name).map(|(_, o)| o)
    };
    match kind {
        Some(yrs::Out::YArray(_)) => {
            let a = doc.get_or_insert_array(name);
            let mut txn = doc.transact_mut();
            let len = a.len(&txn);
            let p = crate::core::position::create(&a, &txn, len, len / 2, yrs::Assoc::After);
            a.insert(&mut txn, len / 2, 1);
            if len > 0 {
                a.remove_range(&mut txn, 0, 1);
            }
            let _ = a.to_json(&txn);
            if let Some(p) = p.and_then(|p| crate::core::position::parse(&p).ok()) {
                crate::core::position::resolve(&a, &txn, &p);
            }
        }
        Some(yrs::Out::YMap(_)) => {
            let m = doc.get_or_insert_map(name);
            let mut txn = doc.transact_mut();
            let keys: Vec<String> = m.keys(&txn).map(str::to_string).collect();
            m.insert(&mut txn, "fuzz", "x");
            if let Some(k) = keys.first() {
                m.remove(&mut txn, k);
            }
            let _ = m.to_json(&txn);
        }
        Some(yrs::Out::YXmlFragment(_)) => {
            let x = doc.get_or_insert_xml_fragment(name);
            let mut txn = doc.transact_mut();
            let len = x.len(&txn);
            x.insert(&mut txn, len / 2, yrs::XmlTextPrelim::new("x"));
            let _ = x.get_string(&txn);
        }
        _ => {
            // Texts, and roots nobody typed yet (what a JS app's getText makes of them).
            let t = doc.get_or_insert_text(name);
            let mut txn = doc.transact_mut();
            let len = t.len(&txn);
            let p = crate::core::position::create(&t, &txn, len, len / 2, yrs::Assoc::Before);
            t.insert(&mut txn, len / 2, "x");
            t.format(&mut txn, 0, len / 2 + 1, [("b".into(), true.into())].into());
            if len > 1 {
                t.remove_range(&mut txn, 0, 1);
            }
            let _ = t.diff(&txn, yrs::types::text::YChange::identity);
            let _ = t.get_string(&txn);
            if let Some(p) = p.and_then(|p| crate::core::position::parse(&p).ok()) {
                crate::core::position::resolve(&t, &txn, &p);
            }
        }
    }
}

fn state_vector(bytes: &[u8]) -> bool {
    if validate::state_vector(bytes).is_err() {
        return false;
    }
    let Ok(sv) = StateVector::decode_v1(bytes) else {
        return false;
    };
    let doc = seeded_doc();
    let diff = doc.transact().encode_state_as_update_v1(&sv);
    assert!(validate::update_v1(&diff, &Limits::default()).is_ok());
    true
}

fn awareness(bytes: &[u8]) -> bool {
    if validate::awareness(bytes, &Limits::default()).is_err() {
        return false;
    }
    let Ok(u) = AwarenessUpdate::decode_v1(bytes) else {
        return false;
    };
    let mut a = Awareness::new(1, 0, 30_000, MAX_CLIENTS);
    a.apply(u);
    let _ = a.full_update();
    true
}

fn frame(bytes: &[u8]) -> bool {
    let doc = seeded_doc();
    let Ok(mut s) = Session::new(doc.clone(), Config::default(), 0) else {
        return false;
    };
    s.connected(0);
    while s.poll_output(0).is_some() {}
    s.handle_frame(1, bytes);
    let mut accepted = true;
    while let Some(o) = s.poll_output(1) {
        if matches!(o, crate::core::session::Output::Close(_)) {
            accepted = false;
        }
    }
    // The instance keeps working: a local edit still goes out.
    doc.get_or_insert_text("t")
        .insert(&mut doc.transact_mut(), 0, "x");
    s.handle_timeout(2);
    while s.poll_output(2).is_some() {}
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hex;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The fuzz corpora and crash inputs, exported by `fuzz/src/bin/export.rs`.
    const PACKS: [(Target, &[u8]); 5] = [
        (
            Target::Frame,
            include_bytes!("../../tests/fixtures/fuzz/frame.bin"),
        ),
        (
            Target::UpdateV1,
            include_bytes!("../../tests/fixtures/fuzz/update_v1.bin"),
        ),
        (
            Target::UpdateV2,
            include_bytes!("../../tests/fixtures/fuzz/update_v2.bin"),
        ),
        (
            Target::StateVector,
            include_bytes!("../../tests/fixtures/fuzz/state_vector.bin"),
        ),
        (
            Target::Awareness,
            include_bytes!("../../tests/fixtures/fuzz/awareness.bin"),
        ),
    ];

    fn unpack(mut b: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while b.len() >= 4 {
            let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            out.push(&b[4..4 + n]);
            b = &b[4 + n..];
        }
        assert!(b.is_empty(), "truncated pack");
        out
    }

    /// Found by the `frame` target: an update from "our own" client id with a block past a
    /// gap, then a GC range overlapping the end of yrs's placeholder for the gap — a clock
    /// underflow inside yrs (fuzz/artifacts/frame/crash-7484d42d…). Now the block is held.
    #[test]
    fn block_past_a_gap_then_an_overlapping_gc_does_not_panic() {
        let frame = hex("000217010101172701036d617006e697a5e69cac02010101140300029c01010f0100040104746578740ec3a9c3a9c3a9c3a9c3a9c3a9c3a984010602c3a9c40106010702c3a9c40108010706c3a9c3a9c3a9c40108010908c3a9c3a9c3a9c3a944010007c3a9c3a9c3a9612101036d617004616161610200042701036d61700961e697a5e69cac6161020400011a0461616161a70115020400011f0461616161070103786d6c03017007000124060400012502c3a9010101140600000100");
        exercise(Target::Frame, &frame);
    }

    /// Found by the `frame` target: blocks under the document's own client id that it never
    /// wrote, then a delete range over them: an underflow in yrs's length accounting
    /// (fuzz/artifacts/frame/crash-a529718a…). Now refused as OWN_CLIENT_ID.
    #[test]
    fn blocks_under_our_own_client_id_are_refused() {
        let frame = hex("000257010501002701036d617004c3a9c3a90008000100017406baba59595959040104746578741868656c6c6f2068656c6c6f2068656c6c6f2068656c6c6f202701036d617003c3a900000800011a017a42ba0001ba525252000002c60101180100040104746578740368656c8101020b81010d0281010f078401160120c1010d010e18c1010f01100ec10102010301c4013e01030165c1013f010311c10150010305c10150015118c10116011711c4017e0117022068c1018001011704c401840101170120c10116016e13c1019801016e05c1011601860118c10116019e010fc101980101990118c101980101c5011844010002c3a94501f501195b3138362c3138362c3138362c3138362c3138362c3138365d01010503141827403f81010486016f");
        assert!(!exercise(Target::Frame, &frame));
    }

    /// The case from the hostile-input issue: a `Uint8Array` value, then a block waiting for
    /// an item this document never received; yrs's v2 encoder then panicked (a trap in wasm
    /// that left the document's lock held).
    #[test]
    fn binary_value_then_a_pending_block_survives_every_operation() {
        let u1 = hex("010101002301016d0362696e0301020300");
        let u2 = hex("01010300840204012100");
        assert!(update_after(&u1, &u2, false));
    }

    /// Valid updates with every content kind, made by Yjs (tests/fixtures/golden.json), and
    /// the pair.
    fn seeds() -> Vec<(Vec<u8>, bool)> {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/golden.json")).unwrap();
        let rich = &v["vectors"]["rich_updates"];
        vec![
            (hex(rich["v1"].as_str().unwrap()), false),
            (hex(rich["v2"].as_str().unwrap()), true),
            (hex("010101002301016d0362696e0301020300"), false),
            (hex("01010300840204012100"), false),
        ]
    }

    /// One structure-blind but length-aware mutation: bytes changed, inserted, removed,
    /// bumped by one (varints, clocks, lengths, content kinds), or a run copied from another
    /// seed.
    fn mutate(rng: &mut fastrand::Rng, input: &[u8], donor: &[u8]) -> Vec<u8> {
        let mut b = input.to_vec();
        for _ in 0..rng.usize(1..4) {
            if b.is_empty() {
                break;
            }
            let i = rng.usize(..b.len());
            match rng.u8(..6) {
                0 => b[i] = rng.u8(..),
                1 => b[i] = b[i].wrapping_add(1),
                2 => b[i] = b[i].wrapping_sub(1),
                3 => b.insert(i, rng.u8(..)),
                4 => drop(b.drain(i..(i + rng.usize(1..4)).min(b.len()))),
                _ if !donor.is_empty() => {
                    let j = rng.usize(..donor.len());
                    let n = rng.usize(1..16).min(donor.len() - j);
                    b.splice(i..i, donor[j..j + n].iter().copied());
                }
                _ => {}
            }
        }
        b
    }

    /// Mutations of valid v1 and v2 updates, applied after a valid update (so blocks can wait
    /// for others, as in the issue), then every operation of [`every_operation`]: none may
    /// panic. Natively a panic is caught to name the input; on wasm32 it is the trap itself.
    #[test]
    fn mutated_updates_survive_every_operation() {
        let seeds = seeds();
        let rounds = if cfg!(target_arch = "wasm32") {
            300
        } else {
            3000
        };
        let mut rng = fastrand::Rng::with_seed(19);
        let mut accepted = 0;
        #[allow(unused_mut)] // only native runs catch panics
        let mut panics: Vec<Vec<u8>> = Vec::new();
        for _ in 0..rounds {
            let v1_seeds: Vec<&Vec<u8>> =
                seeds.iter().filter(|(_, v2)| !v2).map(|(u, _)| u).collect();
            let base = v1_seeds[rng.usize(..v1_seeds.len())];
            let (victim, v2) = &seeds[rng.usize(..seeds.len())];
            let donor = &seeds[rng.usize(..seeds.len())].0;
            let input = mutate(&mut rng, victim, donor);
            #[cfg(not(target_arch = "wasm32"))]
            match std::panic::catch_unwind(|| update_after(base, &input, *v2)) {
                Ok(a) => accepted += usize::from(a),
                Err(_) => panics.push(input),
            }
            #[cfg(target_arch = "wasm32")]
            {
                accepted += usize::from(update_after(base, &input, *v2));
            }
        }
        let shown: Vec<String> = panics
            .iter()
            .take(3)
            .map(|p| p.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        assert!(
            panics.is_empty(),
            "{} inputs panicked, e.g. {shown:?}",
            panics.len()
        );
        // Most mutations are refused by the checks; enough must get through to mean something.
        assert!(
            accepted > rounds / 20,
            "only {accepted} of {rounds} accepted"
        );
    }

    const PAGE: usize = 64 * 1024;

    /// Linear memory in bytes (wasm32); natively there is nothing comparable to measure.
    fn memory() -> usize {
        #[cfg(target_arch = "wasm32")]
        return core::arch::wasm32::memory_size(0) * PAGE;
        #[cfg(not(target_arch = "wasm32"))]
        0
    }

    /// Replays every corpus input: no panic (no trap on wasm32), and wasm memory grows by at
    /// most 16x the input (memory grows in 64 KiB pages, so the budget is rounded up to one).
    #[test]
    fn fuzz_corpora_replay_without_panics_or_memory_blowup() {
        let mut total = 0;
        for (target, pack) in PACKS {
            let inputs = unpack(pack);
            assert!(
                inputs.len() >= 20,
                "{target:?}: only {} inputs",
                inputs.len()
            );
            // Warm up: allocator and first-use costs are not the input's doing.
            for i in inputs.iter().take(8) {
                exercise(target, i);
            }
            let mut accepted = 0;
            for input in &inputs {
                let before = memory();
                accepted += usize::from(exercise(target, input));
                let grown = memory() - before;
                let budget = (16 * input.len()).div_ceil(PAGE).max(1) * PAGE;
                assert!(
                    grown <= budget,
                    "{target:?}: memory grew {grown} bytes for a {}-byte input",
                    input.len()
                );
            }
            // A corpus of nothing but rejects would not reach yrs at all.
            assert!(accepted > 0, "{target:?}: no input was accepted");
            total += inputs.len();
        }
        assert!(total > 0);
    }
}
