//! `YArray` (`Y.Array`).

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yrs::branch::BranchPtr;
use yrs::types::ToJson;
use yrs::{Any, Array as _, ArrayRef};

use super::{check_index, check_range, out_to_js, wrap_new};
use crate::js::error::{ApiError, ApiResult};
use crate::js::shared::DocShared;
use crate::js::ts::{opt_string, opt_uint, uint, NumberArg, StringArg};
use crate::js::types::observe;
use crate::js::value::{from_any, to_any};
use yrs::Out;

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
        let me = wrap_new(&self.shared, Out::YArray(self.array.clone()));
        for (i, v) in items.iter().enumerate() {
            f.call3(&JsValue::NULL, &v, &JsValue::from(i as u32), &me)
                .map_err(ApiError::Listener)?;
        }
        Ok(())
    }

    /// Inserts a new empty nested map at `index` and returns it.
    #[wasm_bindgen(js_name = insertMap, unchecked_return_type = "YMap")]
    pub fn insert_map(&self, index: NumberArg) -> ApiResult<JsValue> {
        let index = uint(&index, "index")?;
        let map = self.insert_at(index, |txn| {
            self.array.insert(txn, index, yrs::MapPrelim::default())
        })?;
        Ok(wrap_new(&self.shared, Out::YMap(map)))
    }

    /// Inserts a new empty nested array at `index` and returns it.
    #[wasm_bindgen(js_name = insertArray, unchecked_return_type = "YArray")]
    pub fn insert_array(&self, index: NumberArg) -> ApiResult<JsValue> {
        let index = uint(&index, "index")?;
        let array = self.insert_at(index, |txn| {
            self.array.insert(txn, index, yrs::ArrayPrelim::default())
        })?;
        Ok(wrap_new(&self.shared, Out::YArray(array)))
    }

    /// Inserts a new nested text holding `content` at `index` and returns it.
    #[wasm_bindgen(js_name = insertText, unchecked_return_type = "Text")]
    pub fn insert_text(&self, index: NumberArg, content: Option<StringArg>) -> ApiResult<JsValue> {
        let index = uint(&index, "index")?;
        let content = opt_string(content, "content")?;
        let text = self.insert_at(index, |txn| {
            self.array.insert(
                txn,
                index,
                yrs::TextPrelim::new(content.unwrap_or_default()),
            )
        })?;
        Ok(wrap_new(&self.shared, Out::YText(text)))
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
        super::relative::create(
            &self.shared,
            &self.array,
            |t| self.array.len(t),
            &index,
            assoc,
        )
    }

    /// The current index of a relative position, or `null` (see `Text.resolveRelativePosition`).
    #[wasm_bindgen(js_name = resolveRelativePosition)]
    pub fn resolve_relative_position(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RelativePositionJSON")] position: JsValue,
    ) -> ApiResult<Option<u32>> {
        super::relative::resolve(&self.shared, &self.array, &position)
    }
}
