//! # ysync
//!
//! A Yjs-compatible document ([`yrs`]) that syncs in real time with any y-websocket server and
//! persists in IndexedDB, compiled to WebAssembly.
//!
//! The crate is layered so the data flow shows in the module names:
//! - [`core`]: the sans-IO sync core — frame codec and validation, the per-connection
//!   [`Session`](core::session::Session) state machine, acknowledgement tracking, awareness
//!   timers, reconnect backoff. Pure Rust, tested natively.
//! - `web` (wasm32 only): thin browser adapters — WebSocket, BroadcastChannel, IndexedDB,
//!   timers, clock — that execute and report, deciding nothing.
//! - `driver` (wasm32 only): runs the core's machines against those adapters; the Rust API
//!   (re-exported here: `Doc`, `WebsocketProvider`, `HocuspocusProvider`,
//!   `IndexeddbPersistence`, their configs, events and `Error`).
//! - `js` (wasm32 only): the wasm-bindgen surface used by the npm package: JS options into
//!   driver configs, values and errors into JS ones.
//!
//! ```
//! use ysync::core::session::{Config, Output, Session};
//! use yrs::{Doc, Text, Transact};
//!
//! let doc = Doc::new();
//! let mut session = Session::new(doc.clone(), Config::default(), 0).unwrap();
//! session.connected(0);
//! // After the status event: the sync step 1 frame to send on the socket, then the local
//! // presence (`{}`, as y-protocols starts with).
//! assert!(matches!(session.poll_output(0), Some(Output::Event(_))));
//! assert!(matches!(session.poll_output(0), Some(Output::Transmit(f)) if f[0] == 0));
//! assert!(matches!(session.poll_output(0), Some(Output::Transmit(f)) if f[0] == 1));
//! doc.get_or_insert_text("t").insert(&mut doc.transact_mut(), 0, "hi");
//! assert!(matches!(session.poll_output(0), Some(Output::Transmit(f)) if f[..2] == [0, 2]));
//! ```
#![deny(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(target_arch = "wasm32")]
pub mod driver;

#[cfg(target_arch = "wasm32")]
pub mod js;

pub use yrs;

/// The Rust API of a web app (wasm32): its document, its IndexedDB storage and its providers
/// (the driver layer), with Rust config, Rust events and typed errors.
#[cfg(target_arch = "wasm32")]
pub use driver::{
    doc::{Doc, DocConfig, UpdateEvent},
    error::Error,
    hocuspocus::HocuspocusProvider,
    multiplex::{HocuspocusProviderWebsocket, WebsocketConfig, WebsocketEvent},
    persistence::{IndexeddbPersistence, PersistenceConfig, PersistenceEvent},
    provider::{ProviderConfig, ProviderEvent, WebsocketProvider},
};
