//! Transaction origins: who made a change. yrs carries an origin as bytes; every kind ysync
//! writes is encoded and parsed here, and here only it is decided what counts as a local edit,
//! a restore from storage, or a change from another tab.

use std::sync::atomic::{AtomicU64, Ordering};

/// The origins ysync gives its own transactions; each carries the number of what made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// An app's `transact` call (numbered per JS origin value): a local edit.
    App(u64),
    /// An app's `applyUpdate` call (numbered per JS origin value): a remote change.
    Applied(u64),
    /// A session applying what its server sent.
    Server(u64),
    /// A session applying what another tab sent over BroadcastChannel.
    Tab(u64),
    /// A persistence loading stored state: not a new change, never sent as one.
    Restore(u64),
    /// A persistence picking up rows other tabs stored: new to this document, so sent on (the
    /// tab that wrote them may have closed before it could).
    TabRows(u64),
    /// A bridge applying an edit the app made on its own Yjs document: a local edit, made
    /// under this document's client id by the replica it mirrors.
    Bridge(u64),
}

const PREFIX: &str = "ysync-";

/// Makes an origin of one kind from its number.
type Make = fn(u64) -> Origin;

const KINDS: [(&str, Make); 7] = [
    ("app-", Origin::App),
    ("apply-", Origin::Applied),
    ("server-", Origin::Server),
    ("tab-", Origin::Tab),
    ("restore-", Origin::Restore),
    ("rows-", Origin::TabRows),
    ("yjs-", Origin::Bridge),
];

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A number no other origin of this process has (for sessions and persistences).
pub fn next_number() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Origin {
    fn kind(&self) -> (&'static str, u64) {
        match *self {
            Origin::App(n) => ("app-", n),
            Origin::Applied(n) => ("apply-", n),
            Origin::Server(n) => ("server-", n),
            Origin::Tab(n) => ("tab-", n),
            Origin::Restore(n) => ("restore-", n),
            Origin::TabRows(n) => ("rows-", n),
            Origin::Bridge(n) => ("yjs-", n),
        }
    }

    /// The bytes yrs carries for this origin.
    pub fn encode(&self) -> String {
        let (kind, n) = self.kind();
        format!("{PREFIX}{kind}{n}")
    }

    /// The origin `bytes` encode, or `None` for an origin ysync did not make (an app's own,
    /// given to yrs directly).
    pub fn parse(bytes: &[u8]) -> Option<Origin> {
        let rest = std::str::from_utf8(bytes.strip_prefix(PREFIX.as_bytes())?).ok()?;
        KINDS.iter().find_map(|(kind, make)| {
            let n = rest.strip_prefix(kind)?;
            // Exactly the digits `encode` writes: no sign, no leading zero.
            let canonical = !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && (n == "0" || !n.starts_with('0'));
            canonical.then(|| n.parse().ok().map(make)).flatten()
        })
    }

    /// Whether a transaction with `origin` is a local edit, as Yjs's `transaction.local`: no
    /// origin, an app's `transact`, an edit of the app's Yjs document, or an origin the app
    /// gave yrs itself (undo included).
    pub fn is_local(origin: Option<&[u8]>) -> bool {
        match origin {
            None => true,
            Some(o) => matches!(
                Origin::parse(o),
                Some(Origin::App(_) | Origin::Bridge(_)) | None
            ),
        }
    }

    /// Whether a transaction with `origin` restores stored state.
    pub fn is_restore(origin: Option<&[u8]>) -> bool {
        matches!(origin.and_then(Origin::parse), Some(Origin::Restore(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_kind_parses_back_and_nothing_else_does() {
        for (_, make) in KINDS {
            for n in [0, 1, 42, u64::MAX] {
                let o = make(n);
                assert_eq!(Origin::parse(o.encode().as_bytes()), Some(o));
            }
        }
        for foreign in [
            &b"my-app"[..],
            b"ysync-",
            b"ysync-app-",
            b"ysync-app-01",
            b"ysync-app-+1",
            b"ysync-app-1x",
            b"ysync-server-18446744073709551616",
            b"ysync-feed",
            b"\xff\xfe",
        ] {
            assert_eq!(Origin::parse(foreign), None, "{foreign:?}");
        }
    }

    #[test]
    fn local_means_what_yjs_calls_local() {
        assert!(Origin::is_local(None));
        assert!(Origin::is_local(Some(b"my-app")));
        assert!(Origin::is_local(Some(Origin::App(3).encode().as_bytes())));
        assert!(Origin::is_local(Some(
            Origin::Bridge(3).encode().as_bytes()
        )));
        for remote in [
            Origin::Applied(1),
            Origin::Server(1),
            Origin::Tab(1),
            Origin::Restore(1),
            Origin::TabRows(1),
        ] {
            assert!(!Origin::is_local(Some(remote.encode().as_bytes())));
        }
        assert!(Origin::is_restore(Some(
            Origin::Restore(9).encode().as_bytes()
        )));
        assert!(!Origin::is_restore(Some(
            Origin::TabRows(9).encode().as_bytes()
        )));
        assert!(!Origin::is_restore(None));
    }
}
