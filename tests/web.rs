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
use ysync::{Doc, ProviderConfig, ProviderEvent, WebsocketProvider};

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
    doc.get_text(Some("note".into()))
        .unwrap()
        .to_string_js()
        .unwrap()
}

#[wasm_bindgen_test]
async fn two_clients_sync_through_the_server_and_get_acknowledged() {
    let room = room("web-two");
    let d1 = Doc::new(None).unwrap();
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

    d1.get_text(Some("note".into()))
        .unwrap()
        .insert(0.into(), "hello from ysync".into(), None)
        .unwrap();
    assert!(p1.unsynced_changes() > 0);
    with_timeout(promise(|s| p1.when_acknowledged(s)), 5_000)
        .await
        .unwrap();
    assert_eq!(p1.unsynced_changes(), 0);

    let d2 = Doc::new(None).unwrap();
    let p2 = WebsocketProvider::new(server(), &room, &d2, ProviderConfig::default()).unwrap();
    with_timeout(promise(|s| p2.when_synced(s)), 5_000)
        .await
        .unwrap();
    assert_eq!(text(&d2), "hello from ysync");

    let m = d2.get_map(Some("m".into())).unwrap();
    m.set("k".into(), JsValue::from_str("v")).unwrap();
    d2.get_array(Some("list".into()))
        .unwrap()
        .push(js_sys::Array::of2(&1.5.into(), &"two".into()))
        .unwrap();
    let d1m = d1.get_map(Some("m".into())).unwrap();
    assert!(
        eventually(5_000, || d1m
            .get("k".into())
            .unwrap()
            .as_string()
            .as_deref()
            == Some("v"))
        .await
    );
    let list = d1.get_array(Some("list".into())).unwrap();
    assert!(eventually(5_000, || list.length().unwrap() == 2).await);
    assert_eq!(*statuses.borrow(), vec!["connecting", "connected"]);
    p1.destroy();
    p2.destroy();
}

#[wasm_bindgen_test]
async fn update_events_fire_for_remote_changes_after_the_transaction() {
    let room = room("web-events");
    let d1 = Doc::new(None).unwrap();
    let p1 = WebsocketProvider::new(server(), &room, &d1, ProviderConfig::default()).unwrap();
    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    let d1_text = d1.get_text(Some("note".into())).unwrap();
    // Reading the document inside the callback works: no transaction is open any more.
    let on_update = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_u: JsValue, _o: JsValue| {
        seen2.borrow_mut().push(d1_text.to_string_js().unwrap());
    });
    d1.on(
        "update",
        on_update
            .as_ref()
            .unchecked_ref::<js_sys::Function>()
            .clone(),
    )
    .unwrap();
    let d2 = Doc::new(None).unwrap();
    let p2 = WebsocketProvider::new(server(), &room, &d2, ProviderConfig::default()).unwrap();
    // The async Rust API.
    p1.wait_synced().await.unwrap();
    p2.wait_synced().await.unwrap();
    d2.get_text(Some("note".into()))
        .unwrap()
        .insert(0.into(), "remote".into(), None)
        .unwrap();
    p2.wait_acknowledged().await.unwrap();
    assert!(eventually(5_000, || seen.borrow().iter().any(|s| s == "remote")).await);
    p1.destroy();
    p2.destroy();
}

/// A Rust app edits through yrs directly: the document's JS listeners hear about it in the next
/// microtask, with no flush called by hand.
#[wasm_bindgen_test]
async fn edits_through_yrs_reach_listeners_without_a_manual_flush() {
    use ysync::yrs::{Text, Transact};
    let doc = Doc::new(None).unwrap();
    let seen = Rc::new(RefCell::new(0));
    let s = seen.clone();
    let on_update = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |_u: JsValue, _o: JsValue| {
        *s.borrow_mut() += 1;
    });
    doc.on(
        "update",
        on_update
            .as_ref()
            .unchecked_ref::<js_sys::Function>()
            .clone(),
    )
    .unwrap();
    let ydoc = doc.shared().doc.clone();
    let note = ydoc.get_or_insert_text("note");
    note.push(&mut ydoc.transact_mut(), "a");
    note.push(&mut ydoc.transact_mut(), "b");
    assert_eq!(*seen.borrow(), 0, "listeners never run inside a Rust call");
    JsFuture::from(js_sys::Promise::resolve(&JsValue::NULL))
        .await
        .unwrap();
    assert_eq!(*seen.borrow(), 2);
}

#[wasm_bindgen_test]
fn hostile_update_is_rejected_with_a_typed_error_in_wasm() {
    let d = Doc::new(None).unwrap();
    d.get_text(Some("t".into()))
        .unwrap()
        .insert(0.into(), "safe".into(), None)
        .unwrap();
    // String content declaring 0xFFFFFFFF bytes: traps yrs 0.28 on wasm32 unless checked first.
    let bad = [1, 1, 1, 0, 4, 1, 1, b't', 0xff, 0xff, 0xff, 0xff, 0x0f, 0];
    let err: JsValue = d.apply_update(&bad, None).unwrap_err().into();
    let code = js_sys::Reflect::get(&err, &"code".into()).unwrap();
    assert_eq!(code.as_string().as_deref(), Some("INVALID_UPDATE"));
    assert!(err.is_instance_of::<js_sys::Error>());
    // State vector with 2^25 entries.
    assert!(d
        .encode_state_as_update(Some(vec![0x80, 0x80, 0x80, 0x10]))
        .is_err());
    assert_eq!(
        d.get_text(Some("t".into()))
            .unwrap()
            .to_string_js()
            .unwrap(),
        "safe"
    );
}

#[wasm_bindgen_test]
fn wrong_argument_type_is_a_type_error() {
    let d = Doc::new(None).unwrap();
    let m = d.get_map(Some("m".into())).unwrap();
    let f = js_sys::Function::new_no_args("return 1");
    let err: JsValue = m.set("k".into(), f.into()).unwrap_err().into();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    // Indices and keys of the wrong type are refused, not coerced by the glue.
    let t = d.get_text(None).unwrap();
    for index in [
        JsValue::from_str("0"),
        JsValue::from_f64(0.5),
        JsValue::from_f64(-1.0),
        JsValue::from_f64(f64::NAN),
    ] {
        let err: JsValue = t
            .insert(index.unchecked_into(), "x".into(), None)
            .unwrap_err()
            .into();
        assert!(err.is_instance_of::<js_sys::TypeError>());
    }
    let err: JsValue = m
        .set(JsValue::from_f64(5.0).unchecked_into(), JsValue::TRUE)
        .unwrap_err()
        .into();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    assert_eq!(t.to_string_js().unwrap(), "");
    assert_eq!(m.size().unwrap(), 0);
}

#[wasm_bindgen_test]
async fn destroy_stops_reconnecting() {
    // Nothing listens on port 9 on loopback: every attempt fails fast.
    let d = Doc::new(None).unwrap();
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
    use ysync::yrs::{GetString, Text, Transact};
    use ysync::{IndexeddbPersistence, PersistenceConfig, PersistenceEvent};
    let name = room("web-idb");
    let d1 = Doc::new(None).unwrap();
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
    let y1 = d1.shared().doc.clone();
    let t1 = y1.get_or_insert_text("note");
    t1.insert(&mut y1.transact_mut(), 0, "kept in IndexedDB");
    p1.wait_persisted().await.unwrap();
    assert!(p1.stats().store.rows >= 1);
    p1.destroy().await.unwrap();
    assert!(p1.destroyed());
    assert_eq!(*events.borrow(), vec!["synced", "persisted"]);

    let d2 = Doc::new(None).unwrap();
    let p2 = IndexeddbPersistence::new(&name, &d2, PersistenceConfig::default()).unwrap();
    p2.wait_synced().await.unwrap();
    let y2 = d2.shared().doc.clone();
    let t2 = y2.get_or_insert_text("note");
    assert_eq!(t2.get_string(&y2.transact()), "kept in IndexedDB");
    p2.clear_data().await.unwrap();
}
