//! A Rust web app (Leptos, Yew, Dioxus...) using ysync from Rust: the same document, storage
//! and sync as the npm package, with yrs's Rust types for the document itself.
//!
//! Built (not run) by the test command: `cargo build --target wasm32-unknown-unknown --example
//! rust_app`. In an app, call `start()` from your entry point.

#[cfg(target_arch = "wasm32")]
mod app {
    use wasm_bindgen_futures::spawn_local;
    use ysync::yrs::{GetString, Map, Observable, Text, Transact};
    use ysync::{
        Doc, IndexeddbPersistence, PersistenceConfig, ProviderConfig, ProviderEvent,
        WebsocketProvider,
    };

    /// Opens the note, restores it from IndexedDB, syncs it with a y-websocket server, and
    /// edits it with yrs's typed API.
    pub fn start() -> Result<(), wasm_bindgen::JsValue> {
        let doc = Doc::new(None)?;
        let persistence = IndexeddbPersistence::new("notes", &doc, PersistenceConfig::default())?;
        let provider = WebsocketProvider::new(
            "ws://127.0.0.1:1234",
            "notes",
            &doc,
            ProviderConfig::default(),
        )?;
        // Rust events, with no borrow held: the listener may call the provider.
        let status = provider.subscribe(|e| {
            if let ProviderEvent::Status(s) = e {
                log::info!("sync: {}", s.as_str());
            }
        });
        // The yrs document behind it: every yrs type and transaction, in Rust.
        let ydoc = doc.shared().doc.clone();
        let note = ydoc.get_or_insert_text("note");
        let meta = ydoc.get_or_insert_map("meta");
        // A yrs observer: Rust closures, Rust event types.
        note.observe("my-app", |txn, event| {
            log::info!("note changed: {:?}", event.delta(txn));
        });
        spawn_local(async move {
            // Stored state first, then the edit, then wait until the server has it.
            let _ = persistence.wait_synced().await;
            {
                let mut txn = ydoc.transact_mut_with("my-app");
                note.push(&mut txn, "hello from Rust");
                meta.insert(&mut txn, "edited", true);
            }
            // JS listeners on the same document (if any) hear about it in the next microtask.
            let _ = provider.wait_acknowledged().await;
            log::info!("on the server: {}", note.get_string(&ydoc.transact()));
            let _ = persistence.destroy().await;
            drop(status);
            drop(provider); // disconnects, as `destroy()`
        });
        Ok(())
    }
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    if let Err(e) = app::start() {
        web_sys::console::error_1(&e);
    }
}
