//! Browser tests of the adapters and bindings, in headless Chromium, against a real
//! @y/websocket-server whose URL the test script passes in `YSYNC_TEST_SERVER` at build time.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
// The crate-root Rust API, as a Rust web app imports it.
use ysync::driver::provider::Settle;
use ysync::yrs::{Array, GetString, Map, Text};
use ysync::{Doc, DocConfig, ProviderConfig, ProviderEvent, WebsocketProvider};

wasm_bindgen_test_configure!(run_in_browser);

fn server() -> &'static str {
    // Read at build time: the test runs inside the browser, which has no environment.
    match option_env!("YSYNC_TEST_SERVER") {
        Some(url) => url,
        None => {
            panic!("YSYNC_TEST_SERVER must name the y-websocket server (scripts/test.sh sets it)")
        }
    }
}

fn room(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e12) as u64)
}

async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        let w = web_sys::window().unwrap();
        w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Waits up to `ms` for `cond`; true if it held.
async fn eventually(ms: i32, mut cond: impl FnMut() -> bool) -> bool {
    let mut waited = 0;
    while waited <= ms {
        if cond() {
            return true;
        }
        sleep(20).await;
        waited += 20;
    }
    false
}

/// A promise for a wait of the provider's (`|s| p.when_synced(s)`), for `with_timeout`.
fn promise(wait: impl FnOnce(Settle)) -> js_sys::Promise {
    ysync::js::promise::promise(JsValue::UNDEFINED, wait)
}

async fn with_timeout(p: js_sys::Promise, ms: i32) -> Result<JsValue, &'static str> {
    let timeout = js_sys::Promise::new(&mut |_, reject| {
        let w = web_sys::window().unwrap();
        w.set_timeout_with_callback_and_timeout_and_arguments_0(&reject, ms)
            .unwrap();
    });
    JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(&p, &timeout)))
        .await
        .map_err(|_| "timed out")
}

fn text(doc: &Doc) -> String {
    let note = doc.ydoc().get_or_insert_text("note");
    note.get_string(&doc.read().unwrap())
}

#[wasm_bindgen_test]
async fn two_clients_sync_through_the_server_and_get_acknowledged() {
    let room = room("web-two");
    let d1 = Doc::new(DocConfig::default()).unwrap();
    let cfg = ProviderConfig {
        connect: false,
        ..ProviderConfig::default()
    };
    let p1 = WebsocketProvider::new(server(), &room, &d1, cfg).unwrap();
    assert_eq!(p1.status().as_str(), "disconnected");
    let statuses = Rc::new(RefCell::new(Vec::<String>::new()));
    let s = statuses.clone();
    let _on_status = p1.subscribe(move |e| {
        if let ProviderEvent::Status(st) = e {
            s.borrow_mut().push(st.as_str().into());
        }
    });
    p1.connect();
    with_timeout(promise(|s| p1.when_synced(s)), 5_000)
        .await
        .unwrap();
    assert!(p1.synced());
    assert_eq!(p1.status().as_str(), "connected");

    let note = d1.ydoc().get_or_insert_text("note");
    d1.edit(|txn| note.insert(txn, 0, "hello from ysync"))
        .unwrap();
    assert!(p1.unsynced_changes() > 0);
    with_timeout(promise(|s| p1.when_acknowledged(s)), 5_000)
        .await
        .unwrap();
    assert_eq!(p1.unsynced_changes(), 0);

    let d2 = Doc::new(DocConfig::default()).unwrap();
    let p2 = WebsocketProvider::new(server(), &room, &d2, ProviderConfig::default()).unwrap();
    with_timeout(promise(|s| p2.when_synced(s)), 5_000)
        .await
        .unwrap();
    assert_eq!(text(&d2), "hello from ysync");

    let m = d2.ydoc().get_or_insert_map("m");
    let list = d2.ydoc().get_or_insert_array("list");
    d2.edit(|txn| {
        m.insert(txn, "k", "v");
        list.push_back(txn, 1.5);
        list.push_back(txn, "two");
    })
    .unwrap();
    let d1m = d1.ydoc().get_or_insert_map("m");
    assert!(
        eventually(5_000, || d1m
            .get(&d1.read().unwrap(), "k")
            .is_some_and(|v| v.to_string(&d1.read().unwrap()) == "v"))
        .await
    );
    let d1list = d1.ydoc().get_or_insert_array("list");
    assert!(eventually(5_000, || d1list.len(&d1.read().unwrap()) == 2).await);
    assert_eq!(*statuses.borrow(), vec!["connecting", "connected"]);
    p1.destroy();
    p2.destroy();
}

#[wasm_bindgen_test]
async fn update_events_fire_for_remote_changes_after_the_transaction() {
    let room = room("web-events");
    let d1 = Doc::new(DocConfig::default()).unwrap();
    let p1 = WebsocketProvider::new(server(), &room, &d1, ProviderConfig::default()).unwrap();
    let seen = Rc::new(RefCell::new(Vec::<(String, bool)>::new()));
    let seen2 = seen.clone();
    let reader = d1.clone();
    // Reading the document inside the listener works: no transaction is open any more.
    let _on_update = d1.subscribe_update(move |e| {
        seen2.borrow_mut().push((text(&reader), e.local));
    });
    let d2 = Doc::new(DocConfig::default()).unwrap();
    let p2 = WebsocketProvider::new(server(), &room, &d2, ProviderConfig::default()).unwrap();
    // The async Rust API.
    p1.wait_synced().await.unwrap();
    p2.wait_synced().await.unwrap();
    let note = d2.ydoc().get_or_insert_text("note");
    d2.edit(|txn| note.insert(txn, 0, "remote")).unwrap();
    p2.wait_acknowledged().await.unwrap();
    assert!(
        eventually(5_000, || seen
            .borrow()
            .iter()
            .any(|s| *s == ("remote".to_string(), false)))
        .await
    );
    p1.destroy();
    p2.destroy();
}

/// A Rust app edits through yrs directly: the document's Rust and JS listeners hear about it
/// in the next microtask, with no flush called by hand.
#[wasm_bindgen_test]
async fn edits_through_yrs_reach_listeners_without_a_manual_flush() {
    use ysync::yrs::Transact;
    let js_doc = ysync::js::doc::Doc::new(None).unwrap();
    let doc = js_doc.rust().clone();
    let rust_seen = Rc::new(RefCell::new(Vec::<usize>::new()));
    let r = rust_seen.clone();
    let sub = doc.subscribe_update(move |e| r.borrow_mut().push(e.update.len()));
    let seen = Rc::new(RefCell::new(0));
    let s = seen.clone();
    let on_update = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_u: JsValue, _o: JsValue| {
        *s.borrow_mut() += 1;
    });
    js_doc
        .on(
            "update",
            on_update
                .as_ref()
                .unchecked_ref::<js_sys::Function>()
                .clone(),
        )
        .unwrap();
    let ydoc = doc.ydoc();
    let note = ydoc.get_or_insert_text("note");
    note.push(&mut ydoc.transact_mut(), "a");
    note.push(&mut ydoc.transact_mut(), "b");
    assert_eq!(*seen.borrow(), 0, "listeners never run inside a Rust call");
    assert!(rust_seen.borrow().is_empty());
    JsFuture::from(js_sys::Promise::resolve(&JsValue::NULL))
        .await
        .unwrap();
    assert_eq!(*seen.borrow(), 2);
    assert_eq!(rust_seen.borrow().len(), 2);
    drop(sub);
    note.push(&mut ydoc.transact_mut(), "c");
    JsFuture::from(js_sys::Promise::resolve(&JsValue::NULL))
        .await
        .unwrap();
    assert_eq!(*seen.borrow(), 3);
    assert_eq!(
        rust_seen.borrow().len(),
        2,
        "a dropped subscription hears nothing"
    );
}

/// `Doc::transact` holds one transaction open: edits and applied updates made meanwhile
/// commit as one update, and listeners hear about it once, after it commits.
#[wasm_bindgen_test]
fn transact_joins_edits_and_applied_updates_into_one_update() {
    let other = Doc::new(DocConfig::default()).unwrap();
    let t = other.ydoc().get_or_insert_text("note");
    other.edit(|txn| t.insert(txn, 0, "theirs ")).unwrap();
    let theirs = other.encode_state_as_update(None).unwrap();

    let doc = Doc::new(DocConfig {
        client_id: Some(7),
        ..DocConfig::default()
    })
    .unwrap();
    assert_eq!(doc.client_id(), 7);
    let events = Rc::new(RefCell::new(Vec::<(bool, String)>::new()));
    let (e, reader) = (events.clone(), doc.clone());
    let _sub = doc.subscribe_update(move |ev| e.borrow_mut().push((ev.local, text(&reader))));
    let note = doc.ydoc().get_or_insert_text("note");
    doc.transact(Some("my-app"), || {
        doc.apply_update(&theirs).unwrap();
        doc.edit(|txn| note.push(txn, "and mine")).unwrap();
        assert!(events.borrow().is_empty(), "nothing before the commit");
    })
    .unwrap();
    assert_eq!(
        *events.borrow(),
        vec![(true, "theirs and mine".to_string())],
        "one update, local (the app's origin), after the commit"
    );
    // The v2 form round-trips into a third document.
    let v2 = doc.encode_state_as_update_v2(None).unwrap();
    let third = Doc::new(DocConfig::default()).unwrap();
    third.apply_update_v2(&v2).unwrap();
    assert_eq!(text(&third), "theirs and mine");
    assert_eq!(
        third.encode_state_vector().unwrap(),
        doc.encode_state_vector().unwrap()
    );
}

#[wasm_bindgen_test]
fn hostile_update_is_rejected_with_a_typed_error_in_wasm() {
    let d = Doc::new(DocConfig::default()).unwrap();
    let t = d.ydoc().get_or_insert_text("t");
    d.edit(|txn| t.insert(txn, 0, "safe")).unwrap();
    // String content declaring 0xFFFFFFFF bytes: traps yrs 0.28 on wasm32 unless checked first.
    let bad = [1, 1, 1, 0, 4, 1, 1, b't', 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
    let err = d.apply_update(&bad).unwrap_err();
    assert_eq!(err.code(), "INVALID_UPDATE");
    // State vector with 2^25 entries.
    assert!(d
        .encode_state_as_update(Some(&[0x80, 0x80, 0x80, 0x10]))
        .is_err());
    assert_eq!(t.get_string(&d.read().unwrap()), "safe");
    // The same bytes through the JS class: an Error subclass with the same code.
    let js = ysync::js::doc::Doc::new(None).unwrap();
    let err: JsValue = js.apply_update(&bad, None).unwrap_err().into();
    let code = js_sys::Reflect::get(&err, &"code".into()).unwrap();
    assert_eq!(code.as_string().as_deref(), Some("INVALID_UPDATE"));
    assert!(err.is_instance_of::<js_sys::Error>());
}

#[wasm_bindgen_test]
fn wrong_argument_type_is_a_type_error() {
    // The JS class, called as JS calls it (through its methods on the JS object).
    let d: JsValue = ysync::js::doc::Doc::new(None).unwrap().into();
    let call = |obj: &JsValue, method: &str, args: &[JsValue]| -> Result<JsValue, JsValue> {
        let f: js_sys::Function = js_sys::Reflect::get(obj, &method.into())
            .unwrap()
            .unchecked_into();
        f.apply(obj, &args.iter().collect())
    };
    let getter = |obj: &JsValue, name: &str| js_sys::Reflect::get(obj, &name.into()).unwrap();
    let m = call(&d, "getMap", &["m".into()]).unwrap();
    let f = js_sys::Function::new_no_args("return 1");
    let err = call(&m, "set", &["k".into(), f.into()]).unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    // Indices and keys of the wrong type are refused, not coerced by the glue.
    let t = call(&d, "getText", &[]).unwrap();
    for index in [
        JsValue::from_str("0"),
        JsValue::from_f64(0.5),
        JsValue::from_f64(-1.0),
        JsValue::from_f64(f64::NAN),
    ] {
        let err = call(&t, "insert", &[index, "x".into()]).unwrap_err();
        assert!(err.is_instance_of::<js_sys::TypeError>());
    }
    let err = call(&m, "set", &[JsValue::from_f64(5.0), JsValue::TRUE]).unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    assert_eq!(call(&t, "toString", &[]).unwrap().as_string().unwrap(), "");
    assert_eq!(getter(&m, "size").as_f64(), Some(0.0));
}

#[wasm_bindgen_test]
async fn destroy_stops_reconnecting() {
    // Nothing listens on port 9 on loopback: every attempt fails fast.
    let d = Doc::new(DocConfig::default()).unwrap();
    let p = WebsocketProvider::new("ws://127.0.0.1:9", "x", &d, ProviderConfig::default()).unwrap();
    let closes = Rc::new(RefCell::new(0u32));
    let c = closes.clone();
    let _on_close = p.subscribe(move |e| {
        if matches!(e, ProviderEvent::ConnectionClose { .. }) {
            *c.borrow_mut() += 1
        }
    });
    assert!(
        eventually(3_000, || *closes.borrow() >= 2).await,
        "reconnects"
    );
    p.destroy();
    let n = *closes.borrow();
    sleep(1_000).await;
    assert_eq!(*closes.borrow(), n, "no attempts after destroy");
    assert_eq!(p.status().as_str(), "disconnected");
}

/// The persistence through the Rust API: an edit made through yrs is stored, events arrive as
/// Rust values, and a second persistence of the same name restores it.
#[wasm_bindgen_test]
async fn persistence_stores_and_restores_through_the_rust_api() {
    use ysync::yrs::Transact;
    use ysync::{IndexeddbPersistence, PersistenceConfig, PersistenceEvent};
    let name = room("web-idb");
    let d1 = Doc::new(DocConfig::default()).unwrap();
    let p1 = IndexeddbPersistence::new(&name, &d1, PersistenceConfig::default()).unwrap();
    let events = Rc::new(RefCell::new(Vec::<&'static str>::new()));
    let e = events.clone();
    let _sub = p1.subscribe(move |ev| {
        e.borrow_mut().push(match ev {
            PersistenceEvent::Synced => "synced",
            PersistenceEvent::Persisted => "persisted",
            PersistenceEvent::Error(_) => "error",
            PersistenceEvent::Stats(_) => "stats",
        })
    });
    p1.wait_synced().await.unwrap();
    assert!(p1.synced());
    let y1 = d1.ydoc();
    let t1 = y1.get_or_insert_text("note");
    t1.insert(&mut y1.transact_mut(), 0, "kept in IndexedDB");
    p1.wait_persisted().await.unwrap();
    assert!(p1.stats().store.rows >= 1);
    p1.destroy().await.unwrap();
    assert!(p1.destroyed());
    assert_eq!(*events.borrow(), vec!["synced", "persisted"]);

    let d2 = Doc::new(DocConfig::default()).unwrap();
    let p2 = IndexeddbPersistence::new(&name, &d2, PersistenceConfig::default()).unwrap();
    p2.wait_synced().await.unwrap();
    assert_eq!(text(&d2), "kept in IndexedDB");
    p2.clear_data().await.unwrap();
}
