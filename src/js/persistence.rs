//! `IndexeddbPersistence` for JS, with y-indexeddb's names: JS options parsed into a
//! [`PersistenceConfig`], the driver's events turned into JS events, errors into JS `Error`s.
//! The behaviour is the driver's (`driver::persistence`).

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::driver::persistence::{self as driver, PersistenceConfig, PersistenceEvent};
use crate::driver::subscribers::Subscription;
use crate::js::doc::Doc;
use crate::js::error::{to_js, ApiError, ApiResult};
use crate::js::events::Listeners;
use crate::js::keepalive;
use crate::js::promise::promise;
use crate::js::shared::DocShared;
use crate::js::value::to_js_json;

/// `new IndexeddbPersistence(name, doc, options)`. Every option is checked before anything is
/// set up (an error leaves nothing behind).
fn parse_options(options: &JsValue) -> ApiResult<(PersistenceConfig, Option<log::LevelFilter>)> {
    let get = |k: &str| {
        if options.is_object() {
            js_sys::Reflect::get(options, &k.into()).unwrap_or_default()
        } else {
            JsValue::UNDEFINED
        }
    };
    let num = |k: &str| -> ApiResult<Option<f64>> {
        let v = get(k);
        if v.is_undefined() {
            return Ok(None);
        }
        match v.as_f64() {
            Some(n) if n >= 0.0 && n.is_finite() => Ok(Some(n)),
            _ => Err(ApiError::InvalidArgument(format!(
                "option {k} must be a non-negative number"
            ))),
        }
    };
    let mut cfg = PersistenceConfig::default();
    if let Some(n) = num("compactRows")? {
        cfg.store.compact_rows = n.max(1.0) as usize;
    }
    if let Some(n) = num("compactBytes")? {
        cfg.store.compact_bytes = n.max(1.0) as usize;
    }
    cfg.stats_interval_ms = num("statsInterval")?.unwrap_or(0.0) as u64;
    cfg.persist = get("persist").as_bool() == Some(true);
    let level = crate::js::provider::log_level(&get("logLevel"))?;
    Ok((cfg, level))
}

/// Calls the JS listeners of `e` (y-indexeddb's event names and arguments).
fn dispatch(listeners: &Listeners, e: &PersistenceEvent) {
    match e {
        PersistenceEvent::Synced => listeners.call("synced", &[JsValue::TRUE]),
        PersistenceEvent::Persisted => listeners.call("persisted", &[JsValue::TRUE]),
        PersistenceEvent::Error(err) => listeners.call("error", &[to_js(err)]),
        PersistenceEvent::Stats(s) => listeners.call("stats", &[to_js_json(s)]),
    }
}

/// The driver and the JS listeners it feeds, kept alive until `destroy()` (see `keepalive`).
struct Shell {
    /// Dropped first: no JS call after the driver is gone.
    _events: Subscription<PersistenceEvent>,
    listeners: Rc<Listeners>,
    persistence: driver::IndexeddbPersistence,
    doc: Rc<DocShared>,
}

impl Shell {
    /// The persistence stopped: its origins are forgotten and it may go.
    fn release(self: &Rc<Self>) {
        for k in self.persistence.applied_origins() {
            self.doc.unregister_origin(k.as_bytes());
        }
        keepalive::release(self);
    }
}

/// Keeps a `Doc` in IndexedDB: loads it on start, writes every change in batches.
#[wasm_bindgen]
pub struct IndexeddbPersistence {
    shell: Rc<Shell>,
    /// The origin of the transactions that load stored state and other tabs' rows.
    origin: std::cell::RefCell<JsValue>,
}

#[wasm_bindgen]
impl IndexeddbPersistence {
    /// `new IndexeddbPersistence(name, doc, { persist?, compactRows?, compactBytes? })`: stores
    /// every change until `destroy()`, whether or not the app keeps a reference to it (as
    /// y-indexeddb's).
    #[wasm_bindgen(constructor)]
    pub fn new(
        name: &str,
        doc: &Doc,
        options: Option<crate::js::ts::PersistenceOptionsArg>,
    ) -> ApiResult<IndexeddbPersistence> {
        let (cfg, level) = parse_options(&crate::js::ts::or_undefined(options))?;
        if let Some(level) = level {
            crate::web::log::set_level(level);
        }
        let shared = doc.shared();
        let listeners: Rc<Listeners> = Rc::default();
        let persistence = driver::IndexeddbPersistence::new(name, shared.document(), cfg)?;
        let l = listeners.clone();
        let events = persistence.subscribe(move |e| dispatch(&l, e));
        // Transactions that apply stored rows carry `persistence.origin` in events.
        let origin: JsValue = js_sys::Object::freeze(&js_sys::Object::new()).into();
        for k in persistence.applied_origins() {
            shared.register_origin(k.as_bytes(), origin.clone());
        }
        let shell = Rc::new(Shell {
            _events: events,
            listeners,
            persistence,
            doc: shared,
        });
        keepalive::keep(&shell);
        Ok(IndexeddbPersistence {
            shell,
            origin: origin.into(),
        })
    }

    /// True once the stored state was loaded into the document.
    #[wasm_bindgen(getter)]
    pub fn synced(&self) -> bool {
        self.shell.persistence.synced()
    }

    /// A snapshot of the storage metrics: `rows`, `bytes`, `pendingUpdates`, `pendingBytes`,
    /// `writes`, `compactions`, `writeFailures`, `lastWriteMs`, `loadMs`, `errors` (by
    /// DOMException name).
    #[wasm_bindgen(unchecked_return_type = "PersistenceStats")]
    pub fn stats(&self) -> JsValue {
        to_js_json(&self.shell.persistence.stats())
    }

    /// The database name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.shell.persistence.name().to_string()
    }

    /// The origin of the transactions that apply stored state (and other tabs' rows), as
    /// events see it: `transaction.origin === persistence.origin`.
    #[wasm_bindgen(getter, unchecked_return_type = "object")]
    pub fn origin(&self) -> JsValue {
        self.origin.borrow().clone()
    }

    /// Makes `value` the origin events see (internal: the `ysync/yjs` entry's persistence,
    /// as y-indexeddb passes itself).
    #[wasm_bindgen(js_name = __adoptOrigin, skip_typescript)]
    pub fn adopt_origin(&self, value: JsValue) {
        for k in self.shell.persistence.applied_origins() {
            self.shell.doc.register_origin(k.as_bytes(), value.clone());
        }
        *self.origin.borrow_mut() = value;
    }

    /// Resolves once the stored state is loaded into the document.
    #[wasm_bindgen(js_name = whenSynced, unchecked_return_type = "Promise<void>")]
    pub fn when_synced(&self) -> js_sys::Promise {
        promise(JsValue::UNDEFINED, |s| {
            self.shell.persistence.when_synced(s)
        })
    }

    /// Resolves once every change made before the call is durable (its IndexedDB transaction
    /// completed).
    #[wasm_bindgen(js_name = whenPersisted, unchecked_return_type = "Promise<void>")]
    pub fn when_persisted(&self) -> js_sys::Promise {
        promise(JsValue::UNDEFINED, |s| {
            self.shell.persistence.when_persisted(s)
        })
    }

    /// `on('synced' | 'persisted' | 'error' | 'stats', cb)`.
    pub fn on(&self, event: &str, f: js_sys::Function) {
        self.shell.listeners.add(event, f);
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.shell.listeners.remove(event, f);
    }

    /// Reads a custom value.
    #[wasm_bindgen(unchecked_return_type = "unknown")]
    pub async fn get(
        &self,
        #[wasm_bindgen(unchecked_param_type = "IDBValidKey")] key: JsValue,
    ) -> Result<JsValue, JsValue> {
        Ok(self.shell.persistence.get(&key).await?)
    }

    /// Stores a custom value.
    pub async fn set(
        &self,
        #[wasm_bindgen(unchecked_param_type = "IDBValidKey")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
    ) -> Result<(), JsValue> {
        Ok(self.shell.persistence.set(&key, &value).await?)
    }

    /// Deletes a custom value.
    pub async fn del(
        &self,
        #[wasm_bindgen(unchecked_param_type = "IDBValidKey")] key: JsValue,
    ) -> Result<(), JsValue> {
        Ok(self.shell.persistence.del(&key).await?)
    }

    /// Stops persisting and deletes the database.
    #[wasm_bindgen(js_name = clearData)]
    pub async fn clear_data(&self) -> Result<(), JsValue> {
        let shell = self.shell.clone();
        let r = shell.persistence.clear_data().await;
        shell.release();
        Ok(r?)
    }

    /// Writes what is pending, then stops observing the document and closes the database.
    pub async fn destroy(&self) -> Result<(), JsValue> {
        let shell = self.shell.clone();
        shell.persistence.destroy().await?;
        shell.release();
        Ok(())
    }
}

#[wasm_bindgen(typescript_custom_section)]
const PERSISTENCE_TS: &str = r#"
/** Options of `new IndexeddbPersistence(name, doc, options)`. */
export interface IndexeddbPersistenceOptions {
  /** Ask the browser for persistent storage (`navigator.storage.persist()`). */
  persist?: boolean;
  /** Compact the stored rows into one past this many rows (default 500). */
  compactRows?: number;
  /** ... or past this many stored bytes. */
  compactBytes?: number;
  /** Emit a `stats` event this often, ms (default 0: off). */
  statsInterval?: number;
  /** Turn the debug log on. */
  logLevel?: LogLevel;
}

/** `persistence.stats()` and its `stats` event. */
export interface PersistenceStats {
  rows: number;
  bytes: number;
  pendingUpdates: number;
  pendingBytes: number;
  writes: number;
  compactions: number;
  writeFailures: number;
  /** Undecodable rows moved out of the store (into its `custom` store, as one array under `ysync:quarantine:<key of the first>`). */
  quarantined: number;
  lastWriteMs: number | null;
  loadMs: number | null;
  /** Storage failures by DOMException name (QuotaExceededError, BlockedError...). */
  errors: Record<string, number>;
}
"#;
