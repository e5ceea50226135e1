//! `YMap` (`Y.Map`).

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use yrs::branch::BranchPtr;
use yrs::types::ToJson;
use yrs::{Map as _, MapRef};

use super::{out_to_js, wrap_new};
use crate::js::error::{ApiError, ApiResult};
use crate::js::shared::DocShared;
use crate::js::ts::{opt_string, string, StringArg};
use crate::js::types::observe;
use crate::js::value::{from_any, to_any};
use yrs::Out;

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
    #[wasm_bindgen(js_name = setMap, unchecked_return_type = "YMap")]
    pub fn set_map(&self, key: StringArg) -> ApiResult<JsValue> {
        let key = string(&key, "key")?;
        let map = self
            .shared
            .edit(|txn| Ok(self.map.insert(txn, key, yrs::MapPrelim::default())))?;
        Ok(wrap_new(&self.shared, Out::YMap(map)))
    }

    /// Sets `key` to a new empty nested array and returns it.
    #[wasm_bindgen(js_name = setArray, unchecked_return_type = "YArray")]
    pub fn set_array(&self, key: StringArg) -> ApiResult<JsValue> {
        let key = string(&key, "key")?;
        let array = self
            .shared
            .edit(|txn| Ok(self.map.insert(txn, key, yrs::ArrayPrelim::default())))?;
        Ok(wrap_new(&self.shared, Out::YArray(array)))
    }

    /// Sets `key` to a new nested text holding `content` and returns it.
    #[wasm_bindgen(js_name = setText, unchecked_return_type = "Text")]
    pub fn set_text(&self, key: StringArg, content: Option<StringArg>) -> ApiResult<JsValue> {
        let key = string(&key, "key")?;
        let content = opt_string(content, "content")?;
        let text = self.shared.edit(|txn| {
            Ok(self
                .map
                .insert(txn, key, yrs::TextPrelim::new(content.unwrap_or_default())))
        })?;
        Ok(wrap_new(&self.shared, Out::YText(text)))
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
        let me = wrap_new(&self.shared, Out::YMap(self.map.clone()));
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
