//! Untrusted bytes through the same paths the SDK runs them, for the fuzz targets
//! (`fuzz/`) and for the replay of their corpora natively and on wasm32.
//!
//! Each entry point takes bytes as they would arrive from a server, a peer tab or IndexedDB
//! and runs them the way the SDK does: checked by [`validate`](crate::core::validate), then
//! decoded and applied by yrs, then re-encoded. It returns whether the input was accepted; a
//! panic (a trap on wasm32) is the bug being looked for.

use yrs::sync::awareness::AwarenessUpdate;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Text, Transact, Update};

use crate::core::awareness::TimedAwareness;
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

fn update(bytes: &[u8], v2: bool) -> bool {
    let limits = Limits::default();
    let checked = if v2 {
        validate::update_v2(bytes, &limits)
    } else {
        validate::update_v1(bytes, &limits)
    };
    if checked.is_err() {
        return false;
    }
    let doc = seeded_doc();
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
    // What the document now holds must encode to something our own checks accept, since it
    // is what the SDK stores and sends on.
    let txn = doc.transact();
    let out = txn.encode_state_as_update_v1(&StateVector::default());
    assert!(
        validate::update_v1(&out, &limits).is_ok(),
        "re-encoded state fails validation"
    );
    assert!(
        Update::decode_v1(&out).is_ok(),
        "re-encoded state does not decode"
    );
    applied
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
    let mut a = TimedAwareness::new(Doc::with_client_id(1), 0, 30_000);
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

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
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
