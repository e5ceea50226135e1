//! The document the drivers run against: the yrs document, its one clock-order gate, the
//! storage attached to it, and how its own listeners get the events it queued.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use crate::core::gate::SharedGate;
use crate::core::tap::{Tap, TapBusy};

/// What a stored acknowledged state vector read gives: `Err` if storage failed (it reports
/// that itself), `Ok(None)` if nothing was stored.
pub type Acknowledged = Pin<Box<dyn Future<Output = Result<Option<Vec<u8>>, ()>>>>;

/// Local storage attached to a document, as seen by providers: where to keep the state vector
/// the server acknowledged, per server room.
pub trait AckStorage {
    /// The acknowledged state vector stored for `key`, once the stored state is loaded.
    fn acknowledged(&self, key: &str) -> Acknowledged;
    /// Stores the acknowledged state vector for `key`.
    fn save_acknowledged(&self, key: &str, state_vector: &[u8]);
    /// How many storage operations failed so far (each is reported as an event by the store).
    fn failures(&self) -> u64;
}

/// One document as the provider and the persistence share it.
pub struct Document {
    /// The yrs document.
    pub ydoc: yrs::Doc,
    /// Blocks waiting for a gap to fill, whichever path (server, tabs, storage,
    /// `applyUpdate`) brought them: one gate per document.
    pub gate: SharedGate,
    /// Every committed change, classified and encoded once, for every consumer (sessions,
    /// storage, the document's listeners): one tap per document.
    pub tap: Rc<Tap>,
    store: RefCell<Option<Weak<dyn AckStorage>>>,
    deliver: RefCell<Option<Box<dyn Fn()>>>,
}

impl Document {
    /// A document around `ydoc`, with no storage and nobody listening. Fails if `ydoc` has a
    /// transaction open.
    pub fn new(ydoc: yrs::Doc) -> Result<Self, TapBusy> {
        Ok(Document {
            tap: Rc::new(Tap::attach(&ydoc)?),
            ydoc,
            gate: SharedGate::default(),
            store: RefCell::new(None),
            deliver: RefCell::new(None),
        })
    }

    /// Attaches local storage (the last one attached wins).
    pub fn set_local_store(&self, store: Weak<dyn AckStorage>) {
        *self.store.borrow_mut() = Some(store);
    }

    /// The attached local storage, if any is alive.
    pub fn local_store(&self) -> Option<Rc<dyn AckStorage>> {
        self.store.borrow().as_ref().and_then(|w| w.upgrade())
    }

    /// How the document's own listeners get what it queued (set by the layer that owns them).
    pub fn set_deliver(&self, f: impl Fn() + 'static) {
        *self.deliver.borrow_mut() = Some(Box::new(f));
    }

    /// Delivers the document's queued events; drivers call it before their own events, so a
    /// listener of theirs sees the document already told about the change. Called with no
    /// borrow held.
    pub fn deliver(&self) {
        if let Some(f) = &*self.deliver.borrow() {
            f();
        }
    }
}

/// What a driver can run against: a [`Document`], or anything that has one (the crate-root
/// `Doc`).
pub trait AsDocument {
    /// The document.
    fn document(&self) -> Rc<Document>;
}

impl AsDocument for Rc<Document> {
    fn document(&self) -> Rc<Document> {
        self.clone()
    }
}
