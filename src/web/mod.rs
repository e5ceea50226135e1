//! Browser adapters (wasm32 only): they execute what the core decides and report what happens.
//! No policy lives here.

pub mod clock;
pub mod socket;
pub mod timer;
