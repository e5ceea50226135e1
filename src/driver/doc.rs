//! `Doc`, the document of a Rust web app: a yrs document behind ysync's checks (every update
//! from outside is validated and goes through the document's one gate), with Rust update
//! events delivered after the transaction, and the handle providers and persistences take.
//! The JS `Doc` class (`js::doc`) is a thin wrapper around it.

use std::rc::Rc;

use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{OffsetKind, Options, ReadTxn};

use crate::core::error::DecodeError;
use crate::core::gate::DEFAULT_BUDGET;
use crate::core::origin::{self, Origin};
use crate::core::validate::{self, Limits};
use crate::driver::document::{AsDocument, Document, ReadView};
use crate::driver::error::{Error, Result};
use crate::driver::subscribers::{Subscribers, Subscription};

/// How a document is made.
#[derive(Debug, Clone)]
pub struct DocConfig {
    /// This replica's client id (below 2^53). `None`: a random 32-bit number, as Yjs draws
    /// it (yrs's own default has 53 bits, which servers embedding older yrs, y-sweet 0.9,
    /// truncate to 32, so they would echo this client's edits back as another client's).
    pub client_id: Option<u64>,
    /// Memory budget of the document, bytes: an update from a server, storage or
    /// [`Doc::apply_update`] whose estimated cost would pass it is refused whole, instead of
    /// exhausting the wasm instance's memory.
    pub max_memory: u64,
}

impl Default for DocConfig {
    fn default() -> Self {
        DocConfig {
            client_id: None,
            max_memory: DEFAULT_BUDGET,
        }
    }
}

/// One committed transaction that changed the document, as [`Doc::subscribe_update`]
/// listeners get it (Yjs's `update` event).
#[derive(Debug, Clone)]
pub struct UpdateEvent {
    /// The transaction as a v1 update (the same bytes the providers and storage got).
    pub update: Rc<[u8]>,
    /// The transaction's origin, as yrs carries it.
    pub origin: Option<Vec<u8>>,
    /// Whether it was a local edit (Yjs's `transaction.local`), not a change from a server,
    /// another tab, storage or [`Doc::apply_update`].
    pub local: bool,
}

struct Shared {
    document: Rc<Document>,
    updates: Subscribers<UpdateEvent>,
    /// The origin of [`Doc::apply_update`]'s transactions: a remote change.
    applied: String,
}

/// A Yjs-compatible document (text positions count UTF-16 code units, as in Yjs). Cloning
/// gives another handle to the same document.
#[derive(Clone)]
pub struct Doc {
    shared: Rc<Shared>,
}

impl AsDocument for Doc {
    fn document(&self) -> Rc<Document> {
        self.shared.document.clone()
    }
}

impl Doc {
    /// A new empty document.
    pub fn new(config: DocConfig) -> Result<Doc> {
        let client_id = match config.client_id {
            Some(id) if id > validate::MAX_CLIENT_ID => {
                return Err(Error::InvalidArgument(
                    "clientID must be an integer in [0, 2^53)".into(),
                ))
            }
            Some(id) => id,
            None => u64::from(fastrand::u32(..)),
        };
        let ydoc = yrs::Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            client_id: yrs::ClientID::new(client_id),
            ..Options::default()
        });
        let document = Document::new(ydoc)?;
        document.gate.borrow_mut().set_budget(config.max_memory);
        let shared = Rc::new(Shared {
            document,
            updates: Subscribers::default(),
            applied: Origin::Applied(origin::next_number()).encode(),
        });
        let weak = Rc::downgrade(&shared);
        shared.document.tap.add(move |t| {
            let Some(shared) = weak.upgrade() else { return };
            if shared.updates.is_empty() {
                return;
            }
            let origin = t.origin_bytes().map(<[u8]>::to_vec);
            let event = UpdateEvent {
                update: t.update(),
                local: Origin::is_local(origin.as_deref()),
                origin,
            };
            let weak = Rc::downgrade(&shared);
            shared.document.defer(Box::new(move || {
                if let Some(shared) = weak.upgrade() {
                    shared.updates.call(&event);
                }
                Ok(())
            }));
        });
        Ok(Doc { shared })
    }

    /// The shared document, for this crate's layers.
    pub(crate) fn inner(&self) -> &Rc<Document> {
        &self.shared.document
    }

    /// The yrs document: every yrs type and transaction, in Rust. Edits made on it directly
    /// are seen by providers, storage and listeners like any other (listeners hear about them
    /// in the next microtask).
    pub fn ydoc(&self) -> &yrs::Doc {
        &self.shared.document.ydoc
    }

    /// This replica's client id.
    pub fn client_id(&self) -> u64 {
        self.ydoc().client_id().get()
    }

    /// Calls `f` after every transaction that changed the document, with no borrow held (it
    /// may edit the document: that is a new transaction), until the subscription is dropped.
    pub fn subscribe_update(
        &self,
        f: impl Fn(&UpdateEvent) + 'static,
    ) -> Subscription<UpdateEvent> {
        self.shared.updates.add(f)
    }

    /// Runs `f` in one transaction, joining the one [`transact`](Self::transact) holds open if
    /// any; listeners hear about it when it commits, before this returns.
    pub fn edit<T>(&self, f: impl FnOnce(&mut yrs::TransactionMut<'_>) -> T) -> Result<T> {
        self.shared.document.edit_with(None, |txn| Ok(f(txn)))
    }

    /// Runs `f` with one transaction held open under `origin` (as Yjs's `doc.transact`): every
    /// [`edit`](Self::edit) and [`apply_update`](Self::apply_update) made meanwhile joins it,
    /// so it commits as one update with one event per listener.
    pub fn transact<T>(&self, origin: Option<&str>, f: impl FnOnce() -> T) -> Result<T> {
        self.shared.document.transact(origin, || Ok(f()))
    }

    /// A transaction to read with (the one held open, if any).
    pub fn read(&self) -> Result<ReadView<'_>> {
        self.shared.document.read()
    }

    /// Applies a v1 update (Yjs's `applyUpdate`) as a remote change: checked before yrs reads
    /// it, and applied through the document's clock-order gate (blocks that wait for a gap
    /// are held until any path fills it).
    pub fn apply_update(&self, update: &[u8]) -> Result<()> {
        self.apply_update_as(&self.shared.applied, update)
    }

    /// [`apply_update`](Self::apply_update) for a v2 update (Yjs's `applyUpdateV2`): checked by
    /// the v2 rules, decoded, then applied as its v1 form through the same checks.
    pub fn apply_update_v2(&self, update: &[u8]) -> Result<()> {
        self.apply_update_v2_as(&self.shared.applied, update)
    }

    /// The origin key of [`apply_update`](Self::apply_update)'s transactions.
    pub(crate) fn applied_key(&self) -> &str {
        &self.shared.applied
    }

    /// [`apply_update`](Self::apply_update) under the origin `key` (one of `core::origin`'s).
    pub fn apply_update_as(&self, key: &str, update: &[u8]) -> Result<()> {
        // Checked by the gate, which walks the whole update before yrs reads any of it (a
        // check here first would read every byte twice).
        self.shared.document.apply_gated(key, update, None)
    }

    /// [`apply_update_v2`](Self::apply_update_v2) under the origin `key`.
    pub fn apply_update_v2_as(&self, key: &str, update: &[u8]) -> Result<()> {
        let limits = Limits::default();
        validate::update_v2(update, &limits)?;
        let v1 = yrs::Update::decode_v2(update)
            .map_err(|e| DecodeError::Yrs(e.to_string()))?
            .encode_v1();
        self.apply_update_as(key, &v1)
    }

    /// The document's state vector (v1).
    pub fn encode_state_vector(&self) -> Result<Vec<u8>> {
        let txn = self.read()?;
        Ok(crate::core::frame::encode_state_vector(&txn.state_vector()))
    }

    /// Everything the holder of `state_vector` (checked first) lacks, everything if `None`, as
    /// a v1 update.
    pub fn encode_state_as_update(&self, state_vector: Option<&[u8]>) -> Result<Vec<u8>> {
        let sv = state_vector_arg(state_vector)?;
        let txn = self.read()?;
        Ok(txn.encode_state_as_update_v1(&sv))
    }

    /// [`encode_state_as_update`](Self::encode_state_as_update) as a v2 update. Not yrs's own
    /// v2 encoder: it corrupts binary content (see `core::update_v2`).
    pub fn encode_state_as_update_v2(&self, state_vector: Option<&[u8]>) -> Result<Vec<u8>> {
        let sv = state_vector_arg(state_vector)?;
        let txn = self.read()?;
        Ok(crate::core::update_v2::encode_state_as_update(&txn, &sv)?)
    }
}

/// A checked state vector; `None` is the empty one (everything).
pub fn state_vector_arg(bytes: Option<&[u8]>) -> Result<yrs::StateVector> {
    let Some(b) = bytes else {
        return Ok(yrs::StateVector::default());
    };
    validate::state_vector(b)?;
    Ok(yrs::StateVector::decode_v1(b).map_err(|e| DecodeError::Yrs(e.to_string()))?)
}
