//! TypeScript names for JS values the API takes: wasm-bindgen writes `name?: T | null` for an
//! `Option` of these, which `unchecked_param_type` cannot express.

use wasm_bindgen::prelude::*;

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
}

/// The JS value of an optional argument (undefined if omitted).
pub fn or_undefined<T: Into<JsValue>>(v: Option<T>) -> JsValue {
    v.map_or(JsValue::UNDEFINED, Into::into)
}
