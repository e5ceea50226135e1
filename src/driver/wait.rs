//! Waits of the drivers (synced, acknowledged, persisted): a callback called once with the
//! outcome, and the same as a Rust future.

use crate::driver::error::{Error, Result};

/// Called once with the outcome of a wait.
pub type Settle = Box<dyn FnOnce(Result<()>)>;

/// The future of a callback wait: `start` registers the callback.
pub async fn wait(start: impl FnOnce(Settle)) -> Result<()> {
    let (tx, rx) = futures_channel::oneshot::channel();
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    // A callback dropped without being called: its driver is gone.
    rx.await.unwrap_or(Err(Error::Destroyed))
}
