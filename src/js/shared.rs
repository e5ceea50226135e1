//! The state a `Doc` shares with its types, observers, undo managers and drivers, and the
//! queue that keeps JS callbacks out of Rust borrows: yrs observers only queue events, and the
//! queue is flushed after the call that caused them returns (after the outermost `transact`
//! callback, inside one).

use std::cell::{Cell, RefCell, RefMut};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use yrs::{ReadTxn, Transact};

use crate::core::origin::Origin;
use crate::driver::document::Document;
use crate::js::error::{ApiError, ApiResult};
use crate::js::events::Listeners;

const OBSERVER_KEY: &str = "ysync-js-doc";

/// A JS call waiting for the current borrow or transaction to end.
pub(crate) enum Queued {
    /// `update` listeners: the update and the transaction origin.
    Update(Rc<[u8]>, JsValue),
    /// `changes` listeners: the records of one transaction and `{ origin, local }`.
    Changes(js_sys::Array, JsValue),
    /// One observer with its arguments.
    Call(js_sys::Function, js_sys::Array),
    /// Rust work that calls JS, built when it runs (what it reads may have moved on since it
    /// was queued).
    Run(Box<dyn FnOnce() -> Result<(), JsValue>>),
}

/// JS values standing for transaction origins. yrs origins are bytes; JS origins are any value,
/// compared by identity (`Object.is`) as Yjs does.
#[derive(Default)]
struct Origins {
    entries: Vec<(Vec<u8>, JsValue, u32)>,
    next: u64,
}

impl Origins {
    /// The origin of kind `kind` standing for `value` (a new one if it has none), encoded and
    /// pinned once more.
    fn acquire(&mut self, value: &JsValue, kind: fn(u64) -> Origin) -> String {
        let same_kind = |bytes: &[u8]| {
            Origin::parse(bytes)
                .is_some_and(|o| std::mem::discriminant(&o) == std::mem::discriminant(&kind(0)))
        };
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| same_kind(&e.0) && js_sys::Object::is(&e.1, value))
        {
            e.2 += 1;
            return String::from_utf8_lossy(&e.0).into_owned();
        }
        self.next += 1;
        let key = kind(self.next).encode();
        self.entries
            .push((key.clone().into_bytes(), value.clone(), 1));
        key
    }

    /// Unpins `key`; forgotten when no longer pinned.
    fn release(&mut self, key: &str) {
        if let Some(i) = self.entries.iter().position(|e| e.0 == key.as_bytes()) {
            self.entries[i].2 -= 1;
            if self.entries[i].2 == 0 {
                self.entries.swap_remove(i);
            }
        }
    }

    fn value(&self, key: &[u8]) -> JsValue {
        self.entries
            .iter()
            .find(|e| e.0 == key)
            .map(|e| e.1.clone())
            .unwrap_or_else(|| JsValue::from_str(&String::from_utf8_lossy(key)))
    }
}

/// What the yrs observers of a document share with it: they run inside a commit and may only
/// queue work.
#[derive(Default)]
pub(crate) struct Hub {
    queue: RefCell<VecDeque<Queued>>,
    origins: RefCell<Origins>,
    /// Change-feed records of the transaction being committed.
    changes: RefCell<Vec<JsValue>>,
    /// Root types the change feed observes.
    pub(crate) feed_roots: RefCell<HashSet<Arc<str>>>,
    pub(crate) listeners: Listeners,
    shared: RefCell<Weak<DocShared>>,
    /// A flush is scheduled for the next microtask.
    scheduled: Cell<bool>,
}

impl Hub {
    /// The document, for wrappers handed to observers.
    pub(crate) fn shared(&self) -> Option<Rc<DocShared>> {
        self.shared.borrow().upgrade()
    }

    /// Queues a JS call. The JS API flushes the queue before it returns; for edits made
    /// another way (a Rust app through yrs, a provider's timer) a flush runs in the next
    /// microtask, so nobody has to flush by hand. A synchronous loop of edits schedules one.
    pub(crate) fn push(&self, q: Queued) {
        self.queue.borrow_mut().push_back(q);
        if !self.scheduled.replace(true) {
            let shared = self.shared.borrow().clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(shared) = shared.upgrade() {
                    shared.hub.scheduled.set(false);
                    shared.flush_or_log();
                }
            });
        }
    }

    /// The JS origin of `txn` (null if none).
    pub(crate) fn origin(&self, txn: &yrs::TransactionMut<'_>) -> JsValue {
        match txn.origin() {
            None => JsValue::NULL,
            Some(o) => self.origins.borrow().value(o.as_ref()),
        }
    }

    /// `{ origin, local }` for `txn`, as Yjs's `transaction.origin` / `transaction.local`.
    pub(crate) fn txn_info(&self, txn: &yrs::TransactionMut<'_>) -> JsValue {
        let local = Origin::is_local(txn.origin().map(|o| o.as_ref()));
        let info = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&info, &"origin".into(), &self.origin(txn));
        let _ = js_sys::Reflect::set(&info, &"local".into(), &local.into());
        info.into()
    }

    /// Adds change-feed records of the transaction being committed.
    pub(crate) fn add_changes(&self, records: impl IntoIterator<Item = JsValue>) {
        self.changes.borrow_mut().extend(records);
    }

    /// Whether anyone listens to `event`.
    pub(crate) fn wants(&self, event: &str) -> bool {
        self.listeners.has(event)
    }
}

/// The JS functions observing one type (`deep` or not), called in the order they were added
/// (yrs keeps its own observers in no particular order, so there is one yrs observer per set).
pub(crate) type ObserverFns = Rc<RefCell<Vec<(u64, js_sys::Function)>>>;

/// One yrs observer and the JS functions it calls.
struct ObserverSet {
    fns: ObserverFns,
    unsubscribe: Box<dyn Fn()>,
}

/// A read transaction, or the write transaction `transact` holds open.
pub enum ReadView<'a> {
    /// A transaction of its own.
    Own(yrs::Transaction<'a>),
    /// The transaction of the running `transact` callback.
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

/// State shared by a `Doc`, its types and the providers attached to it.
pub struct DocShared {
    /// The transaction `transact` holds open while its callback runs. Declared before `doc` so
    /// it is dropped first: it borrows the document's store.
    current: RefCell<Option<yrs::TransactionMut<'static>>>,
    /// The yrs document.
    pub doc: yrs::Doc,
    pub(crate) hub: Rc<Hub>,
    flushing: Cell<bool>,
    next_id: Cell<u64>,
    /// Observer sets by (branch address, deep).
    observers: RefCell<HashMap<(usize, bool), ObserverSet>>,
    graveyard: RefCell<Vec<Box<dyn std::any::Any>>>,
    /// The document as the provider and the persistence drivers see it (the same yrs
    /// document, its one gate, the attached storage).
    pub document: Rc<Document>,
    /// Root wrappers handed out, by kind and name, held weakly: `getText('t')` returns the
    /// same object while the app keeps one (identity checks, as with Yjs), without the
    /// document keeping its wrappers alive (they hold the document: a cycle through JS that
    /// no garbage collector could see).
    roots: RefCell<HashMap<(u8, String), js_sys::WeakRef>>,
}

impl DocShared {
    /// The root wrapper of `kind` named `name` handed out before, if JS still holds it; else
    /// the one `make` builds, remembered.
    pub(crate) fn root_wrapper(
        &self,
        kind: u8,
        name: &str,
        make: impl FnOnce() -> ApiResult<JsValue>,
    ) -> ApiResult<JsValue> {
        let key = (kind, name.to_owned());
        let alive = self.roots.borrow().get(&key).and_then(|w| w.deref());
        if let Some(obj) = alive {
            return Ok(obj.into());
        }
        // No borrow held: making a root may flush events to JS.
        let v = make()?;
        if let Some(o) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Object>(&v) {
            self.roots.borrow_mut().insert(key, js_sys::WeakRef::new(o));
        }
        Ok(v)
    }

    pub(crate) fn new(doc: yrs::Doc) -> ApiResult<Rc<Self>> {
        let hub: Rc<Hub> = Rc::default();
        let document = Rc::new(Document::new(doc.clone()).map_err(|_| ApiError::Busy)?);
        let h = Rc::downgrade(&hub);
        // Encoded only when an `update` listener wants it, and then shared with the other
        // consumers of the document's tap.
        document.tap.add(move |t| {
            if let Some(hub) = h.upgrade() {
                if hub.wants("update") {
                    hub.push(Queued::Update(t.update(), hub.origin(t.txn())));
                }
            }
        });
        let h = Rc::downgrade(&hub);
        // Type observers ran before this: the change feed holds one transaction's records.
        let _ = doc.observe_after_transaction(OBSERVER_KEY, move |txn| {
            let Some(hub) = h.upgrade() else { return };
            let records = std::mem::take(&mut *hub.changes.borrow_mut());
            if !records.is_empty() {
                let list: js_sys::Array = records.into_iter().collect();
                hub.push(Queued::Changes(list, hub.txn_info(txn)));
            }
        });
        let shared = Rc::new(DocShared {
            current: RefCell::new(None),
            doc: doc.clone(),
            hub,
            flushing: Cell::new(false),
            next_id: Cell::new(1),
            observers: RefCell::default(),
            graveyard: RefCell::default(),
            document,
            roots: RefCell::default(),
        });
        *shared.hub.shared.borrow_mut() = Rc::downgrade(&shared);
        // Drivers deliver the document's events before their own.
        let weak = Rc::downgrade(&shared);
        shared.document.set_deliver(move || {
            if let Some(shared) = weak.upgrade() {
                shared.flush_or_log();
            }
        });
        Ok(shared)
    }

    /// Registers a JS value to stand for transactions with `origin` in events.
    pub fn register_origin(&self, origin: &[u8], value: JsValue) {
        let mut o = self.hub.origins.borrow_mut();
        o.entries.retain(|e| e.0 != origin);
        o.entries.push((origin.to_vec(), value, 1));
    }

    /// Forgets a registered origin.
    pub fn unregister_origin(&self, origin: &[u8]) {
        self.hub
            .origins
            .borrow_mut()
            .entries
            .retain(|e| e.0 != origin);
    }

    /// The key standing for the JS origin `value` in transactions made here (`local`), pinned
    /// until `release_origin`.
    pub(crate) fn acquire_origin(&self, value: &JsValue, kind: fn(u64) -> Origin) -> String {
        self.hub.origins.borrow_mut().acquire(value, kind)
    }

    /// Unpins a key from `acquire_origin`.
    pub(crate) fn release_origin(&self, key: &str) {
        self.hub.origins.borrow_mut().release(key);
    }

    /// Keeps `value` until no `transact` callback runs (yrs objects that must not be dropped
    /// inside a transaction).
    pub(crate) fn drop_later(&self, value: Box<dyn std::any::Any>) {
        self.graveyard.borrow_mut().push(value);
    }

    /// Runs the queued listener calls. Re-entrant calls (a listener that edits the document)
    /// only add to the queue the outer call is draining. Every listener runs; the first
    /// exception is returned (as Yjs rethrows it) after the queue is empty.
    pub fn flush(&self) -> Result<(), JsValue> {
        if self.flushing.replace(true) {
            return Ok(());
        }
        let mut first_err = None;
        loop {
            let next = self.hub.queue.borrow_mut().pop_front();
            let Some(item) = next else { break };
            // Listeners get two arguments by `call2`: no arguments array to build per event
            // (an update event comes with every edit).
            let (fs, a, b) = match item {
                Queued::Update(update, origin) => (
                    self.hub.listeners.get("update"),
                    js_sys::Uint8Array::from(&update[..]).into(),
                    origin,
                ),
                Queued::Changes(list, info) => {
                    (self.hub.listeners.get("changes"), list.into(), info)
                }
                Queued::Call(f, args) => {
                    if let Err(e) = f.apply(&JsValue::NULL, &args) {
                        first_err.get_or_insert(e);
                    }
                    continue;
                }
                Queued::Run(f) => {
                    if let Err(e) = f() {
                        first_err.get_or_insert(e);
                    }
                    continue;
                }
            };
            for f in fs {
                if let Err(e) = f.call2(&JsValue::NULL, &a, &b) {
                    first_err.get_or_insert(e);
                }
            }
        }
        self.flushing.set(false);
        first_err.map_or(Ok(()), Err)
    }

    /// `flush` for callers with no JS caller to throw to (network, storage, timers): an
    /// exception from a listener is printed.
    pub fn flush_or_log(&self) {
        if let Err(e) = self.flush() {
            web_sys::console::error_2(&"ysync: a document listener threw".into(), &e);
        }
    }

    /// Runs `f` in one transaction with `origin` (any JS value), as Yjs's `doc.transact`;
    /// nested calls join the open transaction. Events are delivered when the outermost call
    /// returns.
    pub(crate) fn transact(&self, f: &js_sys::Function, origin: JsValue) -> ApiResult<JsValue> {
        // Nested: `f` joins the open transaction and gets its `{ origin, local }`.
        let open = self
            .current
            .try_borrow()
            .map_err(|_| ApiError::Busy)?
            .as_ref()
            .map(|txn| self.hub.txn_info(txn));
        if let Some(info) = open {
            return f.call1(&JsValue::NULL, &info).map_err(ApiError::Listener);
        }
        let key = (!origin.is_undefined() && !origin.is_null())
            .then(|| self.acquire_origin(&origin, Origin::App));
        let opened = match &key {
            Some(k) => self.doc.try_transact_mut_with(k.as_str()),
            None => self.doc.try_transact_mut(),
        };
        let txn = match opened {
            Ok(t) => t,
            Err(_) => {
                if let Some(k) = &key {
                    self.release_origin(k);
                }
                return Err(ApiError::Busy);
            }
        };
        let info = self.hub.txn_info(&txn);
        // SAFETY: the transaction borrows `self.doc`. It is stored in `self.current`, taken
        // back out and dropped (committed) below before this function returns, and the caller
        // keeps `self` alive meanwhile; `current` is also declared before `doc`, so even a
        // leaked transaction would be dropped before the document.
        let txn: yrs::TransactionMut<'static> =
            unsafe { std::mem::transmute::<yrs::TransactionMut<'_>, _>(txn) };
        *self.current.borrow_mut() = Some(txn);
        let result = f.call1(&JsValue::NULL, &info);
        let txn = self.current.borrow_mut().take();
        drop(txn);
        let dead = std::mem::take(&mut *self.graveyard.borrow_mut());
        drop(dead);
        if let Some(k) = &key {
            self.release_origin(k);
        }
        let flushed = self.flush();
        let v = result.map_err(ApiError::Listener)?;
        flushed.map_err(ApiError::Listener)?;
        Ok(v)
    }

    /// Whether a `transact` callback is running.
    pub(crate) fn in_transaction(&self) -> bool {
        self.current.try_borrow().map_or(true, |c| c.is_some())
    }

    /// Runs `f` in the open `transact` transaction, or in a new one with `origin` whose events
    /// are delivered when `f` returns.
    pub(crate) fn edit_with<T>(
        &self,
        origin: Option<&str>,
        f: impl FnOnce(&mut yrs::TransactionMut<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        {
            let mut cur = self.current.try_borrow_mut().map_err(|_| ApiError::Busy)?;
            if let Some(txn) = cur.as_mut() {
                return f(txn);
            }
        }
        let out = {
            let mut txn = match origin {
                Some(o) => self.doc.try_transact_mut_with(o),
                None => self.doc.try_transact_mut(),
            }
            .map_err(|_| ApiError::Busy)?;
            f(&mut txn)
        };
        let flushed = self.flush();
        let v = out?;
        flushed.map_err(ApiError::Listener)?;
        Ok(v)
    }

    /// Applies a checked v1 update through the document's gate in a transaction with
    /// origin `key` (or in the open `transact` one), then the blocks other origins held that
    /// it filled a gap for, each under its own origin. Blocks refused over a cap are reported
    /// as the typed error; the rest is in. With `give`, the tap takes those bytes as the
    /// transaction's update when they went in whole (they are the same update, already
    /// encoded).
    pub(crate) fn apply_gated(
        &self,
        key: &str,
        update: &[u8],
        give: Option<&Rc<[u8]>>,
    ) -> ApiResult<()> {
        let limits = crate::core::validate::Limits::default();
        let result = self.edit_with(Some(key), |txn| {
            let applied = self
                .document
                .gate
                .borrow_mut()
                .apply(txn, update, &limits)
                .map_err(ApiError::from)?;
            if let (true, Some(bytes)) = (applied.whole, give) {
                self.document.tap.give(bytes.clone());
            }
            Ok(applied)
        });
        self.document.tap.forget_given();
        if let Some(e) = result?.error() {
            return Err(ApiError::Sync(e));
        }
        // Not inside a `transact` callback: its transaction is still open.
        if !self.in_transaction() && self.document.gate.borrow_mut().settle(&self.doc, &limits) {
            self.flush().map_err(ApiError::Listener)?;
        }
        Ok(())
    }

    /// `edit_with` without an origin.
    pub(crate) fn edit<T>(
        &self,
        f: impl FnOnce(&mut yrs::TransactionMut<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        self.edit_with(None, f)
    }

    /// A transaction to read with: the open `transact` one, or a new read transaction.
    pub(crate) fn read(&self) -> ApiResult<ReadView<'_>> {
        let cur = self.current.try_borrow_mut().map_err(|_| ApiError::Busy)?;
        match RefMut::filter_map(cur, |c| c.as_mut()) {
            Ok(txn) => Ok(ReadView::Open(txn)),
            Err(_) => self
                .doc
                .try_transact()
                .map(ReadView::Own)
                .map_err(|_| ApiError::Busy),
        }
    }

    /// A fresh id for observers and subscriptions.
    pub(crate) fn next_id(&self) -> u64 {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        n
    }

    /// Adds `f` to the observers of `target`; `subscribe` makes the yrs observer when the
    /// set is new (it gets the set and returns how to unsubscribe).
    pub(crate) fn add_observer(
        &self,
        target: (usize, bool),
        f: js_sys::Function,
        subscribe: impl FnOnce(ObserverFns) -> Box<dyn Fn()>,
    ) -> u64 {
        let id = self.next_id();
        let mut sets = self.observers.borrow_mut();
        let set = sets.entry(target).or_insert_with(|| {
            let fns: ObserverFns = Rc::default();
            ObserverSet {
                unsubscribe: subscribe(fns.clone()),
                fns,
            }
        });
        set.fns.borrow_mut().push((id, f));
        id
    }

    /// Removes observers: the one with `id`, or those of `target` calling `f`. The yrs
    /// observer goes with the last function of its set.
    pub(crate) fn remove_observers(
        &self,
        pick: impl Fn(u64, (usize, bool), &js_sys::Function) -> bool,
    ) {
        let emptied: Vec<ObserverSet> = {
            let mut sets = self.observers.borrow_mut();
            for (t, set) in sets.iter() {
                set.fns.borrow_mut().retain(|(id, f)| !pick(*id, *t, f));
            }
            let empty: Vec<(usize, bool)> = sets
                .iter()
                .filter(|(_, s)| s.fns.borrow().is_empty())
                .map(|(t, _)| *t)
                .collect();
            empty.iter().filter_map(|t| sets.remove(t)).collect()
        };
        for set in emptied {
            (set.unsubscribe)();
        }
    }
}

impl Drop for DocShared {
    fn drop(&mut self) {
        // An open transaction (impossible outside `transact`) commits before the document goes.
        self.current.get_mut().take();
        let _ = self.doc.unobserve_after_transaction(OBSERVER_KEY);
    }
}
