//! `Text` (`Y.Text`), and the bodies of the text methods it shares with `XmlText`.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yrs::branch::BranchPtr;
use yrs::types::text::YChange;
use yrs::types::Delta;
use yrs::{Any, GetString, In, Text as _, TextRef};

use super::{attrs, check_index, check_range, out_to_js};
use crate::js::error::{ApiError, ApiResult};
use crate::js::shared::DocShared;
use crate::js::ts::{string, uint, NumberArg};
use crate::js::types::observe::{self, attrs_js};
use crate::js::value::to_any;

/// The bodies of the text methods (see `text_methods!`).
pub(crate) mod text_ops {
    use super::*;
    use crate::js::ts::{or_undefined, TextAttributesArg};

    pub(crate) fn insert(
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

    pub(crate) fn insert_embed(
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

    pub(crate) fn delete(
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

    pub(crate) fn format(
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

    pub(crate) fn to_delta(shared: &Rc<DocShared>, text: &TextRef) -> ApiResult<js_sys::Array> {
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

    pub(crate) fn apply_delta(
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
        super::relative::create(
            &self.shared,
            &self.text,
            |t| self.text.len(t),
            &index,
            assoc,
        )
    }

    /// The current UTF-16 offset of a relative position (ours or a Yjs peer's JSON), or
    /// `null` if it belongs to another type or to content this document does not have yet.
    #[wasm_bindgen(js_name = resolveRelativePosition)]
    pub fn resolve_relative_position(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RelativePositionJSON")] position: JsValue,
    ) -> ApiResult<Option<u32>> {
        super::relative::resolve(&self.shared, &self.text, &position)
    }
}
