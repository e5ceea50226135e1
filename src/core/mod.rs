//! The sans-IO core: pure state machines and codecs. No web-sys, no clock, no randomness —
//! everything is tested natively with `cargo test`.

pub mod ack;
pub mod awareness;
pub mod backoff;
pub mod connection;
pub mod error;
pub mod frame;
pub mod gate;
pub mod hocuspocus;
pub mod inbox;
pub mod leader;
pub mod merge;
pub mod mirror;
pub mod order;
pub mod origin;
pub mod position;
pub mod session;
pub mod socket_share;
pub mod split;
pub mod stats;
pub mod store;
pub mod tap;
#[doc(hidden)] // For the fuzz targets (fuzz/) and the corpus replay, not for apps.
pub mod untrusted;
pub mod update_v2;
pub mod validate;

#[cfg(test)]
mod tests;

/// Whether a committed transaction changed the document: the test yrs makes before it encodes
/// an update for `observe_update_v1` subscribers. The SDK's observers subscribe to
/// `observe_transaction_cleanup` instead and encode (`txn.encode_update_v1()`) only the
/// transactions they need: an update observer makes yrs encode every transaction, a whole
/// document loaded from storage included, even when nothing wants those bytes.
pub fn changed(txn: &yrs::TransactionMut) -> bool {
    !txn.delete_set().is_empty() || txn.after_state() != txn.before_state()
}

/// Bytes from hex text, for tests that quote inputs.
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
