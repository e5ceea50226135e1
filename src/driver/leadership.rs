//! One connection per browser, the driver's side: the Web Lock that makes one tab of a
//! document its leader (the one that connects), and the tabs' control channel (see
//! `core::leader` and `core::session::lead` for what is said on it and what each role does).
//! The lock is released when the provider disconnects or goes, and by the browser when the tab
//! closes or its process dies: another tab's waiting request is then granted.

use crate::core::stats::SyncStats;
use crate::web::broadcast::Channel;
use crate::web::locks::Lock;

/// A provider's membership of its document's tabs, while connected with sharing on.
#[derive(Default)]
pub(crate) struct Leadership {
    lock: Option<Lock>,
    control: Option<Channel>,
    /// A follower's last word from the leader about its connection: (metrics, reconnect
    /// delay).
    pub leader_stats: Option<(SyncStats, Option<u64>)>,
}

/// The lock and the channel of the document known to the tabs as `key`.
fn names(key: &str) -> (String, String) {
    (format!("ysync-leader:{key}"), format!("ysync-tabs:{key}"))
}

impl Leadership {
    /// Whether tabs can share a connection here: sharing on, the tabs' channel on, and Web
    /// Locks in this browser.
    pub fn possible(share: bool, cross_tab: bool) -> bool {
        share && cross_tab && Lock::supported()
    }

    /// Joins the tabs of `key`: opens the control channel (its messages go to `on_message`)
    /// and asks for the lock (`on_granted` runs once this tab leads). False if either is
    /// unavailable: then the tab connects on its own.
    pub fn join(
        &mut self,
        key: &str,
        on_message: impl Fn(Vec<u8>) + 'static,
        on_granted: impl FnOnce() + 'static,
    ) -> bool {
        let (lock, channel) = names(key);
        let Ok(control) = Channel::open(&channel, on_message) else {
            return false;
        };
        let Some(lock) = Lock::request(&lock, on_granted) else {
            return false;
        };
        self.control = Some(control);
        self.lock = Some(lock);
        true
    }

    /// Whether this provider is among the tabs (joined and not left).
    pub fn joined(&self) -> bool {
        self.lock.is_some()
    }

    /// Posts a control message to the other tabs.
    pub fn post(&self, bytes: &[u8]) {
        if let Some(c) = &self.control {
            let _ = c.post(bytes);
        }
    }

    /// Leaves the tabs: the lock is released (or the request withdrawn), the channel closed
    /// after the current event handler (whose closure may be the channel's).
    pub fn leave(&mut self) {
        self.lock = None;
        self.leader_stats = None;
        if let Some(c) = self.control.take() {
            wasm_bindgen_futures::spawn_local(async move { drop(c) });
        }
    }
}
