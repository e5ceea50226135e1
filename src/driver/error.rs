//! What the Rust API can fail with: one `thiserror` enum with a stable code per kind. The JS
//! layer turns it into an `Error` subclass with the same `code` (see `js::error`).

use wasm_bindgen::JsValue;

use crate::core::error::{DecodeError, SyncError};

/// Everything the document, the provider and the persistence can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument of the wrong type or shape (a `TypeError` in JS).
    #[error("{0}")]
    InvalidArgument(String),
    /// Bytes that are not a valid update or state vector.
    #[error("invalid update: {0}")]
    InvalidUpdate(#[from] DecodeError),
    /// Stored rows that are not valid updates: skipped at load, then moved out of the store by
    /// the next compaction (into its `custom` store, as one array under
    /// `ysync:quarantine:<key of the first>`).
    #[error("{count} stored rows are not valid updates (the first: {first}); they were skipped and are quarantined")]
    SkippedRows {
        /// How many rows.
        count: usize,
        /// Why the first was refused.
        first: DecodeError,
    },
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

impl Error {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::InvalidUpdate(_) | Error::SkippedRows { .. } => "INVALID_UPDATE",
            Error::Busy => "DOC_BUSY",
            Error::Destroyed => "DESTROYED",
            Error::Sync(e) => e.code(),
            Error::Browser { .. } => "BROWSER_ERROR",
            Error::Listener(_) => "CALLBACK_THREW",
        }
    }

    /// Wraps a failure thrown by a browser API, keeping its DOMException name.
    pub fn browser(e: JsValue) -> Self {
        let get = |k: &str| {
            js_sys::Reflect::get(&e, &JsValue::from_str(k))
                .ok()
                .and_then(|v| v.as_string())
        };
        Error::Browser {
            name: get("name").unwrap_or_else(|| "Error".into()),
            message: get("message").unwrap_or_default(),
        }
    }
}

/// Result type of the Rust API.
pub type Result<T> = std::result::Result<T, Error>;
