//! The shared types with Yjs's names and methods: `Text`, `YMap`, `YArray`, `XmlFragment`,
//! `XmlElement`, `XmlText`. Each holds the document's shared state and a yrs reference.

use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use yrs::branch::BranchPtr;
use yrs::types::text::YChange;
use yrs::types::{Attrs, Delta, ToJson};
use yrs::{
    Any, Array as _, ArrayRef, GetString, In, Map as _, MapRef, Out, Text as _, TextRef, Xml as _,
    XmlElementPrelim, XmlElementRef, XmlFragment as _, XmlFragmentRef, XmlOut, XmlTextPrelim,
    XmlTextRef,
};

use crate::core::position;
use crate::js::doc::DocShared;
use crate::js::error::{ApiError, ApiResult};
use crate::js::observe::{self, attrs_js};
use crate::js::ts::{opt_string, opt_uint, string, uint, NumberArg, StringArg};
use crate::js::value::{from_any, from_out, to_any};

/// A value read from the document: shared types as their wrappers (as Yjs returns `Y.Map`
/// etc.), anything else as plain JS.
pub(crate) fn out_to_js<T: yrs::ReadTxn>(shared: &Rc<DocShared>, o: Out, txn: &T) -> JsValue {
    let s = shared.clone();
    match o {
        Out::YMap(map) => YMap::new(s, map).into(),
        Out::YArray(array) => YArray::new(s, array).into(),
        Out::YText(text) => YText::new(s, text).into(),
        Out::YXmlFragment(x) => XmlFragment::new(s, x).into(),
        Out::YXmlElement(x) => XmlElement { shared: s, xml: x }.into(),
        Out::YXmlText(x) => XmlText { shared: s, text: x }.into(),
        other => from_out(&other, txn),
    }
}

fn xml_out_to_js(shared: &Rc<DocShared>, o: XmlOut) -> JsValue {
    let s = shared.clone();
    match o {
        XmlOut::Element(x) => XmlElement { shared: s, xml: x }.into(),
        XmlOut::Fragment(x) => XmlFragment::new(s, x).into(),
        XmlOut::Text(x) => XmlText { shared: s, text: x }.into(),
    }
}

fn past_end(index: u32, len: u32) -> ApiError {
    ApiError::InvalidArgument(format!("index {index} is past the end ({len})"))
}

fn check_index(index: u32, len: u32) -> ApiResult<()> {
    if index > len {
        return Err(past_end(index, len));
    }
    Ok(())
}

fn check_range(index: u32, length: u32, len: u32) -> ApiResult<()> {
    if index.checked_add(length).is_none_or(|end| end > len) {
        return Err(ApiError::InvalidArgument(format!(
            "range {index}+{length} is past the end ({len})"
        )));
    }
    Ok(())
}

/// Formatting attributes from a plain object (`null` values remove a format, as in Yjs).
fn attrs(v: &JsValue) -> ApiResult<Option<Attrs>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match to_any(v)? {
        Any::Map(m) => Ok(Some(
            m.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), v.clone()))
                .collect(),
        )),
        _ => Err(ApiError::InvalidArgument(
            "attributes must be a plain object".into(),
        )),
    }
}

/// The methods every shared type has: observing. `$field` is the yrs reference.
macro_rules! observable {
    ($ty:ident, $js:ident, $field:ident) => {
        #[wasm_bindgen(js_class = $js)]
        impl $ty {
            /// Calls `f(event, transaction)` after each transaction that changed this type
            /// (not its nested types). Returns a function that unsubscribes.
            #[wasm_bindgen(unchecked_return_type = "() => void")]
            pub fn observe(
                &self,
                #[wasm_bindgen(
                    unchecked_param_type = "(event: YEvent, transaction: TransactionInfo) => void"
                )]
                f: js_sys::Function,
            ) -> js_sys::Function {
                observe::observe(&self.shared, self.branch(), f, false)
            }

            /// Calls `f(events, transaction)` after each transaction that changed this type or
            /// anything nested in it; `event.path` leads from this type to the changed one.
            /// Returns a function that unsubscribes.
            #[wasm_bindgen(js_name = observeDeep, unchecked_return_type = "() => void")]
            pub fn observe_deep(
                &self,
                #[wasm_bindgen(
                    unchecked_param_type = "(events: YEvent[], transaction: TransactionInfo) => void"
                )]
                f: js_sys::Function,
            ) -> js_sys::Function {
                observe::observe(&self.shared, self.branch(), f, true)
            }

            /// Removes observers added with `observe(f)`.
            pub fn unobserve(
                &self,
                #[wasm_bindgen(unchecked_param_type = "Function")] f: &js_sys::Function,
            ) {
                let target = (observe::branch_addr(self.branch()), false);
                self.shared.remove_observers(|_, t, g| t == target && g == f);
            }

            /// Removes observers added with `observeDeep(f)`.
            #[wasm_bindgen(js_name = unobserveDeep)]
            pub fn unobserve_deep(
                &self,
                #[wasm_bindgen(unchecked_param_type = "Function")] f: &js_sys::Function,
            ) {
                let target = (observe::branch_addr(self.branch()), true);
                self.shared.remove_observers(|_, t, g| t == target && g == f);
            }

            /// Hands this type to an `UndoManager` being built (internal).
            #[wasm_bindgen(js_name = __ysyncScope, skip_typescript)]
            pub fn scope_handoff(&self) {
                crate::js::undo::hand_off(self.shared.clone(), self.branch());
            }
        }

        impl $ty {
            fn branch(&self) -> BranchPtr {
                BranchPtr::from(AsRef::<yrs::branch::Branch>::as_ref(&self.$field))
            }
        }
    };
}

/// Text methods, shared by `Text` and `XmlText` (both are yrs texts). The bodies are the
/// functions of [`text_ops`], on a [`TextRef`] view of either, so the wasm has them once.
macro_rules! text_methods {
    ($ty:ident, $js:ident) => {
        #[wasm_bindgen(js_class = $js)]
        impl $ty {
            /// Inserts `content` at UTF-16 offset `index`, formatted with `attributes` if given.
            pub fn insert(
                &self,
                index: crate::js::ts::NumberArg,
                content: crate::js::ts::StringArg,
                attributes: Option<crate::js::ts::TextAttributesArg>,
            ) -> ApiResult<()> {
                text_ops::insert(&self.shared, &self.text_ref(), &index, &content, attributes)
            }

            /// Inserts an embed (a JSON-like value, one position long) at `index`.
            #[wasm_bindgen(js_name = insertEmbed)]
            pub fn insert_embed(
                &self,
                index: crate::js::ts::NumberArg,
                #[wasm_bindgen(unchecked_param_type = "{ [key: string]: JsonValue }")]
                embed: JsValue,
                attributes: Option<crate::js::ts::TextAttributesArg>,
            ) -> ApiResult<()> {
                text_ops::insert_embed(&self.shared, &self.text_ref(), &index, &embed, attributes)
            }

            /// Deletes `length` UTF-16 code units at `index`.
            pub fn delete(
                &self,
                index: crate::js::ts::NumberArg,
                length: crate::js::ts::NumberArg,
            ) -> ApiResult<()> {
                text_ops::delete(&self.shared, &self.text_ref(), &index, &length)
            }

            /// Sets `attributes` on `length` units at `index` (a `null` value removes one).
            pub fn format(
                &self,
                index: crate::js::ts::NumberArg,
                length: crate::js::ts::NumberArg,
                attributes: Option<crate::js::ts::TextAttributesArg>,
            ) -> ApiResult<()> {
                text_ops::format(&self.shared, &self.text_ref(), &index, &length, attributes)
            }

            /// The text as a delta: `[{ insert, attributes? }]`.
            #[wasm_bindgen(js_name = toDelta, unchecked_return_type = "TextDelta[]")]
            pub fn to_delta(&self) -> ApiResult<js_sys::Array> {
                text_ops::to_delta(&self.shared, &self.text_ref())
            }

            /// Applies a delta (`insert` / `retain` / `delete` ops, as Quill and Yjs write it).
            #[wasm_bindgen(js_name = applyDelta)]
            pub fn apply_delta(
                &self,
                #[wasm_bindgen(unchecked_param_type = "TextDelta[]")] delta: js_sys::Array,
            ) -> ApiResult<()> {
                text_ops::apply_delta(&self.shared, &self.text_ref(), &delta)
            }

            /// The text (with formatting as XML tags for an `XmlText`).
            #[wasm_bindgen(js_name = toString)]
            pub fn to_string_js(&self) -> ApiResult<String> {
                let txn = self.shared.read()?;
                Ok(self.text.get_string(&txn))
            }

            /// Length in UTF-16 code units.
            #[wasm_bindgen(getter)]
            pub fn length(&self) -> ApiResult<u32> {
                let txn = self.shared.read()?;
                Ok(self.text_ref().len(&txn))
            }

            /// The text (JSON form).
            #[wasm_bindgen(js_name = toJSON)]
            pub fn to_json(&self) -> ApiResult<String> {
                self.to_string_js()
            }
        }
    };
}

/// The bodies of the text methods (see `text_methods!`).
mod text_ops {
    use super::*;
    use crate::js::ts::{or_undefined, TextAttributesArg};

    pub(super) fn insert(
        shared: &Rc<DocShared>,
        text: &TextRef,
        index: &JsValue,
        content: &JsValue,
        attributes: Option<TextAttributesArg>,
    ) -> ApiResult<()> {
        let index = uint(index, "index")?;
        let content = string(content, "content")?;
        let content = content.as_str();
        let a = attrs(&or_undefined(attributes))?;
        shared.edit(|txn| {
            check_index(index, text.len(txn))?;
            match a {
                Some(a) => text.insert_with_attributes(txn, index, content, a),
                None => text.insert(txn, index, content),
            }
            Ok(())
        })
    }

    pub(super) fn insert_embed(
        shared: &Rc<DocShared>,
        text: &TextRef,
        index: &JsValue,
        embed: &JsValue,
        attributes: Option<TextAttributesArg>,
    ) -> ApiResult<()> {
        let index = uint(index, "index")?;
        let v = to_any(embed)?;
        let a = attrs(&or_undefined(attributes))?;
        shared.edit(|txn| {
            check_index(index, text.len(txn))?;
            match a {
                Some(a) => {
                    text.insert_embed_with_attributes(txn, index, v, a);
                }
                None => {
                    text.insert_embed(txn, index, v);
                }
            }
            Ok(())
        })
    }

    pub(super) fn delete(
        shared: &Rc<DocShared>,
        text: &TextRef,
        index: &JsValue,
        length: &JsValue,
    ) -> ApiResult<()> {
        let (index, length) = (uint(index, "index")?, uint(length, "length")?);
        shared.edit(|txn| {
            check_range(index, length, text.len(txn))?;
            text.remove_range(txn, index, length);
            Ok(())
        })
    }

    pub(super) fn format(
        shared: &Rc<DocShared>,
        text: &TextRef,
        index: &JsValue,
        length: &JsValue,
        attributes: Option<TextAttributesArg>,
    ) -> ApiResult<()> {
        let (index, length) = (uint(index, "index")?, uint(length, "length")?);
        let a = attrs(&or_undefined(attributes))?.unwrap_or_default();
        shared.edit(|txn| {
            check_range(index, length, text.len(txn))?;
            text.format(txn, index, length, a);
            Ok(())
        })
    }

    pub(super) fn to_delta(shared: &Rc<DocShared>, text: &TextRef) -> ApiResult<js_sys::Array> {
        let txn = shared.read()?;
        let out: js_sys::Array = text
            .diff(&txn, YChange::identity)
            .into_iter()
            .map(|d| {
                let o = js_sys::Object::new();
                let _ =
                    js_sys::Reflect::set(&o, &"insert".into(), &out_to_js(shared, d.insert, &txn));
                if let Some(a) = d.attributes.filter(|a| !a.is_empty()) {
                    let _ = js_sys::Reflect::set(&o, &"attributes".into(), &attrs_js(&a));
                }
                JsValue::from(o)
            })
            .collect();
        Ok(out)
    }

    pub(super) fn apply_delta(
        shared: &Rc<DocShared>,
        text: &TextRef,
        delta: &js_sys::Array,
    ) -> ApiResult<()> {
        let ops = parse_delta(delta)?;
        shared.edit(|txn| {
            // yrs panics on a retain or delete past the end: check the whole delta first.
            let mut len = u64::from(text.len(txn));
            let mut pos = 0u64;
            for op in &ops {
                match op {
                    Delta::Inserted(In::Any(Any::String(s)), _) => {
                        let n = s.encode_utf16().count() as u64;
                        pos += n;
                        len += n;
                    }
                    Delta::Inserted(_, _) => {
                        pos += 1;
                        len += 1;
                    }
                    Delta::Retain(n, _) => pos += u64::from(*n),
                    Delta::Deleted(n) => {
                        len = len.saturating_sub(u64::from(*n));
                        if pos > len {
                            return Err(ApiError::InvalidArgument(
                                "delta deletes past the end of the text".into(),
                            ));
                        }
                    }
                }
                if pos > len {
                    return Err(ApiError::InvalidArgument(
                        "delta retains past the end of the text".into(),
                    ));
                }
            }
            text.apply_delta(txn, ops);
            Ok(())
        })
    }
}

/// Parses a JS delta into yrs ops.
fn parse_delta(delta: &js_sys::Array) -> ApiResult<Vec<Delta<In>>> {
    let bad = |m: &str| ApiError::InvalidArgument(format!("invalid delta op: {m}"));
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).unwrap_or_default();
    let count = |v: JsValue, what: &str| uint(&v, &format!("invalid delta op: {what}"));
    let mut ops = Vec::with_capacity(delta.length() as usize);
    for op in delta.iter() {
        if !op.is_object() {
            return Err(bad("not an object"));
        }
        let a = attrs(&get(&op, "attributes"))?.map(Box::new);
        let insert = get(&op, "insert");
        let retain = get(&op, "retain");
        let delete = get(&op, "delete");
        if let Some(s) = insert.as_string() {
            ops.push(Delta::Inserted(In::Any(Any::String(s.into())), a));
        } else if !insert.is_undefined() {
            match to_any(&insert)? {
                m @ Any::Map(_) => ops.push(Delta::Inserted(In::Any(m), a)),
                _ => return Err(bad("insert must be a string or an embed object")),
            }
        } else if !retain.is_undefined() {
            ops.push(Delta::Retain(count(retain, "retain")?, a));
        } else if !delete.is_undefined() {
            ops.push(Delta::Deleted(count(delete, "delete")?));
        } else {
            return Err(bad("expected insert, retain or delete"));
        }
    }
    Ok(ops)
}

/// A shared text (`Y.Text`).
#[wasm_bindgen(js_name = Text)]
pub struct YText {
    shared: Rc<DocShared>,
    text: TextRef,
}

impl YText {
    pub(crate) fn new(shared: Rc<DocShared>, text: TextRef) -> Self {
        YText { shared, text }
    }

    fn text_ref(&self) -> TextRef {
        self.text.clone()
    }
}

observable!(YText, Text, text);
text_methods!(YText, Text);

#[wasm_bindgen(js_class = Text)]
impl YText {
    /// A position at UTF-16 offset `index` that stays with its character while others edit
    /// (Yjs: `relativePositionToJSON(createRelativePositionFromTypeIndex(text, index, assoc))`).
    /// `assoc < 0` sticks to the character before `index`, otherwise to the one after.
    #[wasm_bindgen(js_name = relativePosition, unchecked_return_type = "RelativePositionJSON")]
    pub fn relative_position(&self, index: NumberArg, assoc: Option<i32>) -> ApiResult<JsValue> {
        let index = uint(&index, "index")?;
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
const TYPES_TS: &str = r#"
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

/** Formatting attributes of text (`null` removes one). */
export type TextAttributes = { [name: string]: JsonValue } | null | undefined;

/** One op of a text delta, as Yjs and Quill write it. */
export type TextDelta =
  | { insert: string | { [key: string]: JsonValue } | Text | YMap | YArray | XmlElement | XmlText; attributes?: { [name: string]: JsonValue } }
  | { retain: number; attributes?: { [name: string]: JsonValue } }
  | { delete: number };

/** One op of an array delta. */
export type ArrayDelta<T> = { insert: T[] } | { retain: number } | { delete: number };

/** A shared type, as `observe` events name their targets. */
export type SharedType = Text | YMap | YArray | XmlFragment | XmlElement | XmlText;

/** What a shared type holds: JSON values or nested shared types. */
export type YValue = JsonValue | SharedType;

/** How one map key (or XML attribute) changed. */
export interface KeyChange {
  action: 'add' | 'update' | 'delete';
  oldValue?: YValue;
  newValue?: YValue;
}

/** An `observe` / `observeDeep` event, shaped as Yjs's `YEvent`. */
export interface YEvent {
  /** The type that changed. */
  target: SharedType;
  /** The type the observer is attached to. */
  currentTarget: SharedType;
  /** Keys and indices from `currentTarget` to `target`. */
  path: (string | number)[];
  /** Text and array changes (empty for maps). */
  delta: (TextDelta | ArrayDelta<YValue>)[];
  /** Map key and XML attribute changes. */
  keys: Map<string, KeyChange>;
  transaction: TransactionInfo;
  origin: unknown;
  local: boolean;
}
"#;

fn relative_position<S: yrs::IndexedSequence, T: yrs::ReadTxn>(
    seq: &S,
    txn: &T,
    len: u32,
    index: u32,
    assoc: Option<i32>,
) -> ApiResult<JsValue> {
    let json = position::create(seq, txn, len, index, position::assoc(assoc.unwrap_or(0)))
        .ok_or_else(|| past_end(index, len))?;
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

impl YMap {
    pub(crate) fn new(shared: Rc<DocShared>, map: MapRef) -> Self {
        YMap { shared, map }
    }
}

observable!(YMap, YMap, map);

#[wasm_bindgen]
impl YMap {
    /// Sets `key` to a JSON-like value.
    pub fn set(
        &self,
        key: StringArg,
        #[wasm_bindgen(unchecked_param_type = "JsonValue")] value: JsValue,
    ) -> ApiResult<()> {
        let key = string(&key, "key")?;
        let v = to_any(&value)?;
        self.shared.edit(|txn| {
            self.map.insert(txn, key, v);
            Ok(())
        })
    }

    /// The value at `key` (nested types as their wrappers), or undefined.
    #[wasm_bindgen(unchecked_return_type = "YValue | undefined")]
    pub fn get(&self, key: StringArg) -> ApiResult<JsValue> {
        let key = string(&key, "key")?;
        let txn = self.shared.read()?;
        Ok(self
            .map
            .get(&txn, &key)
            .map_or(JsValue::UNDEFINED, |o| out_to_js(&self.shared, o, &txn)))
    }

    /// Sets `key` to a new empty nested map and returns it (Yjs: `map.set(key, new Y.Map())`).
    #[wasm_bindgen(js_name = setMap)]
    pub fn set_map(&self, key: StringArg) -> ApiResult<YMap> {
        let key = string(&key, "key")?;
        let map = self
            .shared
            .edit(|txn| Ok(self.map.insert(txn, key, yrs::MapPrelim::default())))?;
        Ok(YMap::new(self.shared.clone(), map))
    }

    /// Sets `key` to a new empty nested array and returns it.
    #[wasm_bindgen(js_name = setArray)]
    pub fn set_array(&self, key: StringArg) -> ApiResult<YArray> {
        let key = string(&key, "key")?;
        let array = self
            .shared
            .edit(|txn| Ok(self.map.insert(txn, key, yrs::ArrayPrelim::default())))?;
        Ok(YArray::new(self.shared.clone(), array))
    }

    /// Sets `key` to a new nested text holding `content` and returns it.
    #[wasm_bindgen(js_name = setText)]
    pub fn set_text(&self, key: StringArg, content: Option<StringArg>) -> ApiResult<YText> {
        let key = string(&key, "key")?;
        let content = opt_string(content, "content")?;
        let text = self.shared.edit(|txn| {
            Ok(self
                .map
                .insert(txn, key, yrs::TextPrelim::new(content.unwrap_or_default())))
        })?;
        Ok(YText::new(self.shared.clone(), text))
    }

    /// The keys.
    pub fn keys(&self) -> ApiResult<Vec<String>> {
        let txn = self.shared.read()?;
        Ok(self.map.keys(&txn).map(String::from).collect())
    }

    /// The values (nested types as their wrappers).
    #[wasm_bindgen(unchecked_return_type = "YValue[]")]
    pub fn values(&self) -> ApiResult<js_sys::Array> {
        let txn = self.shared.read()?;
        Ok(self
            .map
            .iter(&txn)
            .map(|(_, o)| out_to_js(&self.shared, o, &txn))
            .collect())
    }

    /// `[key, value]` pairs.
    #[wasm_bindgen(unchecked_return_type = "[string, YValue][]")]
    pub fn entries(&self) -> ApiResult<js_sys::Array> {
        let txn = self.shared.read()?;
        Ok(self
            .map
            .iter(&txn)
            .map(|(k, o)| {
                let pair = js_sys::Array::new();
                pair.push(&JsValue::from_str(k));
                pair.push(&out_to_js(&self.shared, o, &txn));
                JsValue::from(pair)
            })
            .collect())
    }

    /// Calls `f(value, key, map)` for each entry (on a snapshot: `f` may edit the map).
    #[wasm_bindgen(js_name = forEach)]
    pub fn for_each(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(value: YValue, key: string, map: YMap) => void")]
        f: &js_sys::Function,
    ) -> ApiResult<()> {
        let entries = self.entries()?;
        let me: JsValue = YMap::new(self.shared.clone(), self.map.clone()).into();
        for e in entries.iter() {
            let pair: js_sys::Array = e.into();
            f.call3(&JsValue::NULL, &pair.get(1), &pair.get(0), &me)
                .map_err(ApiError::Listener)?;
        }
        Ok(())
    }

    /// Whether `key` is set.
    pub fn has(&self, key: StringArg) -> ApiResult<bool> {
        let key = string(&key, "key")?;
        let txn = self.shared.read()?;
        Ok(self.map.contains_key(&txn, &key))
    }

    /// Removes `key`.
    pub fn delete(&self, key: StringArg) -> ApiResult<()> {
        let key = string(&key, "key")?;
        self.shared.edit(|txn| {
            self.map.remove(txn, &key);
            Ok(())
        })
    }

    /// Removes every key.
    pub fn clear(&self) -> ApiResult<()> {
        self.shared.edit(|txn| {
            self.map.clear(txn);
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
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ [key: string]: JsonValue }")]
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
    pub(crate) fn new(shared: Rc<DocShared>, array: ArrayRef) -> Self {
        YArray { shared, array }
    }

    fn insert_at<T>(
        &self,
        index: u32,
        f: impl FnOnce(&mut yrs::TransactionMut<'_>) -> T,
    ) -> ApiResult<T> {
        self.shared.edit(|txn| {
            check_index(index, self.array.len(txn))?;
            Ok(f(txn))
        })
    }
}

fn values(items: &js_sys::Array) -> ApiResult<Vec<Any>> {
    items.iter().map(|v| to_any(&v)).collect()
}

/// A JS `slice`-style index: negative counts from the end; clamped to `[0, len]`.
fn slice_index(i: Option<f64>, len: u32, default: u32) -> u32 {
    match i {
        None => default,
        Some(i) if i.is_nan() => 0,
        Some(i) if i < 0.0 => (f64::from(len) + i.trunc()).max(0.0) as u32,
        Some(i) => i.trunc().min(f64::from(len)) as u32,
    }
}

observable!(YArray, YArray, array);

#[wasm_bindgen]
impl YArray {
    /// Inserts `items` at `index`.
    pub fn insert(
        &self,
        index: NumberArg,
        #[wasm_bindgen(unchecked_param_type = "JsonValue[]")] items: js_sys::Array,
    ) -> ApiResult<()> {
        let index = uint(&index, "index")?;
        let vals = values(&items)?;
        self.insert_at(index, |txn| {
            self.array.insert_range(txn, index, vals);
        })
    }

    /// Appends `items`.
    pub fn push(
        &self,
        #[wasm_bindgen(unchecked_param_type = "JsonValue[]")] items: js_sys::Array,
    ) -> ApiResult<()> {
        let vals = values(&items)?;
        self.shared.edit(|txn| {
            let len = self.array.len(txn);
            self.array.insert_range(txn, len, vals);
            Ok(())
        })
    }

    /// Prepends `items`.
    pub fn unshift(
        &self,
        #[wasm_bindgen(unchecked_param_type = "JsonValue[]")] items: js_sys::Array,
    ) -> ApiResult<()> {
        self.insert(0.into(), items)
    }

    /// Deletes `length` items (default 1) at `index`.
    pub fn delete(&self, index: NumberArg, length: Option<NumberArg>) -> ApiResult<()> {
        let index = uint(&index, "index")?;
        let length = opt_uint(length, "length", 1)?;
        self.shared.edit(|txn| {
            check_range(index, length, self.array.len(txn))?;
            self.array.remove_range(txn, index, length);
            Ok(())
        })
    }

    /// The item at `index` (nested types as their wrappers), or undefined.
    #[wasm_bindgen(unchecked_return_type = "YValue | undefined")]
    pub fn get(&self, index: NumberArg) -> ApiResult<JsValue> {
        let index = uint(&index, "index")?;
        let txn = self.shared.read()?;
        Ok(self
            .array
            .get(&txn, index)
            .map_or(JsValue::UNDEFINED, |o| out_to_js(&self.shared, o, &txn)))
    }

    /// Items `start..end` as a JS array; negative indices count from the end (as
    /// `Array.prototype.slice`).
    #[wasm_bindgen(unchecked_return_type = "YValue[]")]
    pub fn slice(&self, start: Option<f64>, end: Option<f64>) -> ApiResult<js_sys::Array> {
        let txn = self.shared.read()?;
        let len = self.array.len(&txn);
        let (s, e) = (slice_index(start, len, 0), slice_index(end, len, len));
        Ok(self
            .array
            .iter(&txn)
            .skip(s as usize)
            .take(e.saturating_sub(s) as usize)
            .map(|o| out_to_js(&self.shared, o, &txn))
            .collect())
    }

    /// Calls `f(value, index, array)` for each item (on a snapshot).
    #[wasm_bindgen(js_name = forEach)]
    pub fn for_each(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "(value: YValue, index: number, array: YArray) => void"
        )]
        f: &js_sys::Function,
    ) -> ApiResult<()> {
        let items = self.slice(None, None)?;
        let me: JsValue = YArray::new(self.shared.clone(), self.array.clone()).into();
        for (i, v) in items.iter().enumerate() {
            f.call3(&JsValue::NULL, &v, &JsValue::from(i as u32), &me)
                .map_err(ApiError::Listener)?;
        }
        Ok(())
    }

    /// Inserts a new empty nested map at `index` and returns it.
    #[wasm_bindgen(js_name = insertMap)]
    pub fn insert_map(&self, index: NumberArg) -> ApiResult<YMap> {
        let index = uint(&index, "index")?;
        let map = self.insert_at(index, |txn| {
            self.array.insert(txn, index, yrs::MapPrelim::default())
        })?;
        Ok(YMap::new(self.shared.clone(), map))
    }

    /// Inserts a new empty nested array at `index` and returns it.
    #[wasm_bindgen(js_name = insertArray)]
    pub fn insert_array(&self, index: NumberArg) -> ApiResult<YArray> {
        let index = uint(&index, "index")?;
        let array = self.insert_at(index, |txn| {
            self.array.insert(txn, index, yrs::ArrayPrelim::default())
        })?;
        Ok(YArray::new(self.shared.clone(), array))
    }

    /// Inserts a new nested text holding `content` at `index` and returns it.
    #[wasm_bindgen(js_name = insertText)]
    pub fn insert_text(&self, index: NumberArg, content: Option<StringArg>) -> ApiResult<YText> {
        let index = uint(&index, "index")?;
        let content = opt_string(content, "content")?;
        let text = self.insert_at(index, |txn| {
            self.array.insert(
                txn,
                index,
                yrs::TextPrelim::new(content.unwrap_or_default()),
            )
        })?;
        Ok(YText::new(self.shared.clone(), text))
    }

    /// Number of items.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> ApiResult<u32> {
        let txn = self.shared.read()?;
        Ok(self.array.len(&txn))
    }

    /// The items as a JS array (nested types as their wrappers).
    #[wasm_bindgen(js_name = toArray, unchecked_return_type = "YValue[]")]
    pub fn to_array(&self) -> ApiResult<js_sys::Array> {
        self.slice(None, None)
    }

    /// The items as JSON.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "JsonValue[]")]
    pub fn to_json(&self) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        Ok(from_any(&self.array.to_json(&txn)))
    }

    /// A position before item `index` that stays with it while others edit (see
    /// `Text.relativePosition`).
    #[wasm_bindgen(js_name = relativePosition, unchecked_return_type = "RelativePositionJSON")]
    pub fn relative_position(&self, index: NumberArg, assoc: Option<i32>) -> ApiResult<JsValue> {
        let index = uint(&index, "index")?;
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

/// Child-node methods, shared by `XmlFragment` and `XmlElement`.
macro_rules! xml_children {
    ($ty:ident, $js:ident) => {
        #[wasm_bindgen(js_class = $js)]
        impl $ty {
            /// Inserts a new element named `nodeName` at `index` and returns it.
            #[wasm_bindgen(js_name = insertElement)]
            pub fn insert_element(
                &self,
                index: crate::js::ts::NumberArg,
                node_name: crate::js::ts::StringArg,
            ) -> ApiResult<XmlElement> {
                xml_ops::insert_element(&self.shared, &self.fragment_ref(), &index, &node_name)
            }

            /// Inserts a new text node holding `content` at `index` and returns it.
            #[wasm_bindgen(js_name = insertText)]
            pub fn insert_text(
                &self,
                index: crate::js::ts::NumberArg,
                content: Option<crate::js::ts::StringArg>,
            ) -> ApiResult<XmlText> {
                xml_ops::insert_text(&self.shared, &self.fragment_ref(), &index, content)
            }

            /// Deletes `length` child nodes (default 1) at `index`.
            pub fn delete(
                &self,
                index: crate::js::ts::NumberArg,
                length: Option<crate::js::ts::NumberArg>,
            ) -> ApiResult<()> {
                xml_ops::delete(&self.shared, &self.fragment_ref(), &index, length)
            }

            /// The child node at `index`, or undefined.
            #[wasm_bindgen(unchecked_return_type = "XmlElement | XmlText | undefined")]
            pub fn get(&self, index: crate::js::ts::NumberArg) -> ApiResult<JsValue> {
                xml_ops::get(&self.shared, &self.fragment_ref(), &index)
            }

            /// The child nodes.
            #[wasm_bindgen(js_name = toArray, unchecked_return_type = "(XmlElement | XmlText)[]")]
            pub fn to_array(&self) -> ApiResult<js_sys::Array> {
                xml_ops::to_array(&self.shared, &self.fragment_ref())
            }

            /// Number of child nodes.
            #[wasm_bindgen(getter)]
            pub fn length(&self) -> ApiResult<u32> {
                let txn = self.shared.read()?;
                Ok(self.fragment_ref().len(&txn))
            }

            /// The XML markup.
            #[wasm_bindgen(js_name = toString)]
            pub fn to_string_js(&self) -> ApiResult<String> {
                let txn = self.shared.read()?;
                Ok(self.xml.get_string(&txn))
            }

            /// The XML markup (JSON form, as Yjs).
            #[wasm_bindgen(js_name = toJSON)]
            pub fn to_json(&self) -> ApiResult<String> {
                self.to_string_js()
            }
        }
    };
}

/// The bodies of the child-node methods (see `xml_children!`), on an [`XmlFragmentRef`] view.
mod xml_ops {
    use super::*;

    pub(super) fn insert_element(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
        index: &JsValue,
        node_name: &JsValue,
    ) -> ApiResult<XmlElement> {
        let index = uint(index, "index")?;
        let node_name = string(node_name, "nodeName")?;
        let xml = shared.edit(|txn| {
            check_index(index, xml.len(txn))?;
            Ok(xml.insert(txn, index, XmlElementPrelim::empty(node_name.as_str())))
        })?;
        Ok(XmlElement {
            shared: shared.clone(),
            xml,
        })
    }

    pub(super) fn insert_text(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
        index: &JsValue,
        content: Option<StringArg>,
    ) -> ApiResult<XmlText> {
        let index = uint(index, "index")?;
        let content = opt_string(content, "content")?;
        let text = shared.edit(|txn| {
            check_index(index, xml.len(txn))?;
            Ok(xml.insert(txn, index, XmlTextPrelim::new(content.unwrap_or_default())))
        })?;
        Ok(XmlText {
            shared: shared.clone(),
            text,
        })
    }

    pub(super) fn delete(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
        index: &JsValue,
        length: Option<NumberArg>,
    ) -> ApiResult<()> {
        let index = uint(index, "index")?;
        let length = opt_uint(length, "length", 1)?;
        shared.edit(|txn| {
            check_range(index, length, xml.len(txn))?;
            xml.remove_range(txn, index, length);
            Ok(())
        })
    }

    pub(super) fn get(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
        index: &JsValue,
    ) -> ApiResult<JsValue> {
        let index = uint(index, "index")?;
        let txn = shared.read()?;
        Ok(xml
            .get(&txn, index)
            .map_or(JsValue::UNDEFINED, |x| xml_out_to_js(shared, x)))
    }

    pub(super) fn to_array(
        shared: &Rc<DocShared>,
        xml: &XmlFragmentRef,
    ) -> ApiResult<js_sys::Array> {
        let txn = shared.read()?;
        Ok(xml
            .children(&txn)
            .map(|x| xml_out_to_js(shared, x))
            .collect())
    }
}

/// A shared XML fragment (`Y.XmlFragment`): a list of elements and text nodes.
#[wasm_bindgen]
pub struct XmlFragment {
    shared: Rc<DocShared>,
    xml: XmlFragmentRef,
}

impl XmlFragment {
    pub(crate) fn new(shared: Rc<DocShared>, xml: XmlFragmentRef) -> Self {
        XmlFragment { shared, xml }
    }

    fn fragment_ref(&self) -> XmlFragmentRef {
        self.xml.clone()
    }
}

observable!(XmlFragment, XmlFragment, xml);
xml_children!(XmlFragment, XmlFragment);

/// A shared XML element (`Y.XmlElement`): a name, attributes and child nodes.
#[wasm_bindgen]
pub struct XmlElement {
    shared: Rc<DocShared>,
    xml: XmlElementRef,
}

impl XmlElement {
    /// The same branch as a fragment (yrs's child-node methods are the same for both).
    fn fragment_ref(&self) -> XmlFragmentRef {
        AsRef::<XmlFragmentRef>::as_ref(&self.xml).clone()
    }
}

observable!(XmlElement, XmlElement, xml);
xml_children!(XmlElement, XmlElement);

#[wasm_bindgen]
impl XmlElement {
    /// The element's name.
    #[wasm_bindgen(getter, js_name = nodeName)]
    pub fn node_name(&self) -> String {
        self.xml.tag().to_string()
    }

    /// Sets an attribute.
    #[wasm_bindgen(js_name = setAttribute)]
    pub fn set_attribute(&self, name: StringArg, value: StringArg) -> ApiResult<()> {
        let (name, value) = (string(&name, "name")?, string(&value, "value")?);
        self.shared.edit(|txn| {
            self.xml.insert_attribute(txn, name, value);
            Ok(())
        })
    }

    /// An attribute's value, or undefined.
    #[wasm_bindgen(js_name = getAttribute)]
    pub fn get_attribute(&self, name: StringArg) -> ApiResult<Option<String>> {
        let name = string(&name, "name")?;
        let txn = self.shared.read()?;
        Ok(self
            .xml
            .get_attribute(&txn, &name)
            .map(|o| o.to_string(&txn)))
    }

    /// Removes an attribute.
    #[wasm_bindgen(js_name = removeAttribute)]
    pub fn remove_attribute(&self, name: StringArg) -> ApiResult<()> {
        let name = string(&name, "name")?;
        self.shared.edit(|txn| {
            self.xml.remove_attribute(txn, &name);
            Ok(())
        })
    }

    /// All attributes as a plain object.
    #[wasm_bindgen(js_name = getAttributes, unchecked_return_type = "{ [name: string]: string }")]
    pub fn get_attributes(&self) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        let o = js_sys::Object::new();
        for (k, v) in self.xml.attributes(&txn) {
            let _ = js_sys::Reflect::set(&o, &k.into(), &v.to_string(&txn).into());
        }
        Ok(o.into())
    }
}

/// A shared XML text node (`Y.XmlText`): formatted text inside XML.
#[wasm_bindgen]
pub struct XmlText {
    shared: Rc<DocShared>,
    text: XmlTextRef,
}

impl XmlText {
    /// The same branch as a plain text (yrs's text methods are the same for both).
    fn text_ref(&self) -> TextRef {
        AsRef::<TextRef>::as_ref(&self.text).clone()
    }
}

observable!(XmlText, XmlText, text);
text_methods!(XmlText, XmlText);
