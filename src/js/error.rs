//! Errors at the JS boundary: real `Error` subclasses with a stable `name` and `code`.

use wasm_bindgen::prelude::*;

use crate::core::error::{DecodeError, SyncError};

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

/// Everything the JS API can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An argument of the wrong type or shape (a `TypeError` in JS).
    #[error("{0}")]
    InvalidArgument(String),
    /// Bytes that are not a valid update or state vector.
    #[error("invalid update: {0}")]
    InvalidUpdate(#[from] DecodeError),
    /// A document method was called while one of its transactions was open.
    #[error("the document is inside another transaction")]
    Busy,
    /// The object was destroyed.
    #[error("the object was destroyed")]
    Destroyed,
    /// A sync problem reported by the core.
    #[error("{0}")]
    Sync(#[from] SyncError),
    /// A JS callback (observer, listener, `transact` function) threw this value; it is
    /// rethrown as is once every other callback ran.
    #[error("a callback threw")]
    Listener(JsValue),
    /// A browser API failed (the DOMException name, if any, is kept).
    #[error("{name}: {message}")]
    Browser {
        /// DOMException name, or "Error".
        name: String,
        /// Its message.
        message: String,
    },
}

impl ApiError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidArgument(_) => "INVALID_ARGUMENT",
            ApiError::InvalidUpdate(_) => "INVALID_UPDATE",
            ApiError::Busy => "DOC_BUSY",
            ApiError::Destroyed => "DESTROYED",
            ApiError::Sync(e) => e.code(),
            ApiError::Browser { .. } => "BROWSER_ERROR",
            ApiError::Listener(_) => "CALLBACK_THREW",
        }
    }

    /// Wraps a failure thrown by a browser API, keeping its DOMException name.
    pub fn browser(e: JsValue) -> Self {
        let get = |k: &str| {
            js_sys::Reflect::get(&e, &JsValue::from_str(k))
                .ok()
                .and_then(|v| v.as_string())
        };
        ApiError::Browser {
            name: get("name").unwrap_or_else(|| "Error".into()),
            message: get("message").unwrap_or_default(),
        }
    }
}

impl From<ApiError> for JsValue {
    fn from(e: ApiError) -> JsValue {
        let msg = e.to_string();
        match &e {
            ApiError::InvalidArgument(_) => make_type_error(e.code(), &msg),
            ApiError::Sync(_) => make_error("SyncError", e.code(), &msg, None),
            ApiError::InvalidUpdate(_) => make_error("UpdateError", e.code(), &msg, None),
            // The DOMException name (QuotaExceededError, BlockedError, ...) as `domName`.
            ApiError::Browser { name, .. } => make_error("YsyncError", e.code(), &msg, Some(name)),
            ApiError::Listener(v) => v.clone(),
            _ => make_error("YsyncError", e.code(), &msg, None),
        }
    }
}

/// Result type of the JS API.
pub type ApiResult<T> = Result<T, ApiError>;
