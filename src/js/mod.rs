//! The wasm-bindgen surface of the npm package. This layer only converts types and errors;
//! behaviour lives in `core`, I/O in `web`.

#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "bench")]
pub mod bench_heap;
pub mod doc;
pub mod error;
pub mod events;
pub mod hocuspocus;
pub mod keepalive;
pub mod multiplex;
pub mod persistence;
pub mod promise;
pub mod provider;
pub mod shared;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod ts;
pub mod types;
pub mod undo;
pub mod value;
pub mod yjs;
