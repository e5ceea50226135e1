//! Relative positions (`StickyIndex` in yrs): an index in a text or array that stays put
//! while others edit around it — what carets in awareness states are made of. The JSON form
//! is Yjs's `relativePositionToJSON`, so Yjs peers (y-codemirror, y-quill...) read ours and we
//! read theirs.

use yrs::branch::BranchPtr;
use yrs::{Assoc, IndexedSequence, ReadTxn, StickyIndex};

use crate::core::error::DecodeError;

/// Largest JSON text accepted for one position (a real one is under 100 bytes).
const MAX_JSON: usize = 1024;

/// `assoc` as Yjs writes it: `>= 0` sticks to the item after the index, `< 0` to the one
/// before.
pub fn assoc(n: i32) -> Assoc {
    if n < 0 {
        Assoc::Before
    } else {
        Assoc::After
    }
}

/// The relative position of `index` in `seq` (whose length is `len`), as Yjs JSON; `None` if
/// `index` is past the end.
pub fn create<S: IndexedSequence, T: ReadTxn>(
    seq: &S,
    txn: &T,
    len: u32,
    index: u32,
    assoc: Assoc,
) -> Option<String> {
    let pos = match seq.sticky_index(txn, index, assoc) {
        Some(pos) => pos,
        // yrs has no position for "the end, sticking right"; Yjs names the type itself.
        None if index == len && assoc == Assoc::After => StickyIndex::from_type(txn, seq, assoc),
        None => return None,
    };
    serde_json::to_string(&pos).ok()
}

/// Parses Yjs position JSON (untrusted: it arrives in other peers' awareness states).
pub fn parse(json: &str) -> Result<StickyIndex, DecodeError> {
    if json.len() > MAX_JSON {
        return Err(DecodeError::TooLong {
            what: "relative position",
            size: json.len(),
            max: MAX_JSON,
        });
    }
    serde_json::from_str(json).map_err(|_| DecodeError::InvalidJson)
}

/// The current index of `pos` in `seq`, or `None` if it points into another type or into
/// content this document does not have (yet).
pub fn resolve<S: IndexedSequence, T: ReadTxn>(seq: &S, txn: &T, pos: &StickyIndex) -> Option<u32> {
    let offset = pos.get_offset(txn)?;
    (offset.branch == BranchPtr::from(seq.as_ref())).then_some(offset.index)
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use yrs::{Doc, OffsetKind, Options, Text, Transact};

    fn doc(id: u64) -> Doc {
        Doc::with_options(Options {
            client_id: yrs::block::ClientID::new(id),
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        })
    }

    #[test]
    fn a_position_follows_its_character_through_remote_edits() {
        let a = doc(1);
        let text = a.get_or_insert_text("t");
        text.insert(&mut a.transact_mut(), 0, "hello world");
        let json = create(&text, &a.transact(), 11, 6, assoc(0)).unwrap();
        let pos = parse(&json).unwrap();
        text.insert(&mut a.transact_mut(), 0, ">> ");
        assert_eq!(resolve(&text, &a.transact(), &pos), Some(9));
        text.remove_range(&mut a.transact_mut(), 0, 5);
        assert_eq!(resolve(&text, &a.transact(), &pos), Some(4));
        // A position from another type does not resolve here.
        let other = a.get_or_insert_text("u");
        assert_eq!(resolve(&other, &a.transact(), &pos), None);
        // Past the end: none.
        assert!(create(&text, &a.transact(), 6, 99, assoc(0)).is_none());
        // The end, sticking right, stays at the end.
        let end = parse(&create(&text, &a.transact(), 6, 6, assoc(0)).unwrap()).unwrap();
        text.insert(&mut a.transact_mut(), 6, "!!");
        assert_eq!(resolve(&text, &a.transact(), &end), Some(8));
    }

    #[test]
    fn hostile_position_json_is_an_error_or_unresolved_never_a_panic() {
        let a = doc(1);
        let text = a.get_or_insert_text("t");
        text.insert(&mut a.transact_mut(), 0, "abc");
        for bad in [
            "",
            "null",
            "[]",
            "{\"item\":{\"client\":-1,\"clock\":0}}",
            "{\"item\":{\"client\":1,\"clock\":99999999999}}",
            "{\"assoc\":5}",
            "{\"x\":1}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&"{\"tname\":\"".repeat(200)).is_err());
        for unknown in [
            "{\"item\":{\"client\":9,\"clock\":4000000000}}",
            "{\"type\":{\"client\":1,\"clock\":1}}",
            "{\"tname\":\"nope\"}",
        ] {
            let pos = parse(unknown).unwrap();
            assert_eq!(resolve(&text, &a.transact(), &pos), None, "{unknown}");
        }
    }
}
