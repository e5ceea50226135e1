//! Errors at the JS boundary: real `Error` subclasses with a stable `name` and `code`.

use wasm_bindgen::prelude::*;

pub use crate::driver::error::{Error as ApiError, Result as ApiResult};

#[wasm_bindgen(inline_js = r#"
export class YsyncError extends Error {
  constructor(name, code, message, domName) {
    super(message);
    this.name = name;
    this.code = code;
    if (domName !== undefined) this.domName = domName;
  }
}
export function makeError(name, code, message, domName) { return new YsyncError(name, code, message, domName); }
export function makeTypeError(code, message) {
  const e = new TypeError(message);
  e.code = code;
  return e;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(name: &str, code: &str, message: &str, dom_name: Option<&str>) -> JsValue;
    #[wasm_bindgen(js_name = makeTypeError)]
    fn make_type_error(code: &str, message: &str) -> JsValue;
}

impl From<ApiError> for JsValue {
    fn from(e: ApiError) -> JsValue {
        to_js(&e)
    }
}

/// The JS `Error` for `e` (the value itself for a callback's exception).
pub fn to_js(e: &ApiError) -> JsValue {
    let msg = e.to_string();
    match e {
        ApiError::InvalidArgument(_) => make_type_error(e.code(), &msg),
        ApiError::Sync(_) => make_error("SyncError", e.code(), &msg, None),
        ApiError::InvalidUpdate(_) | ApiError::SkippedRows { .. } => {
            make_error("UpdateError", e.code(), &msg, None)
        }
        // The DOMException name (QuotaExceededError, BlockedError, ...) as `domName`.
        ApiError::Browser { name, .. } => make_error("YsyncError", e.code(), &msg, Some(name)),
        ApiError::Listener(v) => v.clone(),
        _ => make_error("YsyncError", e.code(), &msg, None),
    }
}
