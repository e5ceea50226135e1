//! Conversion between JS values and yrs values.

use std::collections::HashMap;
use std::sync::Arc;

use wasm_bindgen::{JsCast, JsValue};
use yrs::types::ToJson;
use yrs::{Any, Out, ReadTxn};

use crate::js::error::{ApiError, ApiResult};

/// Deepest nesting accepted from JS (deeper values overflow the wasm stack in yrs).
const MAX_DEPTH: usize = 256;

/// A serde-serializable Rust value (stats snapshots) as a plain JS object.
pub fn to_js_json<T: serde::Serialize>(v: &T) -> JsValue {
    serde_json::to_string(v)
        .ok()
        .and_then(|json| js_sys::JSON::parse(&json).ok())
        .unwrap_or(JsValue::NULL)
}

/// Converts a JSON-like JS value (null, boolean, number, bigint, string, Uint8Array, array,
/// plain object) into a yrs value.
pub fn to_any(v: &JsValue) -> ApiResult<Any> {
    to_any_at(v, 0)
}

fn to_any_at(v: &JsValue, depth: usize) -> ApiResult<Any> {
    if depth > MAX_DEPTH {
        return Err(ApiError::InvalidArgument(format!(
            "value nested deeper than {MAX_DEPTH}"
        )));
    }
    if v.is_null() {
        return Ok(Any::Null);
    }
    if v.is_undefined() {
        return Ok(Any::Undefined);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Any::Bool(b));
    }
    if let Some(n) = v.as_f64() {
        return Ok(Any::from(n));
    }
    if let Some(s) = v.as_string() {
        return Ok(Any::String(s.into()));
    }
    if v.is_bigint() {
        let n = i64::try_from(v.clone())
            .map_err(|_| ApiError::InvalidArgument("bigint out of 64-bit range".into()))?;
        return Ok(Any::Number(yrs::any::Number::Int(n)));
    }
    if let Some(buf) = v.dyn_ref::<js_sys::Uint8Array>() {
        return Ok(Any::Buffer(buf.to_vec().into()));
    }
    if js_sys::Array::is_array(v) {
        let arr: &js_sys::Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(arr.length() as usize);
        for item in arr.iter() {
            out.push(to_any_at(&item, depth + 1)?);
        }
        return Ok(Any::Array(out.into()));
    }
    if v.is_object() && !v.is_function() {
        let obj: &js_sys::Object = v.unchecked_ref();
        let mut map = HashMap::new();
        for entry in js_sys::Object::entries(obj).iter() {
            let pair: js_sys::Array = entry.unchecked_into();
            let key = pair.get(0).as_string().unwrap_or_default();
            map.insert(key, to_any_at(&pair.get(1), depth + 1)?);
        }
        return Ok(Any::Map(Arc::new(map)));
    }
    Err(ApiError::InvalidArgument(
        "expected a JSON-like value (null, boolean, number, bigint, string, Uint8Array, array or plain object)".into(),
    ))
}

/// Converts a yrs value into a JS value.
pub fn from_any(a: &Any) -> JsValue {
    match a {
        Any::Null => JsValue::NULL,
        Any::Undefined => JsValue::UNDEFINED,
        Any::Bool(b) => JsValue::from_bool(*b),
        Any::Number(yrs::any::Number::Float(n)) => JsValue::from_f64(*n),
        Any::Number(yrs::any::Number::Int(n)) => {
            if n.unsigned_abs() <= (1u64 << 53) {
                JsValue::from_f64(*n as f64)
            } else {
                JsValue::from(*n)
            }
        }
        Any::String(s) => JsValue::from_str(s),
        Any::Buffer(b) => js_sys::Uint8Array::from(&b[..]).into(),
        Any::Array(items) => {
            let arr = js_sys::Array::new();
            for i in items.iter() {
                arr.push(&from_any(i));
            }
            arr.into()
        }
        Any::Map(m) => {
            let obj = js_sys::Object::new();
            for (k, v) in m.iter() {
                let _ = js_sys::Reflect::set(&obj, &JsValue::from_str(k), &from_any(v));
            }
            obj.into()
        }
    }
}

/// Converts a value read from the document; shared types are rendered as JSON.
pub fn from_out<T: ReadTxn>(o: &Out, txn: &T) -> JsValue {
    match o {
        Out::Any(a) => from_any(a),
        other => from_any(&other.to_json(txn)),
    }
}
