//! Golden vectors: frames produced by the real yjs + y-protocols (scripts/golden.mjs) must decode,
//! and our encoder must produce them byte for byte.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use yrs::sync::{Message, SyncMessage};
use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::{OffsetKind, Options, ReadTxn, Transact, Update};

use crate::core::frame::{Dialect, YWebsocket};
use crate::core::validate::Limits;

fn vectors() -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/golden.json")).unwrap();
    v["vectors"].clone()
}

fn bytes(v: &serde_json::Value, name: &str) -> Vec<u8> {
    crate::core::hex(v[name]["frame"].as_str().unwrap())
}

fn decode_one(frame: &[u8]) -> Message {
    let d = YWebsocket.decode_messages(frame, &Limits::default());
    assert!(d.error.is_none(), "{:?}", d.error);
    assert_eq!(d.messages.len(), 1);
    d.messages.into_iter().next().unwrap()
}

fn js_doc() -> yrs::Doc {
    yrs::Doc::with_options(Options {
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    })
}

#[test]
fn every_golden_frame_round_trips_byte_for_byte() {
    let v = vectors();
    for name in v.as_object().unwrap().keys() {
        if v[name]["frame"].is_null() {
            continue;
        }
        let f = bytes(&v, name);
        let m = decode_one(&f);
        assert_eq!(YWebsocket.encode(&m), f, "{name}");
    }
}

#[test]
fn our_step1_equals_yjs_step1_for_the_same_document() {
    let v = vectors();
    let Message::Sync(SyncMessage::SyncStep2(update)) = decode_one(&bytes(&v, "step2")) else {
        panic!("not a step 2")
    };
    let doc = js_doc();
    doc.transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    let sv = doc.transact().state_vector();
    let ours = YWebsocket.encode(&Message::Sync(SyncMessage::SyncStep1(sv)));
    assert_eq!(ours, bytes(&v, "step1"));
    assert_eq!(
        YWebsocket.encode(&Message::Sync(SyncMessage::SyncStep1(Default::default()))),
        bytes(&v, "step1_empty")
    );
}

#[test]
fn step2_and_update_give_yjs_content() {
    let v = vectors();
    let Message::Sync(SyncMessage::SyncStep2(update)) = decode_one(&bytes(&v, "step2")) else {
        panic!("not a step 2")
    };
    let doc = js_doc();
    let note = doc.get_or_insert_text("note");
    let m = doc.get_or_insert_map("m");
    let list = doc.get_or_insert_array("list");
    doc.transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    let txn = doc.transact();
    let got = serde_json::json!({
        "note": yrs::GetString::get_string(&note, &txn),
        "m": serde_json::to_value(m.to_json(&txn)).unwrap(),
        "list": serde_json::to_value(list.to_json(&txn)).unwrap(),
    });
    assert_eq!(got, v["step2"]["json"]);
    drop(txn);
    // The incremental update is already contained in the step 2 state.
    let Message::Sync(SyncMessage::Update(u)) = decode_one(&bytes(&v, "update")) else {
        panic!("not an update")
    };
    let before = doc.transact().state_vector();
    doc.transact_mut()
        .apply_update(Update::decode_v1(&u).unwrap())
        .unwrap();
    assert_eq!(doc.transact().state_vector(), before);
}

#[test]
fn awareness_and_auth_fields() {
    let v = vectors();
    let Message::Awareness(a) = decode_one(&bytes(&v, "awareness")) else {
        panic!("not awareness")
    };
    let e = &a.clients[&yrs::ClientID::new(7)];
    assert_eq!(e.clock as u64, v["awareness"]["clock"].as_u64().unwrap());
    assert_eq!(&*e.json, v["awareness"]["state"].as_str().unwrap());
    let Message::Awareness(a) = decode_one(&bytes(&v, "awareness_null")) else {
        panic!("not awareness")
    };
    assert_eq!(&*a.clients[&yrs::ClientID::new(7)].json, "null");
    assert_eq!(
        decode_one(&bytes(&v, "auth_denied")),
        Message::Auth(Some(v["auth_denied"]["reason"].as_str().unwrap().into()))
    );
    assert_eq!(
        decode_one(&bytes(&v, "query_awareness")),
        Message::AwarenessQuery
    );
}

#[test]
fn relative_positions_match_yjs_both_ways() {
    use crate::core::position;
    let v = vectors();
    let Message::Sync(SyncMessage::SyncStep2(update)) = decode_one(&bytes(&v, "step2")) else {
        panic!("not a step 2")
    };
    let doc = js_doc();
    let note = doc.get_or_insert_text("note");
    doc.transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    let txn = doc.transact();
    let cases = v["relative_positions"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let index = case["index"].as_u64().unwrap() as u32;
        let assoc = position::assoc(case["assoc"].as_i64().unwrap() as i32);
        // Yjs's JSON resolves to the same index here...
        let theirs = position::parse(&case["json"].to_string()).unwrap();
        assert_eq!(
            position::resolve(&note, &txn, &theirs),
            Some(index),
            "{case}"
        );
        // ...and ours names the same item (Yjs also writes the root name, which we omit).
        let len = yrs::Text::len(&note, &txn);
        let created = position::create(&note, &txn, len, index, assoc);
        let Some(created) = created else {
            panic!("create {index} {assoc:?} -> None")
        };
        let ours: serde_json::Value = serde_json::from_str(&created).unwrap();

        for key in ["item", "type", "assoc"] {
            assert_eq!(ours.get(key), case["json"].get(key), "{key} in {case}");
        }
    }
}

#[test]
fn yjs_v1_and_v2_updates_with_every_content_kind_validate_and_agree() {
    let v = vectors();
    let hex = crate::core::hex;
    let v1 = hex(v["rich_updates"]["v1"].as_str().unwrap());
    let v2 = hex(v["rich_updates"]["v2"].as_str().unwrap());
    crate::core::validate::update_v1(&v1, &Limits::default()).unwrap();
    crate::core::validate::update_v2(&v2, &Limits::default()).unwrap();
    let a = js_doc();
    a.transact_mut()
        .apply_update(Update::decode_v1(&v1).unwrap())
        .unwrap();
    let b = js_doc();
    b.transact_mut()
        .apply_update(Update::decode_v2(&v2).unwrap())
        .unwrap();
    // Same content either way (byte equality is not expected: the sub-document's options
    // are a map written in hash order).
    assert_eq!(a.transact().state_vector(), b.transact().state_vector());
    let json = |d: &yrs::Doc| {
        let mut s = String::new();
        d.get_or_insert_array("nested")
            .to_json(&d.transact())
            .to_json(&mut s);
        s.push_str(&yrs::GetString::get_string(
            &d.get_or_insert_xml_fragment("xml"),
            &d.transact(),
        ));
        s
    };
    assert_eq!(json(&a), json(&b));
    // Our v2 encoder (yrs's writes the Uint8Array's length twice) reads back the same.
    let ours =
        crate::core::update_v2::encode_state_as_update(&b.transact(), &Default::default()).unwrap();
    let c = js_doc();
    c.transact_mut()
        .apply_update(Update::decode_v2(&ours).unwrap())
        .unwrap();
    assert_eq!(json(&a), json(&c));
    // Every truncation of either encoding is refused by the checks (never a panic).
    for cut in 0..v1.len() {
        assert!(crate::core::validate::update_v1(&v1[..cut], &Limits::default()).is_err());
    }
    for cut in 0..v2.len() {
        let _ = crate::core::validate::update_v2(&v2[..cut], &Limits::default());
    }
    // Yjs's delta of the rich text has as many runs (text, embed, formatted spans) as ours.
    let text = a.get_or_insert_text("rich");
    let runs = yrs::Text::diff(&text, &a.transact(), yrs::types::text::YChange::identity).len();
    assert_eq!(
        runs,
        v["rich_updates"]["json"]["rich"].as_array().unwrap().len()
    );
}
