//! `Doc` and the state it shares with its types, observers and providers.
//!
//! JS callbacks never run while Rust holds a borrow or a yrs transaction: yrs observers only
//! queue events, and the queue is flushed after the call that caused them returns (after the
//! outermost `transact` callback, inside one).

use std::cell::{Cell, RefCell, RefMut};
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{OffsetKind, Options, ReadTxn, Transact, WriteTxn};

use crate::core::origin::Origin;
use crate::core::validate::{self, Limits};
use crate::driver::document::{AsDocument, Document};
use crate::js::error::{ApiError, ApiResult};
use crate::js::events::Listeners;
use crate::js::ts::{opt_string, or_undefined, DocOptionsArg, StringArg, Unknown};
use crate::js::types::{XmlFragment, YArray, YMap, YText};
use crate::js::value::from_any;

const OBSERVER_KEY: &str = "ysync-js-doc";

/// A JS call waiting for the current borrow or transaction to end.
pub(crate) enum Queued {
    /// `update` listeners: the update and the transaction origin.
    Update(Rc<[u8]>, JsValue),
    /// `changes` listeners: the records of one transaction and `{ origin, local }`.
    Changes(js_sys::Array, JsValue),
    /// One observer with its arguments.
    Call(js_sys::Function, js_sys::Array),
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
    feed_roots: RefCell<HashSet<Arc<str>>>,
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
pub enum Reader<'a> {
    /// A transaction of its own.
    Own(yrs::Transaction<'a>),
    /// The transaction of the running `transact` callback.
    Open(RefMut<'a, yrs::TransactionMut<'static>>),
}

impl ReadTxn for Reader<'_> {
    fn store(&self) -> &yrs::Store {
        match self {
            Reader::Own(t) => ReadTxn::store(t),
            Reader::Open(t) => ReadTxn::store(&**t),
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
}

impl DocShared {
    fn new(doc: yrs::Doc) -> ApiResult<Rc<Self>> {
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
    pub(crate) fn acquire_local_origin(&self, value: &JsValue) -> String {
        self.hub.origins.borrow_mut().acquire(value, Origin::App)
    }

    /// Unpins a key from `acquire_local_origin`.
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

    /// `edit_with` without an origin.
    pub(crate) fn edit<T>(
        &self,
        f: impl FnOnce(&mut yrs::TransactionMut<'_>) -> ApiResult<T>,
    ) -> ApiResult<T> {
        self.edit_with(None, f)
    }

    /// A transaction to read with: the open `transact` one, or a new read transaction.
    pub(crate) fn read(&self) -> ApiResult<Reader<'_>> {
        let cur = self.current.try_borrow_mut().map_err(|_| ApiError::Busy)?;
        match RefMut::filter_map(cur, |c| c.as_mut()) {
            Ok(txn) => Ok(Reader::Open(txn)),
            Err(_) => self
                .doc
                .try_transact()
                .map(Reader::Own)
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

    /// Makes the change feed observe every root type with a known type (roots appear when a
    /// replica gets them with `getText`, `getMap`...; Yjs cannot type them before either).
    pub(crate) fn ensure_feed(&self) {
        if !self.hub.wants("changes") {
            return;
        }
        let Ok(txn) = self.read() else { return };
        let mut roots = self.hub.feed_roots.borrow_mut();
        for (name, out) in txn.root_refs() {
            if roots.contains(name) {
                continue;
            }
            if matches!(out, yrs::Out::UndefinedRef(_)) {
                continue;
            }
            if let Some(mut branch) = crate::js::observe::branch_of(&out) {
                let name: Arc<str> = name.into();
                roots.insert(name.clone());
                let hub = Rc::downgrade(&self.hub);
                branch.observe_deep(yrs::Origin::from("ysync-feed"), move |txn, events| {
                    if let Some(hub) = hub.upgrade() {
                        if hub.wants("changes") {
                            let records = crate::js::observe::change_records(&name, txn, events);
                            hub.add_changes(records);
                        }
                    }
                });
            }
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

/// Parses `new Doc({ clientID? })` options.
fn doc_options(opts: &JsValue) -> ApiResult<Options> {
    let mut o = Options {
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    };
    if opts.is_object() {
        let id = js_sys::Reflect::get(opts, &"clientID".into()).unwrap_or_default();
        if !id.is_undefined() {
            let n = id.as_f64().unwrap_or(-1.0);
            if !(n >= 0.0 && n <= validate::MAX_CLIENT_ID as f64 && n.fract() == 0.0) {
                return Err(ApiError::InvalidArgument(
                    "clientID must be an integer in [0, 2^53)".into(),
                ));
            }
            o.client_id = yrs::ClientID::new(n as u64);
        }
    }
    Ok(o)
}

/// A Yjs-compatible document.
#[wasm_bindgen]
pub struct Doc {
    shared: Rc<DocShared>,
}

impl AsDocument for Doc {
    fn document(&self) -> Rc<Document> {
        self.shared().document.clone()
    }
}

#[wasm_bindgen]
impl Doc {
    /// `new Doc({ clientID? })`. Text positions count UTF-16 code units, as in Yjs.
    #[wasm_bindgen(constructor)]
    pub fn new(opts: Option<DocOptionsArg>) -> ApiResult<Doc> {
        let opts = or_undefined(opts);
        Ok(Doc {
            shared: DocShared::new(yrs::Doc::with_options(doc_options(&opts)?))?,
        })
    }

    /// This replica's client id.
    #[wasm_bindgen(getter, js_name = clientID)]
    pub fn client_id(&self) -> f64 {
        self.shared.doc.client_id().get() as f64
    }

    /// The root text named `name` (default `''`, as in Yjs).
    #[wasm_bindgen(js_name = getText)]
    pub fn get_text(&self, name: Option<StringArg>) -> ApiResult<YText> {
        let name = opt_string(name, "name")?.unwrap_or_default();
        let text = self.root(|txn| txn.get_or_insert_text(name.as_str()))?;
        Ok(YText::new(self.shared.clone(), text))
    }

    /// The root map named `name` (default `''`).
    #[wasm_bindgen(js_name = getMap)]
    pub fn get_map(&self, name: Option<StringArg>) -> ApiResult<YMap> {
        let name = opt_string(name, "name")?.unwrap_or_default();
        let map = self.root(|txn| txn.get_or_insert_map(name.as_str()))?;
        Ok(YMap::new(self.shared.clone(), map))
    }

    /// The root array named `name` (default `''`).
    #[wasm_bindgen(js_name = getArray)]
    pub fn get_array(&self, name: Option<StringArg>) -> ApiResult<YArray> {
        let name = opt_string(name, "name")?.unwrap_or_default();
        let array = self.root(|txn| txn.get_or_insert_array(name.as_str()))?;
        Ok(YArray::new(self.shared.clone(), array))
    }

    /// The root XML fragment named `name` (default `''`).
    #[wasm_bindgen(js_name = getXmlFragment)]
    pub fn get_xml_fragment(&self, name: Option<StringArg>) -> ApiResult<XmlFragment> {
        let name = opt_string(name, "name")?.unwrap_or_default();
        let xml = self.root(|txn| txn.get_or_insert_xml_fragment(name.as_str()))?;
        Ok(XmlFragment::new(self.shared.clone(), xml))
    }

    /// Runs `f` in one transaction: observers, `update` and `changes` listeners see all of its
    /// edits as one, after `f` returns. `origin` (any value, compared by identity) is the
    /// transaction's origin in events; transactions with an origin are `local`. Nested calls
    /// join the outer transaction. Returns what `f` returns.
    #[wasm_bindgen(unchecked_return_type = "unknown")]
    pub fn transact(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(transaction: TransactionInfo) => unknown")]
        f: &js_sys::Function,
        origin: Option<Unknown>,
    ) -> ApiResult<JsValue> {
        let origin = or_undefined(origin);
        let shared = &self.shared;
        // Nested: `f` joins the open transaction and gets its `{ origin, local }`.
        let open = shared
            .current
            .try_borrow()
            .map_err(|_| ApiError::Busy)?
            .as_ref()
            .map(|txn| shared.hub.txn_info(txn));
        if let Some(info) = open {
            return f.call1(&JsValue::NULL, &info).map_err(ApiError::Listener);
        }
        let key = (!origin.is_undefined() && !origin.is_null()).then(|| {
            shared
                .hub
                .origins
                .borrow_mut()
                .acquire(&origin, Origin::App)
        });
        let opened = match &key {
            Some(k) => shared.doc.try_transact_mut_with(k.as_str()),
            None => shared.doc.try_transact_mut(),
        };
        let txn = match opened {
            Ok(t) => t,
            Err(_) => {
                if let Some(k) = &key {
                    shared.hub.origins.borrow_mut().release(k);
                }
                return Err(ApiError::Busy);
            }
        };
        let info = shared.hub.txn_info(&txn);
        // SAFETY: the transaction borrows `shared.doc`. It is stored in `shared.current`, taken
        // back out and dropped (committed) below before this function returns, and `self`
        // keeps `shared` alive meanwhile; `current` is also declared before `doc`, so even a
        // leaked transaction would be dropped before the document.
        let txn: yrs::TransactionMut<'static> = unsafe { std::mem::transmute(txn) };
        *shared.current.borrow_mut() = Some(txn);
        let result = f.call1(&JsValue::NULL, &info);
        let txn = shared.current.borrow_mut().take();
        drop(txn);
        let dead = std::mem::take(&mut *shared.graveyard.borrow_mut());
        drop(dead);
        if let Some(k) = &key {
            shared.hub.origins.borrow_mut().release(k);
        }
        let flushed = shared.flush();
        let v = result.map_err(ApiError::Listener)?;
        flushed.map_err(ApiError::Listener)?;
        Ok(v)
    }

    /// `doc.on('update', (update, origin) => …)`: every transaction as a v1 update.
    /// `doc.on('changes', (changes, transaction) => …)`: every transaction as a list of JSON
    /// records of what changed (see `Change` in the typings).
    /// (Typed by overloads in the `Doc` interface below.)
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: &str, f: js_sys::Function) -> ApiResult<()> {
        if event != "update" && event != "changes" {
            return Err(ApiError::InvalidArgument(format!(
                "unknown event '{event}' (expected 'update' or 'changes')"
            )));
        }
        self.shared.hub.listeners.add(event, f);
        if event == "changes" {
            self.shared.ensure_feed();
        }
        Ok(())
    }

    /// Removes a listener added with `on`.
    #[wasm_bindgen(skip_typescript)]
    pub fn off(&self, event: &str, f: &js_sys::Function) {
        self.shared.hub.listeners.remove(event, f);
    }

    /// The document's state vector (v1).
    #[wasm_bindgen(js_name = encodeStateVector)]
    pub fn encode_state_vector(&self) -> ApiResult<Vec<u8>> {
        let txn = self.shared.read()?;
        Ok(crate::core::frame::encode_state_vector(&txn.state_vector()))
    }

    /// Everything the holder of `stateVector` lacks (everything if omitted), as a v1 update.
    #[wasm_bindgen(js_name = encodeStateAsUpdate)]
    pub fn encode_state_as_update(&self, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
        let sv = optional_state_vector(state_vector)?;
        let txn = self.shared.read()?;
        Ok(txn.encode_state_as_update_v1(&sv))
    }

    /// Everything the holder of `stateVector` lacks (everything if omitted), as a v2 update
    /// (Yjs's `encodeStateAsUpdateV2`: smaller, for storage and transfer).
    #[wasm_bindgen(js_name = encodeStateAsUpdateV2)]
    pub fn encode_state_as_update_v2(&self, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
        let sv = optional_state_vector(state_vector)?;
        let txn = self.shared.read()?;
        // Not yrs's own v2 encoder: it corrupts binary content (see core::update_v2).
        Ok(crate::core::update_v2::encode_state_as_update(&txn, &sv)?)
    }

    /// Applies a v1 update (checked before yrs sees it); `origin` is passed to listeners and
    /// the transaction is not `local`.
    #[wasm_bindgen(js_name = applyUpdate)]
    pub fn apply_update(&self, update: &[u8], origin: Option<Unknown>) -> ApiResult<()> {
        validate::update_v1(update, &Limits::default())?;
        self.apply_checked_v1(update, or_undefined(origin))
    }

    /// Applies a v2 update (Yjs's `applyUpdateV2`): checked by the v2 rules, decoded, then
    /// applied as its v1 form through the same checks and clock-order gate as `applyUpdate`.
    #[wasm_bindgen(js_name = applyUpdateV2)]
    pub fn apply_update_v2(&self, update: &[u8], origin: Option<Unknown>) -> ApiResult<()> {
        let limits = Limits::default();
        validate::update_v2(update, &limits)?;
        let v1 = yrs::Update::decode_v2(update)
            .map_err(|e| ApiError::from(crate::core::error::DecodeError::Yrs(e.to_string())))?
            .encode_v1();
        validate::update_v1(&v1, &limits)?;
        self.apply_checked_v1(&v1, or_undefined(origin))
    }
}

impl Doc {
    /// Applies a v1 update that passed `validate::update_v1`, as a remote transaction.
    fn apply_checked_v1(&self, update: &[u8], origin: JsValue) -> ApiResult<()> {
        let shared = &self.shared;
        // Not `local`: the origin key has the remote prefix even when `origin` is null.
        let origin = if origin.is_undefined() {
            JsValue::NULL
        } else {
            origin
        };
        let key = shared
            .hub
            .origins
            .borrow_mut()
            .acquire(&origin, Origin::Applied);
        let result = shared.edit_with(Some(&key), |txn| {
            shared
                .document
                .gate
                .borrow_mut()
                .apply(txn, update, &Limits::default())
                .map_err(ApiError::from)
        });
        // Blocks the server, other tabs or storage held that this update filled a gap for, each
        // under its own origin. Not inside a `transact` callback: its transaction is still open.
        if result.is_ok() && !shared.in_transaction() {
            let settled = shared
                .document
                .gate
                .borrow_mut()
                .settle(&shared.doc, &Limits::default());
            if settled {
                shared.flush().map_err(ApiError::Listener)?;
            }
        }
        shared.hub.origins.borrow_mut().release(&key);
        result
    }
}

#[wasm_bindgen]
impl Doc {
    /// The root types read so far, as JSON.
    #[wasm_bindgen(js_name = toJSON, unchecked_return_type = "{ [name: string]: JsonValue }")]
    pub fn to_json(&self) -> ApiResult<JsValue> {
        let txn = self.shared.read()?;
        Ok(from_any(&self.shared.doc.to_json(&txn)))
    }

    /// Stops event delivery: removes every listener and observer.
    pub fn destroy(&self) {
        self.shared.hub.listeners.clear();
        self.shared.remove_observers(|_, _, _| true);
    }
}

impl Doc {
    /// The shared state, for providers.
    pub fn shared(&self) -> Rc<DocShared> {
        self.shared.clone()
    }

    fn root<T>(&self, get: impl FnOnce(&mut yrs::TransactionMut<'_>) -> T) -> ApiResult<T> {
        let t = self.shared.edit(|txn| Ok(get(txn)))?;
        // A new root type: the change feed observes it.
        self.shared.ensure_feed();
        Ok(t)
    }
}

/// A checked state vector argument; omitted means empty (everything).
fn optional_state_vector(b: Option<Vec<u8>>) -> ApiResult<yrs::StateVector> {
    b.map_or_else(
        || Ok(yrs::StateVector::default()),
        |b| decode_state_vector(&b),
    )
}

fn decode_state_vector(b: &[u8]) -> ApiResult<yrs::StateVector> {
    validate::state_vector(b)?;
    yrs::StateVector::decode_v1(b)
        .map_err(|e| ApiError::from(crate::core::error::DecodeError::Yrs(e.to_string())))
}

/// `applyUpdate(doc, update, origin?)`, as in Yjs.
#[wasm_bindgen(js_name = applyUpdate)]
pub fn apply_update(doc: &Doc, update: &[u8], origin: Option<Unknown>) -> ApiResult<()> {
    doc.apply_update(update, origin)
}

/// `encodeStateAsUpdate(doc, stateVector?)`, as in Yjs.
#[wasm_bindgen(js_name = encodeStateAsUpdate)]
pub fn encode_state_as_update(doc: &Doc, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
    doc.encode_state_as_update(state_vector)
}

/// `applyUpdateV2(doc, update, origin?)`, as in Yjs.
#[wasm_bindgen(js_name = applyUpdateV2)]
pub fn apply_update_v2(doc: &Doc, update: &[u8], origin: Option<Unknown>) -> ApiResult<()> {
    doc.apply_update_v2(update, origin)
}

/// `encodeStateAsUpdateV2(doc, stateVector?)`, as in Yjs.
#[wasm_bindgen(js_name = encodeStateAsUpdateV2)]
pub fn encode_state_as_update_v2(doc: &Doc, state_vector: Option<Vec<u8>>) -> ApiResult<Vec<u8>> {
    doc.encode_state_as_update_v2(state_vector)
}

/// `encodeStateVector(doc)`, as in Yjs.
#[wasm_bindgen(js_name = encodeStateVector)]
pub fn encode_state_vector(doc: &Doc) -> ApiResult<Vec<u8>> {
    doc.encode_state_vector()
}

/// `mergeUpdates(updates)`: one v1 update holding all of them (each checked first).
#[wasm_bindgen(js_name = mergeUpdates)]
pub fn merge_updates(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array[]")] updates: js_sys::Array,
) -> ApiResult<Vec<u8>> {
    let mut all = Vec::with_capacity(updates.length() as usize);
    for u in updates.iter() {
        let bytes = u
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| ApiError::InvalidArgument("mergeUpdates expects Uint8Array[]".into()))?
            .to_vec();
        validate::update_v1(&bytes, &Limits::default())?;
        all.push(bytes);
    }
    yrs::merge_updates_v1(all.iter().map(|b| b.as_slice()))
        .map_err(|e| crate::core::error::DecodeError::Yrs(e.to_string()).into())
}

/// `diffUpdate(update, stateVector)`: the part of `update` the holder of `stateVector` lacks.
#[wasm_bindgen(js_name = diffUpdate)]
pub fn diff_update(update: &[u8], state_vector: &[u8]) -> ApiResult<Vec<u8>> {
    validate::update_v1(update, &Limits::default())?;
    validate::state_vector(state_vector)?;
    yrs::diff_updates_v1(update, state_vector)
        .map_err(|e| crate::core::error::DecodeError::Yrs(e.to_string()).into())
}

#[wasm_bindgen(typescript_custom_section)]
const DOC_TS: &str = r#"
/** Options of `new Doc()`. */
export interface DocOptions {
  /** This replica's client id (an integer below 2^53); random if omitted. */
  clientID?: number;
}

/** What `transact` callbacks, observers and `changes` listeners learn about a transaction. */
export interface TransactionInfo {
  /** The origin given to `transact` / `applyUpdate`, a provider's origin, or null. */
  origin: unknown;
  /** False for updates applied from elsewhere (server, other tabs, storage, `applyUpdate`). */
  local: boolean;
}

/** One record of the change feed (`doc.on('changes', …)`): plain JSON. */
export type Change =
  | { kind: 'text'; path: (string | number)[]; delta: TextDelta[] }
  | { kind: 'array'; path: (string | number)[]; delta: ArrayDelta<JsonValue>[] }
  | { kind: 'set'; path: (string | number)[]; value: JsonValue; oldValue?: JsonValue }
  | { kind: 'delete'; path: (string | number)[]; oldValue: JsonValue };

/** `doc.on` / `doc.off`, one overload per event. */
export interface Doc {
  /** Every transaction as a v1 update, with its origin. */
  on(event: 'update', f: (update: Uint8Array, origin: unknown) => void): void;
  /** Every transaction as a list of JSON records of what changed. */
  on(event: 'changes', f: (changes: Change[], transaction: TransactionInfo) => void): void;
  off(event: 'update', f: (update: Uint8Array, origin: unknown) => void): void;
  off(event: 'changes', f: (changes: Change[], transaction: TransactionInfo) => void): void;
}

/** Options of `new UndoManager()`. */
export interface UndoManagerOptions {
  /** Edits closer together than this (ms) are one undo step. Default 500. */
  captureTimeout?: number;
  /** Transaction origins whose edits are undoable (compared by identity). Default `[null]`:
   * edits made without an origin. `null` cannot be mixed with other origins. */
  trackedOrigins?: unknown[] | Set<unknown>;
}

/** A JSON value as read from the document (binary as Uint8Array). */
export type JsonValue =
  | null | boolean | number | bigint | string | Uint8Array
  | JsonValue[] | { [key: string]: JsonValue };
"#;
