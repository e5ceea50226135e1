//! The Hocuspocus provider: the provider driver speaking the Hocuspocus dialect
//! ([`core::hocuspocus`](crate::core::hocuspocus)) to `@hocuspocus/server`.
//!
//! Everything the y-websocket provider does (backoff with jitter, heartbeat, online and
//! visibility, cross-tab sync, persistence of what was acknowledged, input checked before
//! yrs) is the same driver; what differs is the frame format, the token (sent in the first
//! message, never in the URL), the server's scope, the per-update acknowledgement (sync
//! status) and the application ("stateless") messages.

use crate::core::hocuspocus::Hocuspocus;
use crate::driver::document::AsDocument;
use crate::driver::error::Result;
use crate::driver::multiplex::HocuspocusProviderWebsocket;
use crate::driver::provider::{ProviderConfig, TokenIn, WebsocketProvider};

/// Hocuspocus's reconnect delay cap (`maxDelay`), ms.
pub const MAX_DELAY_MS: u64 = 30_000;

/// The defaults of `@hocuspocus/provider`, where they differ from y-websocket's.
pub fn default_config() -> ProviderConfig {
    ProviderConfig {
        max_backoff_ms: MAX_DELAY_MS,
        token_in: TokenIn::Message,
        ..ProviderConfig::default()
    }
}

/// Real-time sync of a document with a Hocuspocus server. Dropping it disconnects and releases
/// every listener, timer, channel and socket. The provider methods (waits, status, awareness,
/// stats, subscribe) are those of [`WebsocketProvider`], through `Deref`.
pub struct HocuspocusProvider {
    provider: WebsocketProvider,
}

impl HocuspocusProvider {
    /// Syncs `doc` with the document `name` of the Hocuspocus server at `url` (`ws://` or
    /// `wss://`; the server ignores the path, and the query reaches its hooks). The token, if
    /// `cfg.token` gives one, goes in the first message: `cfg.token_in` is ignored.
    pub fn new(
        url: &str,
        name: &str,
        doc: &dyn AsDocument,
        cfg: ProviderConfig,
    ) -> Result<HocuspocusProvider> {
        let url = url.trim_end_matches('/').to_owned();
        // The other tabs and storage know this document by server and name.
        let key = format!("{url}#{name}");
        let cfg = ProviderConfig {
            token_in: TokenIn::Message,
            ..cfg
        };
        let provider =
            WebsocketProvider::start(url, key, Box::new(Hocuspocus::new(name)), doc, cfg, None)?;
        Ok(HocuspocusProvider { provider })
    }

    /// Syncs `doc` with the document `name` over `websocket`, a socket shared with other
    /// documents of the same server (its URL and parameters are used; `cfg.params` is
    /// ignored). `cfg.connect` says whether to attach right away; `disconnect` detaches this
    /// document only (a `close` message for it), and `destroy` leaves the socket to the others.
    /// Fails if a provider of the same document is already on that socket.
    pub fn with_websocket(
        websocket: &HocuspocusProviderWebsocket,
        name: &str,
        doc: &dyn AsDocument,
        cfg: ProviderConfig,
    ) -> Result<HocuspocusProvider> {
        let url = websocket.url();
        let key = format!("{url}#{name}");
        let cfg = ProviderConfig {
            token_in: TokenIn::Message,
            ..cfg
        };
        let provider = WebsocketProvider::start(
            url,
            key,
            Box::new(Hocuspocus::new(name)),
            doc,
            cfg,
            Some((websocket.hub(), name.to_owned())),
        )?;
        Ok(HocuspocusProvider { provider })
    }

    /// Sends an application message to the server (its `onStateless` hook); false when not
    /// connected.
    pub fn send_stateless(&self, payload: &str) -> bool {
        self.provider.send_stateless(payload)
    }

    /// The scope the server granted (`read-write` or `readonly`), once authenticated.
    pub fn authorized_scope(&self) -> Option<String> {
        self.provider.authorized_scope()
    }

    /// The provider driver underneath (for the JS class).
    pub(crate) fn into_inner(self) -> WebsocketProvider {
        self.provider
    }
}

impl std::ops::Deref for HocuspocusProvider {
    type Target = WebsocketProvider;

    fn deref(&self) -> &WebsocketProvider {
        &self.provider
    }
}
