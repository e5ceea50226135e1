//! TypeScript names for JS values the API takes (wasm-bindgen writes `name?: T | null` for an
//! `Option` of these, which `unchecked_param_type` cannot express), and the checks that turn a
//! value of the wrong type into a `TypeError` instead of a silent coercion.

use wasm_bindgen::prelude::*;

use crate::js::error::{ApiError, ApiResult};

#[wasm_bindgen]
extern "C" {
    /// `DocOptions`.
    #[wasm_bindgen(typescript_type = "DocOptions")]
    pub type DocOptionsArg;
    /// `UndoManagerOptions`.
    #[wasm_bindgen(typescript_type = "UndoManagerOptions")]
    pub type UndoManagerOptionsArg;
    /// `WebsocketProviderOptions`.
    #[wasm_bindgen(typescript_type = "WebsocketProviderOptions")]
    pub type ProviderOptionsArg;
    /// `IndexeddbPersistenceOptions`.
    #[wasm_bindgen(typescript_type = "IndexeddbPersistenceOptions")]
    pub type PersistenceOptionsArg;
    /// `TextAttributes`.
    #[wasm_bindgen(typescript_type = "TextAttributes")]
    pub type TextAttributesArg;
    /// Any value (a transaction origin).
    #[wasm_bindgen(typescript_type = "unknown")]
    pub type Unknown;
    /// A number argument (an index or a length), checked by [`uint`].
    #[wasm_bindgen(typescript_type = "number")]
    pub type NumberArg;
    /// A string argument (a key, a name, text content), checked by [`string`].
    #[wasm_bindgen(typescript_type = "string")]
    pub type StringArg;
}

/// An index or a length: a number that is a whole number in `0..2^32`. Taken as a JS value
/// because wasm-bindgen's own `u32` conversion (`x >>> 0`) silently turns `'1'`, `1.5`, `NaN`
/// or `-1` into some other index.
pub fn uint(v: &JsValue, what: &str) -> ApiResult<u32> {
    v.as_f64()
        .filter(|n| *n >= 0.0 && *n <= f64::from(u32::MAX) && n.fract() == 0.0)
        .map(|n| n as u32)
        .ok_or_else(|| ApiError::InvalidArgument(format!("{what} must be a non-negative integer")))
}

/// An optional [`uint`]: `default` when omitted (undefined or null).
pub fn opt_uint(v: Option<NumberArg>, what: &str, default: u32) -> ApiResult<u32> {
    match v {
        Some(v) if !v.is_undefined() && !v.is_null() => uint(&v, what),
        _ => Ok(default),
    }
}

/// A string argument. Taken as a JS value because wasm-bindgen's `&str` conversion turns any
/// value into its `String()` (`map.set(5, …)` would set the key `'5'`).
pub fn string(v: &JsValue, what: &str) -> ApiResult<String> {
    v.as_string()
        .ok_or_else(|| ApiError::InvalidArgument(format!("{what} must be a string")))
}

/// An optional [`string`]: `None` when omitted (undefined or null).
pub fn opt_string(v: Option<StringArg>, what: &str) -> ApiResult<Option<String>> {
    match v {
        Some(v) if !v.is_undefined() && !v.is_null() => string(&v, what).map(Some),
        _ => Ok(None),
    }
}

/// The JS value of an optional argument (undefined if omitted).
pub fn or_undefined<T: Into<JsValue>>(v: Option<T>) -> JsValue {
    v.map_or(JsValue::UNDEFINED, Into::into)
}

/// For Rust callers of the JS-facing methods: `text.insert(0.into(), "hi".into(), None)`.
impl From<u32> for NumberArg {
    fn from(n: u32) -> Self {
        JsValue::from(n).unchecked_into()
    }
}

impl From<&str> for StringArg {
    fn from(s: &str) -> Self {
        JsValue::from_str(s).unchecked_into()
    }
}
