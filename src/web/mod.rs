//! Browser adapters (wasm32 only): they execute what the core decides and report what happens.
//! No policy lives here. Each owns its browser resources and releases them on drop.

pub mod broadcast;
pub mod clock;
pub mod idb;
pub mod listener;
pub mod locks;
pub mod log;
pub mod socket;
pub mod timer;
