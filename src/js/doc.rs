//! `Doc`, `Text`, `YMap`, `YArray`: the document surface, with Yjs's names.
//!
//! JS callbacks never run while Rust holds a borrow or a yrs transaction: yrs observers only
//! queue events, and the queue is flushed after the call that caused them returns.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::{
    Array as _, ArrayRef, GetString, Map as _, MapRef, OffsetKind, Options, ReadTxn, Text as _,
    TextRef, Transact,
};

use crate::core::position;
use crate::core::validate::{self, Limits};
use crate::js::error::{ApiError, ApiResult};
use crate::js::value::{from_any, from_out, to_any};

const OBSERVER_KEY: &str = "ysync-js-doc";

/// Local storage attached to a document, as seen by providers: where to keep the state vector
/// the server acknowledged, per server room.
pub trait LocalStore {
    /// Resolves (once the stored state is loaded) to the stored acknowledged state vector for
    /// `key` (Uint8Array), or undefined.
    fn acknowledged(&self, key: &str) -> js_sys::Promise;
    /// Stores the acknowledged state vector for `key`.
    fn save_acknowledged(&self, key: &str, state_vector: &[u8]);
    /// How many storage operations failed so far (each is reported as an event by the store).
    fn failures(&self) -> u64;
}

/// Queued `update` event: the update and the transaction origin.
type Pending = (Vec<u8>, Option<Vec<u8>>);

/// State shared by a `Doc` and the providers attached to it.
pub struct DocShared {
    /// The yrs document.
    pub doc: yrs::Doc,
    queue: Rc<RefCell<VecDeque<Pending>>>,
    listeners: RefCell<Vec<(String, js_sys::Function)>>,
    /// JS values standing for transaction origins, by origin bytes.
    origins: RefCell<HashMap<Vec<u8>, JsValue>>,
    flushing: Cell<bool>,
    next_origin: Cell<u64>,
    local_store: RefCell<Option<std::rc::Weak<dyn LocalStore>>>,
    /// Blocks from `applyUpdate` and storage that wait for a gap to fill.
    pub gate: RefCell<crate::core::gate::Gate>,
}

impl DocShared {
    fn new(doc: yrs::Doc) -> Rc<Self> {
        let queue: Rc<RefCell<VecDeque<Pending>>> = Rc::default();
        let q = queue.clone();
        // A new document has no open transaction, so subscribing cannot fail.
        let _ = doc.observe_update_v1(OBSERVER_KEY, move |txn, e| {
            let origin = txn.origin().map(|o| o.as_ref().to_vec());
            q.borrow_mut().push_back((e.update.clone(), origin));
        });
        Rc::new(DocShared {
            doc,
            queue,
            listeners: RefCell::default(),
            origins: RefCell::default(),
            flushing: Cell::new(false),
            next_origin: Cell::new(1),
            local_store: RefCell::new(None),
            gate: RefCell::default(),
        })
    }

    /// Registers a JS value to stand for transactions with `origin` in events.
    pub fn register_origin(&self, origin: &str, value: JsValue) {
        self.origins
            .borrow_mut()
            .insert(origin.as_bytes().to_vec(), value);
    }

    /// Attaches local storage (the last one attached wins).
    pub fn set_local_store(&self, store: std::rc::Weak<dyn LocalStore>) {
        *self.local_store.borrow_mut() = Some(store);
    }

    /// The attached local storage, if any is alive.
    pub fn local_store(&self) -> Option<Rc<dyn LocalStore>> {
        self.local_store.borrow().as_ref().and_then(|w| w.upgrade())
    }

    /// Forgets a registered origin.
    pub fn unregister_origin(&self, origin: &str) {
        self.origins.borrow_mut().remove(origin.as_bytes());
    }

    /// Calls the JS `update` listeners for every queued update. Re-entrant calls (a listener
    /// that edits the document) only add to the queue the outer call is draining.
    pub fn flush(&self) {
        if self.flushing.replace(true) {
            return;
        }
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some((update, origin)) = next else { break };
            let listeners: Vec<js_sys::Function> = self
                .listeners
                .borrow()
                .iter()
                .filter(|(n, _)| n == "update")
                .map(|(_, f)| f.clone())
                .collect();
            if listeners.is_empty() {
                continue;
            }
            let origin = match origin {
                None => JsValue::NULL,
                Some(o) => self
                    .origins
                    .borrow()
                    .get(&o)
                    .cloned()
                    .unwrap_or_else(|| JsValue::from_str(&String::from_utf8_lossy(&o))),
            };
            let bytes: JsValue = js_sys::Uint8Array::from(&update[..]).into();
            for f in listeners {
                if let Err(e) = f.call2(&JsValue::NULL, &bytes, &origin) {
                    // A throwing listener must not stop the others or leave the queue stuck.
                    web_sys::console::error_2(&"ysync: an update listener threw".into(), &e);
                }
            }
        }
        self.flushing.set(false);
    }

    /// Runs `f` in a write transaction, then delivers the events it queued.
    fn edit<T>(
        &self,
        f: impl FnOnce(&mut yrs::TransactionMut<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let out = {
            let mut txn = self.write()?;
            f(&mut txn)
        };
        self.flush();
        out
    }

    fn write(&self) -> ApiResult<yrs::TransactionMut<'_>> {
        self.doc.try_transact_mut().map_err(|_| ApiError::Busy)
    }

    fn read(&self) -> ApiResult<yrs::Transaction<'_>> {
        self.doc.try_transact().map_err(|_| ApiError::Busy)
    }
}

impl Drop for DocShared {
    fn drop(&mut self) {
        let _ = self.doc.unobserve_update_v1(OBSERVER_KEY);
    }
}

/// A Yjs-compatible document.
#[wasm_bindgen]
pub struct Doc {
    shared: Rc<DocShared>,
}

#[wasm_bindgen]
impl Doc {
    /// `new Doc({ clientID? })`. Text positions count UTF-16 code units, as in Yjs.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: Option<js_sys::Object>) -> ApiResult<Doc> {
        let mut o = Options {
            offset_kind: OffsetKind::Utf16,
            ..Options::default()
        };
        if let Some(opts) = opts {
            let id = js_sys::Reflect::get(&opts, &"clientID".into()).unwrap_or_default();
            if let Some(n) = id.as_f64() {
                if !(n >= 0.0 && n <= validate::MAX_CLIENT_ID as f64 && n.fract() == 0.0) {
                    return Err(ApiError::InvalidArgument(
                        "clientID must be an integer in [0, 2^53)".into(),
                    ));
                }
                o.client_id = yrs::ClientID::new(n as u64);
            }
        }
        Ok(Doc {
            shared: DocShared::new(yrs::Doc::with_options(o)),
        })
    }

    /// This replica's client id.
    #[wasm_bindgen(getter, js_name = clientID)]
    pub fn client_id(&self) -> f64 {
        self.shared.doc.client_id().get() as f64
    }

    /// The root text named `name`.
    #[wasm_bindgen(js_name = getText)]
    pub fn get_text(&self, name: &str) -> ApiResult<Text> {
        let _busy = self.shared.write()?;
        drop(_busy);
        Ok(Text {
            shared: self.shared.clone(),
            text: self.shared.doc.get_or_insert_text(name),
        })
    }

    /// The root map named `name`.
    #[wasm_bindgen(js_name = getMap)]
    pub fn get_map(&self, name: &str) -> ApiResult<YMap> {
        drop(self.shared.write()?);
        Ok(YMap {
            shared: self.shared.clone(),
            map: self.shared.doc.get_or_insert_map(name),
        })
    }

    /// The root array named `name`.
    #[wasm_bindgen(js_name = getArray)]
    pub fn get_array(&self, name: &str) -> ApiResult<YArray> {
        drop(self.shared.write()?);
        Ok(YArray {
            shared: self.shared.clone(),
            array: self.shared.doc.get_or_insert_array(name),
        })
    }

    /// `doc.on('update', (update: Uint8Array, origin) => …)`.
    pub fn on(&self, event: &str, f: js_sys::Function) -> ApiResult<()> {
        if event != "update" {
            return Err(ApiError::InvalidArgument(format!(
                "unknown event '{event}' (expected 'update')"
            )));
        }
        self.shared
            .listeners
            .borrow_mut()
            .push((event.to_string(), f));
        Ok(())
    }

    /// Removes a listener added with `on`.
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.shared
            .listeners
            .borrow_mut()
            .retain(|(n, g)| !(n == event && g == f));
    }

    /// The document's state vector (v1).
    #[wasm_bindgen(js_name = encodeStateVector)]
    pub fn encode_state_vector(&self) -> ApiResult<Vec<u8>> {
        let txn = self.shared.read()?;
        Ok(crate::core::frame::encode_state_vector(&txn.state_vector()))
    }

    /// Everything the holder of `stateVector` lacks (everything if omitted), as a v1 update.
    #[wasm_bindgen(js_name = encodeStateAsUpdate)]
    pub fn encode_state_as_update(&self, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
        let sv = match state_vector {
            Some(b) => {
                validate::state_vector(&b)?;
                yrs::StateVector::decode_v1(&b)
                    .map_err(|e| crate::core::error::DecodeError::Yrs(e.to_string()))?
            }
            None => yrs::StateVector::default(),
        };
        let txn = self.shared.read()?;
        Ok(txn.encode_state_as_update_v1(&sv))
    }

    /// Applies a v1 update (checked before yrs sees it); `origin` is passed to listeners.
    #[wasm_bindgen(js_name = applyUpdate)]
    pub fn apply_update(&self, update: &[u8], origin: JsValue) -> ApiResult<()> {
        validate::update_v1(update, &Limits::default())?;
        let key = if origin.is_undefined() || origin.is_null() {
            None
        } else {
            let n = self.shared.next_origin.get();
            self.shared.next_origin.set(n + 1);
            let k = format!("ysync-js-origin-{n}");
            self.shared.register_origin(&k, origin);
            Some(k)
        };
        let result = {
            let mut txn = match &key {
                Some(k) => self
                    .shared
                    .doc
                    .try_transact_mut_with(k.as_str())
                    .map_err(|_| ApiError::Busy)?,
                None => self.shared.write()?,
            };
            self.shared
                .gate
                .borrow_mut()
                .apply(&mut txn, update, &Limits::default())
                .map_err(ApiError::from)
        };
        self.shared.flush();
        if let Some(k) = key {
            self.shared.unregister_origin(&k);
        }
        result
    }

    /// The root types read so far, as JSON.
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        Ok(from_any(&self.shared.doc.to_json(&txn)))
    }

    /// Stops event delivery.
    pub fn destroy(&self) {
        self.shared.listeners.borrow_mut().clear();
    }
}

impl Doc {
    /// The shared state, for providers.
    pub fn shared(&self) -> Rc<DocShared> {
        self.shared.clone()
    }
}

/// A shared text (`Y.Text`).
#[wasm_bindgen]
pub struct Text {
    shared: Rc<DocShared>,
    text: TextRef,
}

#[wasm_bindgen]
impl Text {
    /// Inserts `content` at UTF-16 offset `index`.
    pub fn insert(&self, index: u32, content: &str) -> ApiResult<()> {
        self.shared.edit(|txn| {
            let len = self.text.len(txn);
            if index > len {
                return Err(ApiError::InvalidArgument(format!(
                    "index {index} is past the end ({len})"
                )));
            }
            self.text.insert(txn, index, content);
            Ok(())
        })
    }

    /// Deletes `length` UTF-16 code units at `index`.
    pub fn delete(&self, index: u32, length: u32) -> ApiResult<()> {
        self.shared.edit(|txn| {
            let len = self.text.len(txn);
            if index.checked_add(length).is_none_or(|end| end > len) {
                return Err(ApiError::InvalidArgument(format!(
                    "range {index}+{length} is past the end ({len})"
                )));
            }
            self.text.remove_range(txn, index, length);
            Ok(())
        })
    }

    /// The text.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_string_js(&self) -> ApiResult<String> {
        let txn = self.shared.read()?;
        Ok(self.text.get_string(&txn))
    }

    /// Length in UTF-16 code units.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> ApiResult<u32> {
        let txn = self.shared.read()?;
        Ok(self.text.len(&txn))
    }

    /// The text (JSON form).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> ApiResult<String> {
        self.to_string_js()
    }

    /// A position at UTF-16 offset `index` that stays with its character while others edit
    /// (Yjs: `relativePositionToJSON(createRelativePositionFromTypeIndex(text, index, assoc))`).
    /// `assoc < 0` sticks to the character before `index`, otherwise to the one after.
    #[wasm_bindgen(js_name = relativePosition, unchecked_return_type = "RelativePositionJSON")]
    pub fn relative_position(&self, index: u32, assoc: Option<i32>) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        let len = self.text.len(&txn);
        relative_position(&self.text, &txn, len, index, assoc)
    }

    /// The current UTF-16 offset of a relative position (ours or a Yjs peer's JSON), or
    /// `null` if it belongs to another type or to content this document does not have yet.
    #[wasm_bindgen(js_name = resolveRelativePosition)]
    pub fn resolve_relative_position(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RelativePositionJSON")] position: JsValue,
    ) -> ApiResult<Option<u32>> {
        let pos = parse_position(&position)?;
        let txn = self.shared.read()?;
        Ok(position::resolve(&self.text, &txn, &pos))
    }
}

#[wasm_bindgen(typescript_custom_section)]
const RELATIVE_POSITION_TS: &str = r#"
/** A relative position in Yjs's JSON form (`Y.relativePositionToJSON`). */
export interface RelativePositionJSON {
  /** Root type name. */
  tname?: string;
  /** The nested type it is in. */
  type?: { client: number; clock: number };
  /** The item it sticks to. */
  item?: { client: number; clock: number };
  /** 0: sticks to the item after the index; -1: to the item before. */
  assoc?: number;
}
"#;

fn relative_position<S: yrs::IndexedSequence>(
    seq: &S,
    txn: &yrs::Transaction<'_>,
    len: u32,
    index: u32,
    assoc: Option<i32>,
) -> ApiResult<JsValue> {
    let json = position::create(seq, txn, len, index, position::assoc(assoc.unwrap_or(0)))
        .ok_or_else(|| {
            ApiError::InvalidArgument(format!("index {index} is past the end ({len})"))
        })?;
    js_sys::JSON::parse(&json)
        .map_err(|_| ApiError::InvalidArgument("relative position not representable".into()))
}

fn parse_position(value: &JsValue) -> ApiResult<yrs::StickyIndex> {
    let json = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| ApiError::InvalidArgument("not a relative position".into()))?;
    position::parse(&json).map_err(|e| ApiError::InvalidArgument(e.to_string()))
}

/// A shared map (`Y.Map`).
#[wasm_bindgen]
pub struct YMap {
    shared: Rc<DocShared>,
    map: MapRef,
}

#[wasm_bindgen]
impl YMap {
    /// Sets `key` to a JSON-like value.
    pub fn set(&self, key: &str, value: JsValue) -> ApiResult<()> {
        let v = to_any(&value)?;
        self.shared.edit(|txn| {
            self.map.insert(txn, key, v);
            Ok(())
        })
    }

    /// The value at `key`, or undefined.
    pub fn get(&self, key: &str) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        Ok(self
            .map
            .get(&txn, key)
            .map_or(JsValue::UNDEFINED, |o| out_to_js(&self.shared, o, &txn)))
    }

    /// Sets `key` to a new empty nested map and returns it (Yjs: `map.set(key, new Y.Map())`).
    #[wasm_bindgen(js_name = setMap)]
    pub fn set_map(&self, key: &str) -> ApiResult<YMap> {
        let map = self
            .shared
            .edit(|txn| Ok(self.map.insert(txn, key, yrs::MapPrelim::default())))?;
        Ok(YMap {
            shared: self.shared.clone(),
            map,
        })
    }

    /// Sets `key` to a new empty nested array and returns it.
    #[wasm_bindgen(js_name = setArray)]
    pub fn set_array(&self, key: &str) -> ApiResult<YArray> {
        let array = self
            .shared
            .edit(|txn| Ok(self.map.insert(txn, key, yrs::ArrayPrelim::default())))?;
        Ok(YArray {
            shared: self.shared.clone(),
            array,
        })
    }

    /// Sets `key` to a new nested text holding `content` and returns it.
    #[wasm_bindgen(js_name = setText)]
    pub fn set_text(&self, key: &str, content: Option<String>) -> ApiResult<Text> {
        let text = self.shared.edit(|txn| {
            Ok(self
                .map
                .insert(txn, key, yrs::TextPrelim::new(content.unwrap_or_default())))
        })?;
        Ok(Text {
            shared: self.shared.clone(),
            text,
        })
    }

    /// The keys.
    pub fn keys(&self) -> ApiResult<Vec<String>> {
        let txn = self.shared.read()?;
        Ok(self.map.keys(&txn).map(String::from).collect())
    }

    /// Whether `key` is set.
    pub fn has(&self, key: &str) -> ApiResult<bool> {
        let txn = self.shared.read()?;
        Ok(self.map.contains_key(&txn, key))
    }

    /// Removes `key`.
    pub fn delete(&self, key: &str) -> ApiResult<()> {
        self.shared.edit(|txn| {
            self.map.remove(txn, key);
            Ok(())
        })
    }

    /// Number of keys.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> ApiResult<u32> {
        let txn = self.shared.read()?;
        Ok(self.map.len(&txn))
    }

    /// The map as a plain object.
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        Ok(from_any(&self.map.to_json(&txn)))
    }
}

/// A shared array (`Y.Array`).
#[wasm_bindgen]
pub struct YArray {
    shared: Rc<DocShared>,
    array: ArrayRef,
}

impl YArray {
    fn check_index(&self, txn: &yrs::TransactionMut<'_>, index: u32) -> ApiResult<()> {
        let len = self.array.len(txn);
        if index > len {
            return Err(ApiError::InvalidArgument(format!(
                "index {index} is past the end ({len})"
            )));
        }
        Ok(())
    }
}

/// A value read from the document: shared types as their wrappers (as Yjs returns `Y.Map`
/// etc.), anything else as plain JS.
fn out_to_js<T: yrs::ReadTxn>(shared: &Rc<DocShared>, o: yrs::Out, txn: &T) -> JsValue {
    match o {
        yrs::Out::YMap(map) => YMap {
            shared: shared.clone(),
            map,
        }
        .into(),
        yrs::Out::YArray(array) => YArray {
            shared: shared.clone(),
            array,
        }
        .into(),
        yrs::Out::YText(text) => Text {
            shared: shared.clone(),
            text,
        }
        .into(),
        other => from_out(&other, txn),
    }
}

fn values(items: &js_sys::Array) -> ApiResult<Vec<yrs::Any>> {
    items.iter().map(|v| to_any(&v)).collect()
}

#[wasm_bindgen]
impl YArray {
    /// Inserts `items` at `index`.
    pub fn insert(&self, index: u32, items: js_sys::Array) -> ApiResult<()> {
        let vals = values(&items)?;
        self.shared.edit(|txn| {
            self.check_index(txn, index)?;
            self.array.insert_range(txn, index, vals);
            Ok(())
        })
    }

    /// Appends `items`.
    pub fn push(&self, items: js_sys::Array) -> ApiResult<()> {
        let vals = values(&items)?;
        self.shared.edit(|txn| {
            let len = self.array.len(txn);
            self.array.insert_range(txn, len, vals);
            Ok(())
        })
    }

    /// Deletes `length` items at `index`.
    pub fn delete(&self, index: u32, length: u32) -> ApiResult<()> {
        self.shared.edit(|txn| {
            let len = self.array.len(txn);
            if index.checked_add(length).is_none_or(|end| end > len) {
                return Err(ApiError::InvalidArgument(format!(
                    "range {index}+{length} is past the end ({len})"
                )));
            }
            self.array.remove_range(txn, index, length);
            Ok(())
        })
    }

    /// The item at `index`, or undefined.
    pub fn get(&self, index: u32) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        Ok(self
            .array
            .get(&txn, index)
            .map_or(JsValue::UNDEFINED, |o| out_to_js(&self.shared, o, &txn)))
    }

    /// Inserts a new empty nested map at `index` and returns it.
    #[wasm_bindgen(js_name = insertMap)]
    pub fn insert_map(&self, index: u32) -> ApiResult<YMap> {
        let map = self.shared.edit(|txn| {
            self.check_index(txn, index)?;
            Ok(self.array.insert(txn, index, yrs::MapPrelim::default()))
        })?;
        Ok(YMap {
            shared: self.shared.clone(),
            map,
        })
    }

    /// Inserts a new empty nested array at `index` and returns it.
    #[wasm_bindgen(js_name = insertArray)]
    pub fn insert_array(&self, index: u32) -> ApiResult<YArray> {
        let array = self.shared.edit(|txn| {
            self.check_index(txn, index)?;
            Ok(self.array.insert(txn, index, yrs::ArrayPrelim::default()))
        })?;
        Ok(YArray {
            shared: self.shared.clone(),
            array,
        })
    }

    /// Inserts a new nested text holding `content` at `index` and returns it.
    #[wasm_bindgen(js_name = insertText)]
    pub fn insert_text(&self, index: u32, content: Option<String>) -> ApiResult<Text> {
        let text = self.shared.edit(|txn| {
            self.check_index(txn, index)?;
            Ok(self.array.insert(
                txn,
                index,
                yrs::TextPrelim::new(content.unwrap_or_default()),
            ))
        })?;
        Ok(Text {
            shared: self.shared.clone(),
            text,
        })
    }

    /// Number of items.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> ApiResult<u32> {
        let txn = self.shared.read()?;
        Ok(self.array.len(&txn))
    }

    /// The items as a JS array.
    #[wasm_bindgen(js_name = toArray)]
    pub fn to_array(&self) -> ApiResult<JsValue> {
        self.to_json()
    }

    /// The items as JSON.
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        Ok(from_any(&self.array.to_json(&txn)))
    }

    /// A position before item `index` that stays with it while others edit (see
    /// `Text.relativePosition`).
    #[wasm_bindgen(js_name = relativePosition, unchecked_return_type = "RelativePositionJSON")]
    pub fn relative_position(&self, index: u32, assoc: Option<i32>) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        let len = self.array.len(&txn);
        relative_position(&self.array, &txn, len, index, assoc)
    }

    /// The current index of a relative position, or `null` (see `Text.resolveRelativePosition`).
    #[wasm_bindgen(js_name = resolveRelativePosition)]
    pub fn resolve_relative_position(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RelativePositionJSON")] position: JsValue,
    ) -> ApiResult<Option<u32>> {
        let pos = parse_position(&position)?;
        let txn = self.shared.read()?;
        Ok(position::resolve(&self.array, &txn, &pos))
    }
}
