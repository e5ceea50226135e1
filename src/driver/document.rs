//! The document the drivers run against: the yrs document, its one clock-order gate, its one
//! tap, the storage attached to it, the transaction an app holds open, and the queue that
//! keeps listeners out of Rust borrows (yrs observers and taps only queue work; the queue is
//! run after the call that caused it returns, or in the next microtask for edits made
//! another way).

use std::any::Any;
use std::cell::{Cell, RefCell, RefMut};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};

use wasm_bindgen::JsValue;
use yrs::{ReadTxn, Transact};

use crate::core::gate::SharedGate;
use crate::core::tap::Tap;
use crate::core::validate::Limits;
use crate::driver::error::{Error, Result};

/// What a stored acknowledged state vector read gives: `Err` if storage failed (it reports
/// that itself), `Ok(None)` if nothing was stored.
pub type Acknowledged = Pin<Box<dyn Future<Output = std::result::Result<Option<Vec<u8>>, ()>>>>;

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

/// Work for a listener, run once no borrow is held. An `Err` is a JS exception a listener
/// threw: the queue goes on, and the first one is handed to the caller.
pub type Deferred = Box<dyn FnOnce() -> std::result::Result<(), JsValue>>;

/// A read transaction, or the write transaction an app holds open.
pub enum ReadView<'a> {
    /// A transaction of its own.
    Own(yrs::Transaction<'a>),
    /// The transaction held open by [`Document::transact`].
    Open(RefMut<'a, yrs::TransactionMut<'static>>),
}

impl ReadTxn for ReadView<'_> {
    fn store(&self) -> &yrs::Store {
        match self {
            ReadView::Own(t) => ReadTxn::store(t),
            ReadView::Open(t) => ReadTxn::store(&**t),
        }
    }
}

/// One document as its handles (`Doc`, the JS `Doc`), the providers and the persistence share
/// it.
pub struct Document {
    /// The transaction `transact` holds open while its callback runs. Declared before `ydoc`
    /// so it is dropped first: it borrows the document's store.
    current: RefCell<Option<yrs::TransactionMut<'static>>>,
    /// The yrs document.
    pub ydoc: yrs::Doc,
    /// Blocks waiting for a gap to fill, whichever path (server, tabs, storage,
    /// `applyUpdate`) brought them: one gate per document.
    pub gate: SharedGate,
    /// Every committed change, classified and encoded once, for every consumer (sessions,
    /// storage, the document's listeners): one tap per document.
    pub tap: Rc<Tap>,
    store: RefCell<Option<Weak<dyn AckStorage>>>,
    queue: RefCell<VecDeque<Deferred>>,
    flushing: Cell<bool>,
    /// A run of the queue is scheduled for the next microtask.
    scheduled: Cell<bool>,
    /// yrs objects that must not be dropped inside the open transaction.
    graveyard: RefCell<Vec<Box<dyn Any>>>,
    me: Weak<Document>,
}

impl Document {
    /// A document around `ydoc`, with no storage and nobody listening. Fails if `ydoc` has a
    /// transaction open.
    pub fn new(ydoc: yrs::Doc) -> Result<Rc<Self>> {
        let tap = Rc::new(Tap::attach(&ydoc).map_err(|_| Error::Busy)?);
        Ok(Rc::new_cyclic(|me| Document {
            current: RefCell::new(None),
            ydoc,
            gate: SharedGate::default(),
            tap,
            store: RefCell::new(None),
            queue: RefCell::default(),
            flushing: Cell::new(false),
            scheduled: Cell::new(false),
            graveyard: RefCell::default(),
            me: me.clone(),
        }))
    }

    /// Attaches local storage (the last one attached wins).
    pub fn set_local_store(&self, store: Weak<dyn AckStorage>) {
        *self.store.borrow_mut() = Some(store);
    }

    /// The attached local storage, if any is alive.
    pub fn local_store(&self) -> Option<Rc<dyn AckStorage>> {
        self.store.borrow().as_ref().and_then(|w| w.upgrade())
    }

    /// Queues work for a listener. The document's own calls run the queue before they return;
    /// for edits made another way (a Rust app through yrs, a provider's timer) it runs in the
    /// next microtask, so nobody has to run it by hand.
    pub fn defer(&self, work: Deferred) {
        self.queue.borrow_mut().push_back(work);
        if !self.scheduled.replace(true) {
            let me = self.me.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(doc) = me.upgrade() {
                    doc.scheduled.set(false);
                    doc.deliver();
                }
            });
        }
    }

    /// Runs the queued work. A re-entrant call (a listener that edits the document) only adds
    /// to the queue the outer call is draining. Everything runs; the first exception is
    /// returned (as Yjs rethrows it) once the queue is empty.
    pub fn flush(&self) -> std::result::Result<(), JsValue> {
        if self.flushing.replace(true) {
            return Ok(());
        }
        let mut first_err = None;
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(work) = next else { break };
            if let Err(e) = work() {
                first_err.get_or_insert(e);
            }
        }
        self.flushing.set(false);
        first_err.map_or(Ok(()), Err)
    }

    /// Runs the queued work for callers with no JS caller to throw to (drivers call it before
    /// their own events, so their listeners see the document already told about a change;
    /// the network, storage, timers): an exception from a listener is printed.
    pub fn deliver(&self) {
        if let Err(e) = self.flush() {
            web_sys::console::error_2(&"ysync: a document listener threw".into(), &e);
        }
    }

    /// [`flush`](Self::flush) as this crate's error.
    fn flushed(&self) -> Result<()> {
        self.flush().map_err(Error::Listener)
    }

    /// Runs `f` with a transaction open under `origin`: every edit made meanwhile through this
    /// document ([`edit_with`](Self::edit_with), [`apply_gated`](Self::apply_gated), reads) joins
    /// it, so it commits as one update, and the queued work runs when the outermost call
    /// returns. A nested call joins the open transaction (its `origin` is not used). An error
    /// of `f` comes first, then the first a listener threw.
    pub fn transact<T>(&self, origin: Option<&str>, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.in_transaction() {
            return f();
        }
        let txn = match origin {
            Some(o) => self.ydoc.try_transact_mut_with(o),
            None => self.ydoc.try_transact_mut(),
        }
        .map_err(|_| Error::Busy)?;
        // SAFETY: the transaction borrows `self.ydoc`. It is stored in `self.current`, taken
        // back out and dropped (committed) below before this function returns, and the caller
        // keeps `self` alive meanwhile; `current` is also declared before `ydoc`, so even a
        // leaked transaction would be dropped before the document.
        let txn: yrs::TransactionMut<'static> =
            unsafe { std::mem::transmute::<yrs::TransactionMut<'_>, _>(txn) };
        *self.current.borrow_mut() = Some(txn);
        let result = f();
        let txn = self.current.borrow_mut().take();
        drop(txn);
        let dead = std::mem::take(&mut *self.graveyard.borrow_mut());
        drop(dead);
        let flushed = self.flushed();
        let v = result?;
        flushed?;
        Ok(v)
    }

    /// What `f` reads of the open transaction, if [`transact`](Self::transact) holds one.
    pub fn with_open<R>(&self, f: impl FnOnce(&yrs::TransactionMut<'_>) -> R) -> Result<Option<R>> {
        let cur = self.current.try_borrow().map_err(|_| Error::Busy)?;
        Ok(cur.as_ref().map(f))
    }

    /// Whether [`transact`](Self::transact) holds a transaction open (or is busy with it).
    pub fn in_transaction(&self) -> bool {
        self.current.try_borrow().map_or(true, |c| c.is_some())
    }

    /// Runs `f` in the open transaction, or in a new one with `origin` whose queued work runs
    /// when `f` returns.
    pub fn edit_with<T>(
        &self,
        origin: Option<&str>,
        f: impl FnOnce(&mut yrs::TransactionMut<'_>) -> Result<T>,
    ) -> Result<T> {
        {
            let mut cur = self.current.try_borrow_mut().map_err(|_| Error::Busy)?;
            if let Some(txn) = cur.as_mut() {
                return f(txn);
            }
        }
        let out = {
            let mut txn = match origin {
                Some(o) => self.ydoc.try_transact_mut_with(o),
                None => self.ydoc.try_transact_mut(),
            }
            .map_err(|_| Error::Busy)?;
            f(&mut txn)
        };
        let flushed = self.flushed();
        let v = out?;
        flushed?;
        Ok(v)
    }

    /// A transaction to read with: the open one, or a new read transaction.
    pub fn read(&self) -> Result<ReadView<'_>> {
        let cur = self.current.try_borrow_mut().map_err(|_| Error::Busy)?;
        match RefMut::filter_map(cur, |c| c.as_mut()) {
            Ok(txn) => Ok(ReadView::Open(txn)),
            Err(_) => self
                .ydoc
                .try_transact()
                .map(ReadView::Own)
                .map_err(|_| Error::Busy),
        }
    }

    /// Keeps `value` until no transaction is held open (yrs objects that must not be dropped
    /// inside one).
    pub fn drop_later(&self, value: Box<dyn Any>) {
        self.graveyard.borrow_mut().push(value);
    }

    /// Applies a v1 update through the document's gate (which checks it before yrs reads it)
    /// in a transaction with origin `key` (or in the open one), then the blocks other origins
    /// held that it filled a gap for, each under its own origin. Blocks refused over a cap are
    /// reported as the typed error; the rest is in. With `give`, the tap takes those bytes as
    /// the transaction's update when they went in whole (they are the same update, already
    /// encoded).
    pub fn apply_gated(&self, key: &str, update: &[u8], give: Option<&Rc<[u8]>>) -> Result<()> {
        let limits = Limits::default();
        let result = self.edit_with(Some(key), |txn| {
            let applied = self.gate.borrow_mut().apply(txn, update, &limits)?;
            if let (true, Some(bytes)) = (applied.whole, give) {
                self.tap.give(bytes.clone());
            }
            Ok(applied)
        });
        self.tap.forget_given();
        if let Some(e) = result?.error() {
            return Err(Error::Sync(e));
        }
        // Not while a transaction is held open: blocks it released join it when it commits.
        if !self.in_transaction() && self.gate.borrow_mut().settle(&self.ydoc, &limits) {
            self.flushed()?;
        }
        Ok(())
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        // An open transaction (impossible outside `transact`) commits before the document goes.
        self.current.get_mut().take();
    }
}

/// What a driver can run against: a [`Document`], or anything that has one (the crate-root
/// `Doc`, the JS `Doc`).
pub trait AsDocument {
    /// The document.
    fn document(&self) -> Rc<Document>;
}

impl AsDocument for Rc<Document> {
    fn document(&self) -> Rc<Document> {
        self.clone()
    }
}
