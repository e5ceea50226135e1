//! The shared types with Yjs's names and methods: `Text`, `YMap`, `YArray`, `XmlFragment`,
//! `XmlElement`, `XmlText`. Each holds the document's shared state and a yrs reference.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use yrs::branch::{BranchID, BranchPtr};
use yrs::types::Attrs;
use yrs::{Any, Out};

use crate::js::error::{ApiError, ApiResult};
use crate::js::shared::DocShared;
use crate::js::value::{from_out, to_any};

/// A value read from the document: shared types as their wrappers (as Yjs returns `Y.Map`
/// etc.), anything else as plain JS.
pub(crate) fn out_to_js<T: yrs::ReadTxn>(shared: &Rc<DocShared>, o: Out, txn: &T) -> JsValue {
    wrap(shared, o).unwrap_or_else(|other| from_out(&other, txn))
}

/// The wrapper of a shared type: the one handed out before for the same type if the app
/// still holds it (so `map.get('k') === map.get('k')`, as in Yjs), else a new one. `Err`
/// gives back a value that is no shared type.
pub(crate) fn wrap(shared: &Rc<DocShared>, o: Out) -> Result<JsValue, Out> {
    fn id(b: &impl AsRef<yrs::branch::Branch>) -> BranchID {
        b.as_ref().id()
    }
    let s = shared.clone();
    let (kind, branch, make): (u8, BranchID, Box<dyn FnOnce() -> JsValue>) = match o {
        Out::YText(t) => (KIND_TEXT, id(&t), Box::new(move || YText::new(s, t).into())),
        Out::YMap(m) => (KIND_MAP, id(&m), Box::new(move || YMap::new(s, m).into())),
        Out::YArray(a) => (
            KIND_ARRAY,
            id(&a),
            Box::new(move || YArray::new(s, a).into()),
        ),
        Out::YXmlFragment(x) => (
            KIND_XML_FRAGMENT,
            id(&x),
            Box::new(move || XmlFragment::new(s, x).into()),
        ),
        Out::YXmlElement(x) => (
            KIND_XML_ELEMENT,
            id(&x),
            Box::new(move || XmlElement::new(s, x).into()),
        ),
        Out::YXmlText(x) => (
            KIND_XML_TEXT,
            id(&x),
            Box::new(move || XmlText::new(s, x).into()),
        ),
        other => return Err(other),
    };
    // Making a wrapper cannot fail.
    Ok(shared
        .wrapper(kind, branch, || Ok(make()))
        .unwrap_or(JsValue::UNDEFINED))
}

/// [`wrap`] for a value known to be a shared type.
pub(crate) fn wrap_new(shared: &Rc<DocShared>, o: Out) -> JsValue {
    wrap(shared, o).unwrap_or(JsValue::UNDEFINED)
}

/// Wrapper kinds: one branch read as two kinds (a root asked for as a text and as a map) gets
/// two wrappers.
pub(crate) const KIND_TEXT: u8 = 0;
pub(crate) const KIND_MAP: u8 = 1;
pub(crate) const KIND_ARRAY: u8 = 2;
pub(crate) const KIND_XML_FRAGMENT: u8 = 3;
const KIND_XML_ELEMENT: u8 = 4;
const KIND_XML_TEXT: u8 = 5;

thread_local! {
    /// Where a shared-type wrapper hands its branch to the `UndoManager` constructor (a JS
    /// value cannot be downcast to a Rust struct, but it can be asked to call back).
    static HANDOFF: RefCell<Option<(Rc<DocShared>, BranchPtr)>> = const { RefCell::new(None) };
}

/// Called by a wrapper's `__ysyncScope` method: the undo hand-off is the types' own.
pub(crate) fn hand_off(shared: Rc<DocShared>, branch: BranchPtr) {
    HANDOFF.with(|h| *h.borrow_mut() = Some((shared, branch)));
}

/// The branch (and document) of a shared-type wrapper passed from JS.
pub(crate) fn scope_of(v: &JsValue) -> ApiResult<(Rc<DocShared>, BranchPtr)> {
    let bad = || ApiError::InvalidArgument("the scope must be shared types of one Doc".into());
    let f = js_sys::Reflect::get(v, &"__ysyncScope".into()).map_err(|_| bad())?;
    let f: js_sys::Function = f.dyn_into().map_err(|_| bad())?;
    HANDOFF.with(|h| h.borrow_mut().take());
    f.call0(v).map_err(|_| bad())?;
    HANDOFF.with(|h| h.borrow_mut().take()).ok_or_else(bad)
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
                $crate::js::types::hand_off(self.shared.clone(), self.branch());
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
/// functions of `text::text_ops`, on a [`TextRef`] view of either, so the wasm has them once.
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
                $crate::js::types::text::text_ops::insert(
                    &self.shared,
                    &self.text_ref(),
                    &index,
                    &content,
                    attributes,
                )
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
                $crate::js::types::text::text_ops::insert_embed(
                    &self.shared,
                    &self.text_ref(),
                    &index,
                    &embed,
                    attributes,
                )
            }

            /// Deletes `length` UTF-16 code units at `index`.
            pub fn delete(
                &self,
                index: crate::js::ts::NumberArg,
                length: crate::js::ts::NumberArg,
            ) -> ApiResult<()> {
                $crate::js::types::text::text_ops::delete(
                    &self.shared,
                    &self.text_ref(),
                    &index,
                    &length,
                )
            }

            /// Sets `attributes` on `length` units at `index` (a `null` value removes one).
            pub fn format(
                &self,
                index: crate::js::ts::NumberArg,
                length: crate::js::ts::NumberArg,
                attributes: Option<crate::js::ts::TextAttributesArg>,
            ) -> ApiResult<()> {
                $crate::js::types::text::text_ops::format(
                    &self.shared,
                    &self.text_ref(),
                    &index,
                    &length,
                    attributes,
                )
            }

            /// The text as a delta: `[{ insert, attributes? }]`.
            #[wasm_bindgen(js_name = toDelta, unchecked_return_type = "TextDelta[]")]
            pub fn to_delta(&self) -> ApiResult<js_sys::Array> {
                $crate::js::types::text::text_ops::to_delta(&self.shared, &self.text_ref())
            }

            /// Applies a delta (`insert` / `retain` / `delete` ops, as Quill and Yjs write it).
            #[wasm_bindgen(js_name = applyDelta)]
            pub fn apply_delta(
                &self,
                #[wasm_bindgen(unchecked_param_type = "TextDelta[]")] delta: js_sys::Array,
            ) -> ApiResult<()> {
                $crate::js::types::text::text_ops::apply_delta(
                    &self.shared,
                    &self.text_ref(),
                    &delta,
                )
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

/// Child-node methods, shared by `XmlFragment` and `XmlElement`.
macro_rules! xml_children {
    ($ty:ident, $js:ident) => {
        #[wasm_bindgen(js_class = $js)]
        impl $ty {
            /// Inserts a new element named `nodeName` at `index` and returns it.
            #[wasm_bindgen(js_name = insertElement, unchecked_return_type = "XmlElement")]
            pub fn insert_element(
                &self,
                index: crate::js::ts::NumberArg,
                node_name: crate::js::ts::StringArg,
            ) -> ApiResult<JsValue> {
                $crate::js::types::xml::xml_ops::insert_element(
                    &self.shared,
                    &self.fragment_ref(),
                    &index,
                    &node_name,
                )
            }

            /// Inserts a new text node holding `content` at `index` and returns it.
            #[wasm_bindgen(js_name = insertText, unchecked_return_type = "XmlText")]
            pub fn insert_text(
                &self,
                index: crate::js::ts::NumberArg,
                content: Option<crate::js::ts::StringArg>,
            ) -> ApiResult<JsValue> {
                $crate::js::types::xml::xml_ops::insert_text(
                    &self.shared,
                    &self.fragment_ref(),
                    &index,
                    content,
                )
            }

            /// Deletes `length` child nodes (default 1) at `index`.
            pub fn delete(
                &self,
                index: crate::js::ts::NumberArg,
                length: Option<crate::js::ts::NumberArg>,
            ) -> ApiResult<()> {
                $crate::js::types::xml::xml_ops::delete(
                    &self.shared,
                    &self.fragment_ref(),
                    &index,
                    length,
                )
            }

            /// The child node at `index`, or undefined.
            #[wasm_bindgen(unchecked_return_type = "XmlElement | XmlText | undefined")]
            pub fn get(&self, index: crate::js::ts::NumberArg) -> ApiResult<JsValue> {
                $crate::js::types::xml::xml_ops::get(&self.shared, &self.fragment_ref(), &index)
            }

            /// The child nodes.
            #[wasm_bindgen(js_name = toArray, unchecked_return_type = "(XmlElement | XmlText)[]")]
            pub fn to_array(&self) -> ApiResult<js_sys::Array> {
                $crate::js::types::xml::xml_ops::to_array(&self.shared, &self.fragment_ref())
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

mod array;
mod map;
pub(crate) mod observe;
mod relative;
mod text;
mod xml;

pub use array::YArray;
pub use map::YMap;
pub use text::YText;
pub use xml::{XmlElement, XmlFragment, XmlText};
