//! The sans-IO core: pure state machines and codecs. No web-sys, no clock, no randomness —
//! everything is tested natively with `cargo test`.

pub mod ack;
pub mod awareness;
pub mod backoff;
pub mod error;
pub mod frame;
pub mod gate;
pub mod position;
pub mod session;
pub mod stats;
pub mod store;
pub mod untrusted;
pub mod validate;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod sim_tests;
