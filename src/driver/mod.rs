//! The driver layer (wasm32): runs the core's machines against the browser adapters of `web`,
//! and is the Rust API — Rust config, Rust events, async waits. `js` wraps it for JS.

pub mod doc;
pub mod document;
pub mod error;
pub mod hocuspocus;
pub(crate) mod leadership;
pub mod multiplex;
pub mod persistence;
pub mod provider;
pub mod subscribers;
pub mod wait;
