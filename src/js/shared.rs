//! What a JS `Doc` shares with its types, observers and undo managers beyond the Rust
//! document (`driver::doc`): the JS values standing for origins, the listener functions and
//! observer sets, and the wrappers handed out. JS calls are queued on the document's queue,
//! which runs after the call that caused them returns (after the outermost `transact`
//! callback, inside one).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use yrs::branch::BranchID;

use crate::core::origin::Origin;
use crate::driver::document::Document;
pub use crate::driver::document::ReadView;
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
    origins: RefCell<Origins>,
    /// Change-feed records of the transaction being committed.
    changes: RefCell<Vec<JsValue>>,
    /// Root types the change feed observes.
    pub(crate) feed_roots: RefCell<HashSet<Arc<str>>>,
    pub(crate) listeners: Listeners,
    shared: RefCell<Weak<DocShared>>,
    document: RefCell<Weak<Document>>,
}

impl Hub {
    /// The document, for wrappers handed to observers.
    pub(crate) fn shared(&self) -> Option<Rc<DocShared>> {
        self.shared.borrow().upgrade()
    }

    /// Queues a JS call on the document's queue (run after the call that caused it, or in
    /// the next microtask; see `driver::document`).
    pub(crate) fn push(self: &Rc<Self>, q: Queued) {
        let Some(document) = self.document.borrow().upgrade() else {
            return;
        };
        let hub = Rc::downgrade(self);
        document.defer(Box::new(move || match q {
            Queued::Call(f, args) => f.apply(&JsValue::NULL, &args).map(|_| ()),
            Queued::Run(f) => f(),
            Queued::Update(update, origin) => {
                let Some(hub) = hub.upgrade() else {
                    return Ok(());
                };
                // Listeners get two arguments by `call2`: no arguments array to build per
                // event (an update event comes with every edit).
                let update: JsValue = js_sys::Uint8Array::from(&update[..]).into();
                hub.call_all("update", &update, &origin)
            }
            Queued::Changes(list, info) => {
                let Some(hub) = hub.upgrade() else {
                    return Ok(());
                };
                hub.call_all("changes", &list.into(), &info)
            }
        }));
    }

    /// Calls every listener of `event` with `(a, b)`; all run, the first exception is kept.
    fn call_all(&self, event: &str, a: &JsValue, b: &JsValue) -> Result<(), JsValue> {
        let mut first_err = None;
        for f in self.listeners.get(event) {
            if let Err(e) = f.call2(&JsValue::NULL, a, b) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
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
        info(
            &self.origin(txn),
            Origin::is_local(txn.origin().map(|o| o.as_ref())),
        )
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

/// `{ origin, local }`.
fn info(origin: &JsValue, local: bool) -> JsValue {
    let info = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&info, &"origin".into(), origin);
    let _ = js_sys::Reflect::set(&info, &"local".into(), &local.into());
    info.into()
}

/// The JS functions observing one type (`deep` or not), called in the order they were added
/// (yrs keeps its own observers in no particular order, so there is one yrs observer per set).
pub(crate) type ObserverFns = Rc<RefCell<Vec<(u64, js_sys::Function)>>>;

/// One yrs observer and the JS functions it calls.
struct ObserverSet {
    fns: ObserverFns,
    unsubscribe: Box<dyn Fn()>,
}

/// State shared by a JS `Doc`, its types and the providers attached to it: the Rust
/// document, and what only JS has (origin values, listener functions, observer sets, the
/// wrappers handed out).
pub struct DocShared {
    /// The Rust document (its yrs document, gate, tap, open transaction and queue).
    pub doc: crate::driver::doc::Doc,
    pub(crate) hub: Rc<Hub>,
    next_id: Cell<u64>,
    /// Observer sets by (branch address, deep).
    observers: RefCell<HashMap<(usize, bool), ObserverSet>>,
    /// Shared-type wrappers handed out, by kind and branch, held weakly: `getText('t')`,
    /// `map.get('k')`, an event's `target` return the same object for the same type while the
    /// app keeps one (identity checks, as with Yjs), without the document keeping its
    /// wrappers alive (they hold the document: a cycle through JS that no garbage collector
    /// could see).
    wrappers: RefCell<Wrappers>,
}

/// Weak references to the wrappers handed out, and when to drop the dead ones.
#[derive(Default)]
struct Wrappers {
    live: HashMap<(u8, BranchID), js_sys::WeakRef>,
    /// Entries kept after the last sweep: the next one runs when there are twice as many.
    swept: usize,
}

impl DocShared {
    /// The wrapper of `kind` for `branch` handed out before, if JS still holds it; else the
    /// one `make` builds, remembered.
    pub(crate) fn wrapper(
        &self,
        kind: u8,
        branch: BranchID,
        make: impl FnOnce() -> ApiResult<JsValue>,
    ) -> ApiResult<JsValue> {
        let key = (kind, branch);
        let alive = self
            .wrappers
            .borrow()
            .live
            .get(&key)
            .and_then(|w| w.deref());
        if let Some(obj) = alive {
            return Ok(obj.into());
        }
        // No borrow held: making a wrapper may flush events to JS.
        let v = make()?;
        if let Some(o) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Object>(&v) {
            let mut w = self.wrappers.borrow_mut();
            w.live.insert(key, js_sys::WeakRef::new(o));
            if w.live.len() >= 2 * w.swept.max(64) {
                w.live.retain(|_, r| r.deref().is_some());
                w.swept = w.live.len();
            }
        }
        Ok(v)
    }

    pub(crate) fn new(doc: crate::driver::doc::Doc) -> Rc<Self> {
        let hub: Rc<Hub> = Rc::default();
        let document = doc.inner().clone();
        *hub.document.borrow_mut() = Rc::downgrade(&document);
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
        let _ = document
            .ydoc
            .observe_after_transaction(OBSERVER_KEY, move |txn| {
                let Some(hub) = h.upgrade() else { return };
                let records = std::mem::take(&mut *hub.changes.borrow_mut());
                if !records.is_empty() {
                    let list: js_sys::Array = records.into_iter().collect();
                    hub.push(Queued::Changes(list, hub.txn_info(txn)));
                }
            });
        let shared = Rc::new(DocShared {
            doc,
            hub,
            next_id: Cell::new(1),
            observers: RefCell::default(),
            wrappers: RefCell::default(),
        });
        *shared.hub.shared.borrow_mut() = Rc::downgrade(&shared);
        shared
    }

    /// The document as drivers see it.
    pub(crate) fn document(&self) -> &Rc<Document> {
        self.doc.inner()
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

    /// Runs the queued listener calls; the first exception is returned (as Yjs rethrows it).
    pub fn flush(&self) -> Result<(), JsValue> {
        self.document().flush()
    }

    /// Runs `f` in one transaction with `origin` (any JS value), as Yjs's `doc.transact`;
    /// nested calls join the open transaction and get its `{ origin, local }`. Events are
    /// delivered when the outermost call returns.
    pub(crate) fn transact(&self, f: &js_sys::Function, origin: JsValue) -> ApiResult<JsValue> {
        let document = self.document();
        let call = |info: &JsValue| f.call1(&JsValue::NULL, info).map_err(ApiError::Listener);
        if let Some(info) = document.with_open(|txn| self.hub.txn_info(txn))? {
            return call(&info);
        }
        let key = (!origin.is_undefined() && !origin.is_null())
            .then(|| self.acquire_origin(&origin, Origin::App));
        let origin = if key.is_some() { origin } else { JsValue::NULL };
        let local = Origin::is_local(key.as_deref().map(str::as_bytes));
        let result = document.transact(key.as_deref(), || call(&info(&origin, local)));
        if let Some(k) = &key {
            self.release_origin(k);
        }
        result
    }

    /// Runs `f` in the open `transact` transaction, or in a new one with `origin` whose events
    /// are delivered when `f` returns.
    pub(crate) fn edit_with<T>(
        &self,
        origin: Option<&str>,
        f: impl FnOnce(&mut yrs::TransactionMut<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        self.document().edit_with(origin, f)
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
        self.document().read()
    }

    /// Whether a `transact` callback is running.
    pub(crate) fn in_transaction(&self) -> bool {
        self.document().in_transaction()
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
        let _ = self
            .document()
            .ydoc
            .unobserve_after_transaction(OBSERVER_KEY);
    }
}
