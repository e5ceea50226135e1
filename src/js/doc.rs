//! `Doc`, Yjs's document class, and the module functions on documents and updates
//! (`applyUpdate`, `encodeStateAsUpdate`, `mergeUpdates`...). What it shares with its types
//! and drivers is in `shared`.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yrs::types::ToJson;
use yrs::WriteTxn;

use crate::core::origin::Origin;
use crate::core::validate::{self, Limits};
use crate::driver;
use crate::driver::doc::DocConfig;
use crate::driver::document::{AsDocument, Document};
use crate::js::error::{ApiError, ApiResult};
use crate::js::shared::DocShared;
use crate::js::ts::{opt_string, or_undefined, DocOptionsArg, StringArg, Unknown};
use crate::js::types::{self, XmlFragment, YArray, YMap, YText};
use crate::js::value::from_any;
use yrs::branch::BranchID;

/// Parses `new Doc({ clientID?, maxMemory? })` options.
fn doc_config(opts: &JsValue) -> ApiResult<DocConfig> {
    let mut config = DocConfig::default();
    if !opts.is_object() {
        return Ok(config);
    }
    let id = js_sys::Reflect::get(opts, &"clientID".into()).unwrap_or_default();
    if !id.is_undefined() {
        let n = id.as_f64().unwrap_or(-1.0);
        if !(n >= 0.0 && n <= validate::MAX_CLIENT_ID as f64 && n.fract() == 0.0) {
            return Err(ApiError::InvalidArgument(
                "clientID must be an integer in [0, 2^53)".into(),
            ));
        }
        config.client_id = Some(n as u64);
    }
    let v = js_sys::Reflect::get(opts, &"maxMemory".into()).unwrap_or_default();
    if !v.is_undefined() {
        config.max_memory = match v.as_f64() {
            Some(n) if n >= 0.0 && n.is_finite() => n as u64,
            _ => {
                return Err(ApiError::InvalidArgument(
                    "option maxMemory must be a non-negative number".into(),
                ))
            }
        };
    }
    Ok(config)
}

thread_local! {
    static DOC_HANDOFF: std::cell::RefCell<Option<Rc<DocShared>>> = const { std::cell::RefCell::new(None) };
}

/// The document behind a JS `Doc` passed inside an options object (wasm-bindgen converts only
/// direct arguments): the object's `__ysyncDoc` method hands it over.
pub(crate) fn doc_of(v: &JsValue) -> Option<Rc<DocShared>> {
    let f = js_sys::Reflect::get(v, &"__ysyncDoc".into()).ok()?;
    let f: js_sys::Function = f.dyn_into().ok()?;
    DOC_HANDOFF.with(|h| h.borrow_mut().take());
    f.call0(v).ok()?;
    DOC_HANDOFF.with(|h| h.borrow_mut().take())
}

/// A Yjs-compatible document.
#[wasm_bindgen]
pub struct Doc {
    shared: Rc<DocShared>,
}

impl AsDocument for Doc {
    fn document(&self) -> Rc<Document> {
        self.shared.document().clone()
    }
}

#[wasm_bindgen]
impl Doc {
    /// `new Doc({ clientID?, maxMemory? })`. Text positions count UTF-16 code units, as in Yjs.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: Option<DocOptionsArg>) -> ApiResult<Doc> {
        let config = doc_config(&or_undefined(opts))?;
        Ok(Doc {
            shared: DocShared::new(driver::doc::Doc::new(config)?),
        })
    }

    /// Hands this document to a class that takes it inside an options object (internal).
    #[wasm_bindgen(js_name = __ysyncDoc, skip_typescript)]
    pub fn doc_handoff(&self) {
        DOC_HANDOFF.with(|h| *h.borrow_mut() = Some(self.shared.clone()));
    }

    /// This replica's client id.
    #[wasm_bindgen(getter, js_name = clientID)]
    pub fn client_id(&self) -> f64 {
        self.shared.doc.client_id() as f64
    }

    /// The root text named `name` (default `''`, as in Yjs); the same object on every call
    /// while the app holds one.
    #[wasm_bindgen(js_name = getText, unchecked_return_type = "Text")]
    pub fn get_text_js(&self, name: Option<StringArg>) -> ApiResult<JsValue> {
        let name = opt_string(name, "name")?.unwrap_or_default();
        self.shared.wrapper(
            types::KIND_TEXT,
            BranchID::Root(name.as_str().into()),
            || Ok(self.root_text(&name)?.into()),
        )
    }

    /// The root map named `name` (default `''`).
    #[wasm_bindgen(js_name = getMap, unchecked_return_type = "YMap")]
    pub fn get_map_js(&self, name: Option<StringArg>) -> ApiResult<JsValue> {
        let name = opt_string(name, "name")?.unwrap_or_default();
        self.shared.wrapper(
            types::KIND_MAP,
            BranchID::Root(name.as_str().into()),
            || Ok(self.root_map(&name)?.into()),
        )
    }

    /// The root array named `name` (default `''`).
    #[wasm_bindgen(js_name = getArray, unchecked_return_type = "YArray")]
    pub fn get_array_js(&self, name: Option<StringArg>) -> ApiResult<JsValue> {
        let name = opt_string(name, "name")?.unwrap_or_default();
        self.shared.wrapper(
            types::KIND_ARRAY,
            BranchID::Root(name.as_str().into()),
            || Ok(self.root_array(&name)?.into()),
        )
    }

    /// The root XML fragment named `name` (default `''`).
    #[wasm_bindgen(js_name = getXmlFragment, unchecked_return_type = "XmlFragment")]
    pub fn get_xml_fragment_js(&self, name: Option<StringArg>) -> ApiResult<JsValue> {
        let name = opt_string(name, "name")?.unwrap_or_default();
        self.shared.wrapper(
            types::KIND_XML_FRAGMENT,
            BranchID::Root(name.as_str().into()),
            || Ok(self.root_xml(&name)?.into()),
        )
    }

    /// Runs `f` in one transaction: observers, `update` and `changes` listeners see all of its
    /// edits as one, after `f` returns. `origin` (any value, compared by identity) is the
    /// transaction's origin in events; transactions with an origin are `local`. Nested calls
    /// join the outer transaction. Returns what `f` returns.
    #[wasm_bindgen(unchecked_return_type = "unknown")]
    pub fn transact(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(transaction: TransactionInfo) => unknown")]
        f: &js_sys::Function,
        origin: Option<Unknown>,
    ) -> ApiResult<JsValue> {
        self.shared.transact(f, or_undefined(origin))
    }

    /// `doc.on('update', (update, origin) => …)`: every transaction as a v1 update.
    /// `doc.on('changes', (changes, transaction) => …)`: every transaction as a list of JSON
    /// records of what changed (see `Change` in the typings).
    /// (Typed by overloads in the `Doc` interface below.)
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: &str, f: js_sys::Function) -> ApiResult<()> {
        if event != "update" && event != "changes" {
            return Err(ApiError::InvalidArgument(format!(
                "unknown event '{event}' (expected 'update' or 'changes')"
            )));
        }
        self.shared.hub.listeners.add(event, f);
        if event == "changes" {
            crate::js::types::observe::ensure_feed(&self.shared);
        }
        Ok(())
    }

    /// Removes a listener added with `on`.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.shared.hub.listeners.remove(event, f);
    }

    /// The document's state vector (v1).
    #[wasm_bindgen(js_name = encodeStateVector)]
    pub fn encode_state_vector(&self) -> ApiResult<Vec<u8>> {
        self.shared.doc.encode_state_vector()
    }

    /// Everything the holder of `stateVector` lacks (everything if omitted), as a v1 update.
    #[wasm_bindgen(js_name = encodeStateAsUpdate)]
    pub fn encode_state_as_update(&self, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
        self.shared
            .doc
            .encode_state_as_update(state_vector.as_deref())
    }

    /// Everything the holder of `stateVector` lacks (everything if omitted), as a v2 update
    /// (Yjs's `encodeStateAsUpdateV2`: smaller, for storage and transfer).
    #[wasm_bindgen(js_name = encodeStateAsUpdateV2)]
    pub fn encode_state_as_update_v2(&self, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
        self.shared
            .doc
            .encode_state_as_update_v2(state_vector.as_deref())
    }

    /// Applies a v1 update (checked before yrs sees it); `origin` is passed to listeners and
    /// the transaction is not `local`.
    #[wasm_bindgen(js_name = applyUpdate)]
    pub fn apply_update(&self, update: &[u8], origin: Option<Unknown>) -> ApiResult<()> {
        self.with_applied_origin(or_undefined(origin), |key| {
            self.shared.doc.apply_update_as(key, update)
        })
    }

    /// Applies a v2 update (Yjs's `applyUpdateV2`): checked by the v2 rules, decoded, then
    /// applied as its v1 form through the same checks and clock-order gate as `applyUpdate`.
    #[wasm_bindgen(js_name = applyUpdateV2)]
    pub fn apply_update_v2(&self, update: &[u8], origin: Option<Unknown>) -> ApiResult<()> {
        self.with_applied_origin(or_undefined(origin), |key| {
            self.shared.doc.apply_update_v2_as(key, update)
        })
    }
}

impl Doc {
    /// Runs `apply` with the origin key standing for the JS `origin` of an `applyUpdate`.
    fn with_applied_origin(
        &self,
        origin: JsValue,
        apply: impl FnOnce(&str) -> ApiResult<()>,
    ) -> ApiResult<()> {
        let shared = &self.shared;
        // In an open transaction the update joins it under that transaction's origin, so no
        // key is made for `origin` (a new one is formatted for each call).
        if shared.in_transaction() {
            return apply(shared.doc.applied_key());
        }
        // Not `local`: the origin key has the remote prefix even when `origin` is null.
        let origin = if origin.is_undefined() {
            JsValue::NULL
        } else {
            origin
        };
        let key = shared.acquire_origin(&origin, Origin::Applied);
        let result = apply(&key);
        shared.release_origin(&key);
        result
    }
}

#[wasm_bindgen]
impl Doc {
    /// The root types read so far, as JSON.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ [name: string]: JsonValue }")]
    pub fn to_json(&self) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        Ok(from_any(&self.shared.doc.ydoc().to_json(&txn)))
    }

    /// Stops event delivery: removes every listener and observer.
    pub fn destroy(&self) {
        self.shared.hub.listeners.clear();
        self.shared.remove_observers(|_, _, _| true);
    }
}

impl Doc {
    /// The shared state, for providers.
    pub fn shared(&self) -> Rc<DocShared> {
        self.shared.clone()
    }

    /// The Rust document behind this JS one.
    pub fn rust(&self) -> &driver::doc::Doc {
        &self.shared.doc
    }

    fn root_text(&self, name: &str) -> ApiResult<YText> {
        let text = self.root(|txn| txn.get_or_insert_text(name))?;
        Ok(YText::new(self.shared.clone(), text))
    }

    fn root_map(&self, name: &str) -> ApiResult<YMap> {
        let map = self.root(|txn| txn.get_or_insert_map(name))?;
        Ok(YMap::new(self.shared.clone(), map))
    }

    fn root_array(&self, name: &str) -> ApiResult<YArray> {
        let array = self.root(|txn| txn.get_or_insert_array(name))?;
        Ok(YArray::new(self.shared.clone(), array))
    }

    fn root_xml(&self, name: &str) -> ApiResult<XmlFragment> {
        let xml = self.root(|txn| txn.get_or_insert_xml_fragment(name))?;
        Ok(XmlFragment::new(self.shared.clone(), xml))
    }

    /// One more JS handle of a document (e.g. `awareness.doc`): the same state, so the same
    /// document whichever handle is used.
    pub(crate) fn from_shared(shared: Rc<DocShared>) -> Doc {
        Doc { shared }
    }

    fn root<T>(&self, get: impl FnOnce(&mut yrs::TransactionMut<'_>) -> T) -> ApiResult<T> {
        let t = self.shared.edit(|txn| Ok(get(txn)))?;
        // A new root type: the change feed observes it.
        crate::js::types::observe::ensure_feed(&self.shared);
        Ok(t)
    }
}

/// `applyUpdate(doc, update, origin?)`, as in Yjs.
#[wasm_bindgen(js_name = applyUpdate)]
pub fn apply_update(doc: &Doc, update: &[u8], origin: Option<Unknown>) -> ApiResult<()> {
    doc.apply_update(update, origin)
}

/// `encodeStateAsUpdate(doc, stateVector?)`, as in Yjs.
#[wasm_bindgen(js_name = encodeStateAsUpdate)]
pub fn encode_state_as_update(doc: &Doc, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
    doc.encode_state_as_update(state_vector)
}

/// `applyUpdateV2(doc, update, origin?)`, as in Yjs.
#[wasm_bindgen(js_name = applyUpdateV2)]
pub fn apply_update_v2(doc: &Doc, update: &[u8], origin: Option<Unknown>) -> ApiResult<()> {
    doc.apply_update_v2(update, origin)
}

/// `encodeStateAsUpdateV2(doc, stateVector?)`, as in Yjs.
#[wasm_bindgen(js_name = encodeStateAsUpdateV2)]
pub fn encode_state_as_update_v2(doc: &Doc, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
    doc.encode_state_as_update_v2(state_vector)
}

/// `encodeStateVector(doc)`, as in Yjs.
#[wasm_bindgen(js_name = encodeStateVector)]
pub fn encode_state_vector(doc: &Doc) -> ApiResult<Vec<u8>> {
    doc.encode_state_vector()
}

/// `mergeUpdates(updates)`: one v1 update holding all of them (each checked first).
#[wasm_bindgen(js_name = mergeUpdates)]
pub fn merge_updates(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array[]")] updates: js_sys::Array,
) -> ApiResult<Vec<u8>> {
    let mut all = Vec::with_capacity(updates.length() as usize);
    for u in updates.iter() {
        let bytes = u
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| ApiError::InvalidArgument("mergeUpdates expects Uint8Array[]".into()))?
            .to_vec();
        validate::update_v1(&bytes, &Limits::default())?;
        all.push(bytes);
    }
    crate::core::merge::merge_v1(&all)
        .map_err(|e| crate::core::error::DecodeError::Yrs(e.to_string()).into())
}

/// `diffUpdate(update, stateVector)`: the part of `update` the holder of `stateVector` lacks.
#[wasm_bindgen(js_name = diffUpdate)]
pub fn diff_update(update: &[u8], state_vector: &[u8]) -> ApiResult<Vec<u8>> {
    validate::update_v1(update, &Limits::default())?;
    validate::state_vector(state_vector)?;
    yrs::diff_updates_v1(update, state_vector)
        .map_err(|e| crate::core::error::DecodeError::Yrs(e.to_string()).into())
}

#[wasm_bindgen(typescript_custom_section)]
const DOC_TS: &str = r#"
/** Options of `new Doc()`. */
export interface DocOptions {
  /** This replica's client id (an integer below 2^53); a random 32-bit number if omitted, as in Yjs. */
  clientID?: number;
  /** Memory budget of the document, bytes (default 1 GiB of the 4 GiB a wasm instance can
   * have): an update from the server, storage or `applyUpdate` whose estimated cost would pass
   * it is refused whole, with a MEMORY_BUDGET error (provider `error` event) or an
   * `UpdateError` thrown by `applyUpdate`, instead of exhausting the instance's memory. */
  maxMemory?: number;
}

/** What `transact` callbacks, observers and `changes` listeners learn about a transaction. */
export interface TransactionInfo {
  /** The origin given to `transact` / `applyUpdate`, a provider's origin, or null. */
  origin: unknown;
  /** False for updates applied from elsewhere (server, other tabs, storage, `applyUpdate`). */
  local: boolean;
}

/** One record of the change feed (`doc.on('changes', …)`): plain JSON. */
export type Change =
  | { kind: 'text'; path: (string | number)[]; delta: TextDelta[] }
  | { kind: 'array'; path: (string | number)[]; delta: ArrayDelta<JsonValue>[] }
  | { kind: 'set'; path: (string | number)[]; value: JsonValue; oldValue?: JsonValue }
  | { kind: 'delete'; path: (string | number)[]; oldValue: JsonValue };

/** `doc.on` / `doc.off`, one overload per event. */
export interface Doc {
  /** Every transaction as a v1 update, with its origin. */
  on(event: 'update', f: (update: Uint8Array, origin: unknown) => void): void;
  /** Every transaction as a list of JSON records of what changed. */
  on(event: 'changes', f: (changes: Change[], transaction: TransactionInfo) => void): void;
  off(event: 'update', f: (update: Uint8Array, origin: unknown) => void): void;
  off(event: 'changes', f: (changes: Change[], transaction: TransactionInfo) => void): void;
}

/** Options of `new UndoManager()`. */
export interface UndoManagerOptions {
  /** Edits closer together than this (ms) are one undo step. Default 500. */
  captureTimeout?: number;
  /** Transaction origins whose edits are undoable (compared by identity). Default `[null]`:
   * edits made without an origin. `null` cannot be mixed with other origins. */
  trackedOrigins?: unknown[] | Set<unknown>;
}

/** A JSON value as read from the document (binary as Uint8Array). */
export type JsonValue =
  | null | boolean | number | bigint | string | Uint8Array
  | JsonValue[] | { [key: string]: JsonValue };
"#;
