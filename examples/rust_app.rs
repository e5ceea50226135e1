//! A Rust web app (Leptos, Yew, Dioxus...) using ysync from Rust: the same document, storage
//! and sync as the npm package, with yrs's Rust types for the document itself.
//!
//! Built (not run) by the test command: `cargo build --target wasm32-unknown-unknown --example
//! rust_app`. In an app, call `start()` from your entry point.

#[cfg(target_arch = "wasm32")]
mod app {
    use wasm_bindgen_futures::spawn_local;
    use ysync::yrs::{GetString, Map, Observable, Text};
    use ysync::{
        Doc, DocConfig, IndexeddbPersistence, PersistenceConfig, ProviderConfig, ProviderEvent,
        WebsocketProvider,
    };

    /// Opens the note, restores it from IndexedDB, syncs it with a y-websocket server, and
    /// edits it with yrs's typed API.
    pub fn start() -> Result<(), ysync::Error> {
        let doc = Doc::new(DocConfig::default())?;
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
        // Every change as a v1 update, after its transaction, wherever it came from.
        let updates = doc.subscribe_update(|e| {
            log::info!("{} bytes, local: {}", e.update.len(), e.local);
        });
        // The yrs types of the document: every yrs method, in Rust.
        let note = doc.ydoc().get_or_insert_text("note");
        let meta = doc.ydoc().get_or_insert_map("meta");
        // A yrs observer: Rust closures, Rust event types.
        note.observe("my-app", |txn, event| {
            log::info!("note changed: {:?}", event.delta(txn));
        });
        spawn_local(async move {
            // Stored state first, then the edit, then wait until the server has it.
            let _ = persistence.wait_synced().await;
            // One transaction (one update, one event).
            let _ = doc.edit(|txn| {
                note.push(txn, "hello from Rust");
                meta.insert(txn, "edited", true);
            });
            let _ = provider.wait_acknowledged().await;
            if let Ok(txn) = doc.read() {
                log::info!("on the server: {}", note.get_string(&txn));
            }
            let _ = persistence.destroy().await;
            drop((status, updates));
            drop(provider); // disconnects, as `destroy()`
        });
        Ok(())
    }
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    if let Err(e) = app::start() {
        web_sys::console::error_1(&e.to_string().into());
    }
}
