//! The persistence driver: durable local storage of a document in IndexedDB, in y-indexeddb's
//! database layout.
//!
//! The core [`WritePlanner`] decides what to write and when; this driver runs each command as one
//! IndexedDB transaction (through `web::idb`) and reports the outcome. Bytes read from disk
//! are validated before yrs sees them; an undecodable row is skipped with an error event and
//! kept on disk. `js::persistence` only parses JS options and turns events into JS ones.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use yrs::{ReadTxn, StateVector, Transact};

use crate::core::error::{DecodeError, SyncError};
use crate::core::origin::{self as origins, Origin};
use crate::core::store::{StoreConfig, StoreStats, WriteCommand, WritePlanner};
use crate::core::validate::Limits;
use crate::driver::document::{AckStorage, Acknowledged, AsDocument, Document};
use crate::driver::error::{Error, Result};
use crate::driver::subscribers::{Subscribers, Subscription};
use crate::driver::wait::{wait, Settle};
use crate::web::clock::now_f64;
use crate::web::idb;
use crate::web::locks::{Lock, TryLock};
use crate::web::timer::{Interval, Timer};

/// How a persistence stores; the defaults are the core store's.
#[derive(Debug, Clone, Default)]
pub struct PersistenceConfig {
    /// When to compact and how to retry (see [`StoreConfig`]).
    pub store: StoreConfig,
    /// Ask the browser for persistent storage (`navigator.storage.persist()`).
    pub persist: bool,
    /// Emit [`PersistenceEvent::Stats`] this often, ms (0: off).
    pub stats_interval_ms: u64,
}

/// What a persistence tells its subscribers (y-indexeddb's events, in Rust).
#[derive(Debug)]
pub enum PersistenceEvent {
    /// `synced`: the stored state is loaded into the document.
    Synced,
    /// `persisted`: a write transaction completed.
    Persisted,
    /// `error`: a storage failure (counted by DOMException name) or an undecodable row.
    Error(Error),
    /// `stats`: the periodic snapshot ([`PersistenceConfig::stats_interval_ms`]).
    Stats(PersistenceStats),
}

/// A snapshot of a persistence's metrics.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistenceStats {
    /// Rows, bytes, pending changes, writes, compactions, write failures.
    #[serde(flatten)]
    pub store: StoreStats,
    /// Duration of the last completed transaction (ms).
    pub last_write_ms: Option<f64>,
    /// Duration of the initial load (ms).
    pub load_ms: Option<f64>,
    /// Storage failures by DOMException name (`QuotaExceededError`, `BlockedError`, ...).
    pub errors: BTreeMap<String, u64>,
}

struct PersistenceState {
    store: WritePlanner,
    db: Option<JsValue>,
    /// Listener for the open connection's close / versionchange (lives as long as it).
    db_closed: Option<Closure<dyn FnMut()>>,
    destroyed: bool,
    synced: bool,
    retry: Option<Timer>,
    flush_timer: Option<Timer>,
    synced_waiters: Vec<Settle>,
    persisted_waiters: Vec<(u64, Settle)>,
    last_write_ms: Option<f64>,
    load_ms: Option<f64>,
    stats_timer: Option<Interval>,
}

struct PersistenceCore {
    name: String,
    /// Origin of the initial load: restored state, which providers do not send as new.
    origin: String,
    /// Origin of rows picked up while compacting: other tabs' edits, new to this document, so
    /// providers send them on (the tab that wrote them may have closed before it could).
    merge_origin: String,
    /// Reports a `blocked` open or delete request as an error event (the request goes on).
    on_blocked: Closure<dyn FnMut(JsValue)>,
    /// Storage failures by DOMException name.
    errors: RefCell<BTreeMap<String, u64>>,
    doc: Rc<Document>,
    inner: RefCell<PersistenceState>,
    /// Updates from the document's tap, drained outside any borrow.
    queue: Rc<RefCell<Vec<Vec<u8>>>>,
    subscribers: Subscribers<PersistenceEvent>,
    flush_scheduled: Cell<bool>,
    /// This persistence's consumer on the document's tap.
    tap_id: Cell<u64>,
    /// This core, for the `AckStorage` methods that start async work.
    me: Weak<PersistenceCore>,
}

/// Keeps a document in IndexedDB: loads it on start, writes every change in batches. Dropping
/// it writes what is pending, then stops (as [`IndexeddbPersistence::destroy`]).
pub struct IndexeddbPersistence {
    core: Rc<PersistenceCore>,
}

fn snapshot(core: &PersistenceCore) -> PersistenceStats {
    let inner = core.inner.borrow();
    PersistenceStats {
        store: inner.store.stats(),
        last_write_ms: inner.last_write_ms,
        load_ms: inner.load_ms,
        errors: core.errors.borrow().clone(),
    }
}

/// A storage failure: counted by its DOMException name, logged, and emitted as an error.
fn report(core: &PersistenceCore, err: Error) {
    if let Error::Browser { name, .. } = &err {
        log::warn!(target: "ysync::idb", "{}: {name}", core.name);
        *core.errors.borrow_mut().entry(name.clone()).or_default() += 1;
    }
    core.emit(PersistenceEvent::Error(err));
}

impl PersistenceCore {
    /// Calls the subscribers (no borrow is held where events are emitted).
    fn emit(&self, e: PersistenceEvent) {
        self.subscribers.call(&e);
    }

    /// Moves observed updates into the store.
    fn drain(&self) {
        let updates = std::mem::take(&mut *self.queue.borrow_mut());
        let mut inner = self.inner.borrow_mut();
        for u in updates {
            inner.store.push(u);
        }
    }

    /// Calls `f` once the stored state is loaded into the document.
    fn when_synced(&self, f: Settle) {
        let mut inner = self.inner.borrow_mut();
        if inner.synced {
            drop(inner);
            f(Ok(()));
        } else {
            inner.synced_waiters.push(f);
        }
    }

    /// Waits until the stored state is loaded into the document.
    async fn wait_synced(&self) -> Result<()> {
        wait(|s| self.when_synced(s)).await
    }

    /// `whenPersisted` callers whose changes are durable now.
    fn due_persisted(&self) -> Vec<Settle> {
        let mut inner = self.inner.borrow_mut();
        let waiters = std::mem::take(&mut inner.persisted_waiters);
        let mut due = Vec::new();
        for (mark, f) in waiters {
            if inner.store.persisted(mark) {
                due.push(f);
            } else {
                inner.persisted_waiters.push((mark, f));
            }
        }
        due
    }
}

const ACKED_PREFIX: &str = "ysync:acknowledged:";

impl AckStorage for PersistenceCore {
    fn acknowledged(&self, key: &str) -> Acknowledged {
        let me = self.me.upgrade();
        let key = JsValue::from_str(&format!("{ACKED_PREFIX}{key}"));
        Box::pin(async move {
            let Some(me) = me else { return Ok(None) };
            let stored = async {
                me.wait_synced().await?;
                let db = ensure_open(&me).await?;
                JsFuture::from(idb::custom(&db, "get", &key, &JsValue::UNDEFINED))
                    .await
                    .map_err(Error::browser)
            }
            .await;
            // A failure was reported where it happened.
            let v = stored.map_err(|_| ())?;
            Ok(v.dyn_ref::<js_sys::Uint8Array>().map(|a| a.to_vec()))
        })
    }

    fn failures(&self) -> u64 {
        self.errors.borrow().values().sum()
    }

    fn save_acknowledged(&self, key: &str, state_vector: &[u8]) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let key = JsValue::from_str(&format!("{ACKED_PREFIX}{key}"));
        let value: JsValue = js_sys::Uint8Array::from(state_vector).into();
        wasm_bindgen_futures::spawn_local(async move {
            let r = async {
                let db = ensure_open(&me).await?;
                JsFuture::from(idb::custom(&db, "set", &key, &value))
                    .await
                    .map_err(Error::browser)
            }
            .await;
            if let Err(e) = r {
                report(&me, e);
            }
        });
    }
}

async fn ensure_open(core: &Rc<PersistenceCore>) -> Result<JsValue> {
    if let Some(db) = core.inner.borrow().db.clone() {
        return Ok(db);
    }
    if !idb::available() {
        return Err(Error::Browser {
            name: "NotSupportedError".into(),
            message: "IndexedDB is not available".into(),
        });
    }
    let weak = Rc::downgrade(core);
    // Another tab upgraded or deleted the database, or the browser closed it: forget the
    // handle; the next write opens it again.
    let on_close = Closure::<dyn FnMut()>::new(move || {
        if let Some(core) = weak.upgrade() {
            core.inner.borrow_mut().db = None;
        }
    });
    let db = JsFuture::from(idb::open(
        &core.name,
        on_close.as_ref().unchecked_ref(),
        core.on_blocked.as_ref().unchecked_ref(),
    ))
    .await
    .map_err(Error::browser)?;
    let mut inner = core.inner.borrow_mut();
    inner.db = Some(db.clone());
    inner.db_closed = Some(on_close);
    Ok(db)
}

/// Milliseconds to a tenth, written with integers: Rust's float formatting would ship
/// (about 15 KB of wasm) for two log lines.
struct Ms(f64);

impl std::fmt::Display for Ms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0.max(0.0) * 10.0).round() as u64;
        write!(f, "{}.{}", tenths / 10, tenths % 10)
    }
}

/// Reads every stored row into the document.
async fn load(core: Rc<PersistenceCore>) {
    // Whatever the document held before loading is written once after it (y-indexeddb
    // writes the whole state on every open; we write only what the store lacks).
    let before = {
        let txn = core.doc.ydoc.transact();
        let sv = txn.state_vector();
        (sv != StateVector::default())
            .then(|| txn.encode_state_as_update_v1(&StateVector::default()))
    };
    let started = now_f64();
    let result = async {
        let db = ensure_open(&core).await?;
        JsFuture::from(idb::read_all(&db))
            .await
            .map_err(Error::browser)
    }
    .await;
    let (rows, bytes) = match result {
        Ok(values) => match values.dyn_into::<js_sys::Array>() {
            Ok(values) => apply_rows(&core, &values),
            Err(_) => (0, 0),
        },
        Err(e) => {
            report(&core, e);
            (0, 0)
        }
    };
    {
        let mut inner = core.inner.borrow_mut();
        let ms = now_f64() - started;
        log::info!(target: "ysync::idb", "{}: loaded {rows} rows, {bytes} bytes in {} ms", core.name, Ms(ms));
        inner.load_ms = Some(ms);
        inner.store.loaded(rows, bytes);
        inner.synced = true;
        if let Some(u) = before {
            inner.store.push(u);
        }
    }
    let waiters = std::mem::take(&mut core.inner.borrow_mut().synced_waiters);
    core.doc.deliver();
    for f in waiters {
        f(Ok(()));
    }
    core.emit(PersistenceEvent::Synced);
    flush(&core);
}

/// Validates rows and applies the good ones in one transaction. Returns (rows, bytes) stored,
/// and reports each bad row.
fn apply_rows(core: &Rc<PersistenceCore>, values: &js_sys::Array) -> (usize, usize) {
    let Some((rejected, bytes, _)) = fold_rows(core, values, &core.origin, false) else {
        core.emit(PersistenceEvent::Error(Error::Busy));
        return (values.length() as usize, 0);
    };
    // One event for every undecodable row (the first one's reason), one for blocks refused
    // over the cap; the undecodable rows are quarantined by a compaction right away.
    let mut skipped = 0;
    let mut first = None;
    let mut held = (0, 0);
    let mut cut = 0;
    for why in rejected.into_iter().flatten() {
        match why {
            Error::InvalidUpdate(e) => {
                skipped += 1;
                first.get_or_insert(e);
            }
            Error::Sync(SyncError::HeldLimit { blocks, bytes }) => {
                held = (held.0 + blocks, held.1 + bytes);
            }
            Error::Sync(SyncError::DeleteLimit { ranges }) => cut += ranges,
            other => core.emit(PersistenceEvent::Error(other)),
        }
    }
    if let Some(first) = first {
        log::warn!(target: "ysync::idb", "{}: {skipped} undecodable rows", core.name);
        core.inner.borrow_mut().store.clean_up();
        core.emit(PersistenceEvent::Error(Error::SkippedRows {
            count: skipped,
            first,
        }));
    }
    if held.0 > 0 {
        core.emit(PersistenceEvent::Error(Error::Sync(SyncError::HeldLimit {
            blocks: held.0,
            bytes: held.1,
        })));
    }
    if cut > 0 {
        core.emit(PersistenceEvent::Error(Error::Sync(
            SyncError::DeleteLimit { ranges: cut },
        )));
    }
    (values.length() as usize, bytes)
}

/// How many stored rows one load transaction applies (see [`fold_rows`]). The benchmarks' pages
/// apply rows the same way, with the same figure (`ROWS_PER_TRANSACTION` in e2e/pages/rows.js).
const ROWS_PER_TRANSACTION: usize = 256;

/// Applies every valid row to the document with `origin` (one of this persistence's, so it is
/// not written back). Returns per row why it was refused (`None`: applied), the applied rows'
/// total size and, if `want_state`, the document's whole state afterwards; `None` if the
/// document could not be written (then nothing may be deleted).
fn fold_rows(
    core: &Rc<PersistenceCore>,
    values: &js_sys::Array,
    origin: &str,
    want_state: bool,
) -> Option<(Vec<Option<Error>>, usize, Vec<u8>)> {
    let limits = Limits::default();
    let packed = idb::pack(values);
    let all = packed
        .get(0)
        .dyn_into::<js_sys::Uint8Array>()
        .map(|a| a.to_vec())
        .unwrap_or_default();
    let ends = packed
        .get(1)
        .dyn_into::<js_sys::Uint32Array>()
        .map(|a| a.to_vec())
        .unwrap_or_default();
    let mut rejected: Vec<Option<Error>> = (0..values.length())
        .map(|_| Some(Error::InvalidUpdate(DecodeError::NotBytes)))
        .collect();
    let mut bytes = 0;
    let mut updates = Vec::with_capacity(ends.len());
    let mut start = 0;
    for (i, &end) in ends.iter().enumerate().take(rejected.len()) {
        let end = end as usize;
        if let Some(row) = all.get(start..end) {
            rejected[i] = None;
            bytes += row.len();
            updates.push((i, row));
            start = end;
        }
    }
    let mut gate = core.doc.gate.borrow_mut();
    // Rows go in transactions of at most ROWS_PER_TRANSACTION: yrs's commit squashes the new
    // blocks right to left, copying the merged run again at every step, so many small rows in
    // one transaction cost quadratic time (measured by examples/one_transaction.rs; figures in
    // docs/benchmarks.md). JS listeners run after the whole load, once per transaction.
    for chunk in updates.chunks(ROWS_PER_TRANSACTION) {
        let mut txn = core.doc.ydoc.try_transact_mut_with(origin).ok()?;
        for (i, u) in chunk {
            // A row that fails the checks or that yrs refuses counts as invalid: it is reported
            // and kept on disk, never folded away. Blocks past a gap wait in the gate.
            // Blocks refused over the cap on held blocks (and delete ranges cut over the cap on
            // pending deletes) keep their row on disk too.
            match gate.apply(&mut txn, u, &limits) {
                Err(e) => rejected[*i] = Some(Error::InvalidUpdate(e)),
                Ok(applied) => rejected[*i] = applied.error().map(Error::Sync),
            }
        }
    }
    // Blocks held by other paths (the server, applyUpdate) that the rows filled gaps for.
    gate.settle(&core.doc.ydoc, &limits);
    let held: Vec<Vec<u8>> = gate.held_updates().map(<[u8]>::to_vec).collect();
    drop(gate);
    let state = if want_state {
        // Held blocks are part of what the rows hold: a compacted row must keep them.
        let full = core
            .doc
            .ydoc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        if held.is_empty() {
            full
        } else {
            let all: Vec<&[u8]> = std::iter::once(full.as_slice())
                .chain(held.iter().map(|h| h.as_slice()))
                .collect();
            crate::core::merge::merge_v1(&all).ok()?
        }
    } else {
        Vec::new()
    };
    Some((rejected, bytes, state))
}

fn schedule_flush(weak: &Weak<PersistenceCore>) {
    let Some(core) = weak.upgrade() else { return };
    if core.flush_scheduled.replace(true) {
        return;
    }
    let mut inner = core.inner.borrow_mut();
    // A timer of 0 ms: every change made in the current task goes into one transaction.
    let t = inner.flush_timer.get_or_insert_with(|| {
        Timer::for_owner(weak.clone(), |core| {
            core.flush_scheduled.set(false);
            flush(core);
        })
    });
    t.schedule(0);
}

/// Runs the next store command, if any (the store hands out one at a time).
fn flush(core: &Rc<PersistenceCore>) {
    core.drain();
    let cmd = {
        let mut inner = core.inner.borrow_mut();
        if inner.destroyed {
            return;
        }
        // Local updates were produced by yrs itself; should merging fail, the document's
        // whole state holds all of them.
        inner.store.next_command(|updates| merged(core, updates))
    };
    let Some(cmd) = cmd else { return };
    let core = core.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let started = now_f64();
        let outcome = run(&core, &cmd).await;
        let ms = now_f64() - started;
        let id = match cmd {
            WriteCommand::Append { id, .. } | WriteCommand::Compact { id } => id,
        };
        match outcome {
            Ok((compacted, rows, bytes)) => {
                log::debug!(
                    target: "ysync::idb",
                    "{}: {} done in {} ms: {rows} rows, {bytes} bytes",
                    core.name,
                    if compacted { "compaction" } else { "append" },
                    Ms(ms)
                );
                {
                    let mut inner = core.inner.borrow_mut();
                    inner.store.write_done(id, compacted, rows, bytes);
                    inner.last_write_ms = Some(ms);
                }
                core.doc.deliver();
                for f in core.due_persisted() {
                    f(Ok(()));
                }
                core.emit(PersistenceEvent::Persisted);
                flush(&core);
            }
            Err(e) => {
                let delay = core.inner.borrow_mut().store.write_failed(id);
                report(&core, e);
                core.inner
                    .borrow_mut()
                    .retry
                    .get_or_insert_with(|| Timer::for_owner(Rc::downgrade(&core), flush))
                    .schedule(delay);
            }
        }
    });
}

/// Merges a batch of this document's own updates (yrs made them; should merging fail, the
/// document's whole state holds all of them).
fn merged(core: &PersistenceCore, updates: &[Vec<u8>]) -> Vec<u8> {
    crate::core::merge::merge_v1(updates).unwrap_or_else(|_| {
        core.doc
            .ydoc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    })
}

/// Runs one command as one transaction: (compacted, rows, bytes) on success. One tab of the
/// document compacts at a time (a Web Lock): a compaction another tab is running turns this
/// one into an append of its batch.
async fn run(core: &Rc<PersistenceCore>, cmd: &WriteCommand) -> Result<(bool, usize, usize)> {
    let db = ensure_open(core).await?;
    let mut cmd = std::borrow::Cow::Borrowed(cmd);
    let _compacting = if let WriteCommand::Compact { id } = *cmd {
        match Lock::try_now(&format!("ysync-compact:{}", core.name)).await {
            TryLock::Held(lock) => Some(lock),
            TryLock::Unsupported => None,
            TryLock::Busy => {
                log::debug!(target: "ysync::idb", "{}: another tab is compacting: appending", core.name);
                let instead = core
                    .inner
                    .borrow_mut()
                    .store
                    .compaction_elsewhere(id, |u| merged(core, u));
                match instead {
                    Some(append) => cmd = std::borrow::Cow::Owned(append),
                    None => return Ok((false, core.inner.borrow().store.stored().0, 0)),
                }
                None
            }
        }
    } else {
        None
    };
    match &*cmd {
        WriteCommand::Append { update, .. } => {
            let arr = js_sys::Uint8Array::from(update.as_slice());
            let count = JsFuture::from(idb::append(&db, &arr))
                .await
                .map_err(Error::browser)?;
            // Other tabs append too: the transaction's own count is the truth.
            let rows = count.as_f64().map_or(1, |n| n as usize);
            Ok((false, rows, update.len()))
        }
        WriteCommand::Compact { .. } => {
            let weak = Rc::downgrade(core);
            let fold = Closure::<dyn FnMut(js_sys::Array) -> JsValue>::new(
                move |values: js_sys::Array| {
                    let Some(core) = weak.upgrade() else {
                        return JsValue::NULL;
                    };
                    // Without the document's state nothing may be deleted: the transaction aborts.
                    let Some((rejected, _, state)) =
                        fold_rows(&core, &values, &core.merge_origin, true)
                    else {
                        return JsValue::NULL;
                    };
                    let out = js_sys::Object::new();
                    let valid: js_sys::Array = rejected
                        .iter()
                        .map(|r| JsValue::from_bool(r.is_none()))
                        .collect();
                    // Rows that do not decode leave the store; rows refused for now (their
                    // blocks over the cap on held blocks) stay.
                    let quarantine: js_sys::Array = rejected
                        .iter()
                        .map(|r| JsValue::from_bool(matches!(r, Some(Error::InvalidUpdate(_)))))
                        .collect();
                    let _ = js_sys::Reflect::set(&out, &"valid".into(), &valid);
                    let _ = js_sys::Reflect::set(&out, &"quarantine".into(), &quarantine);
                    let _ = js_sys::Reflect::set(
                        &out,
                        &"update".into(),
                        &js_sys::Uint8Array::from(state.as_slice()),
                    );
                    out.into()
                },
            );
            let res = JsFuture::from(idb::compact(&db, fold.as_ref().unchecked_ref()))
                .await
                .map_err(Error::browser)?;
            let n = |k: &str| {
                js_sys::Reflect::get(&res, &k.into())
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0) as usize
            };
            let quarantined = n("quarantined");
            if quarantined > 0 {
                log::info!(target: "ysync::idb", "{}: quarantined {quarantined} undecodable rows", core.name);
                core.inner.borrow_mut().store.quarantined(quarantined);
            }
            Ok((true, n("rows"), n("bytes")))
        }
    }
}

impl IndexeddbPersistence {
    /// Stores `doc` in the IndexedDB database `name` (y-indexeddb's layout): loads what is
    /// stored, then writes every change.
    pub fn new(
        name: &str,
        doc: &dyn AsDocument,
        cfg: PersistenceConfig,
    ) -> Result<IndexeddbPersistence> {
        let doc = doc.document();
        // Loading restores state: providers do not take it for new local changes.
        let n = origins::next_number();
        let origin = Origin::Restore(n).encode();
        let merge_origin = Origin::TabRows(n).encode();
        let core = Rc::new_cyclic(|me: &Weak<PersistenceCore>| {
            let weak = me.clone();
            let on_blocked = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
                if let Some(core) = weak.upgrade() {
                    report(&core, Error::browser(e));
                }
            });
            PersistenceCore {
                name: name.to_string(),
                origin,
                merge_origin,
                on_blocked,
                errors: RefCell::default(),
                doc: doc.clone(),
                inner: RefCell::new(PersistenceState {
                    store: WritePlanner::new(cfg.store),
                    db: None,
                    db_closed: None,
                    destroyed: false,
                    synced: false,
                    retry: None,
                    flush_timer: None,
                    synced_waiters: vec![],
                    persisted_waiters: vec![],
                    last_write_ms: None,
                    load_ms: None,
                    stats_timer: None,
                }),
                queue: Rc::default(),
                subscribers: Subscribers::default(),
                flush_scheduled: Cell::new(false),
                tap_id: Cell::new(0),
                me: me.clone(),
            }
        });
        let store: Rc<dyn AckStorage> = core.clone();
        doc.set_local_store(Rc::downgrade(&store));
        let queue = core.queue.clone();
        let weak = Rc::downgrade(&core);
        // What this persistence loaded or picked up itself is not stored again.
        let tap_id = doc.tap.add(move |t| match t.origin() {
            Some(Origin::Restore(m) | Origin::TabRows(m)) if m == n => {}
            _ => {
                queue.borrow_mut().push(t.update().to_vec());
                schedule_flush(&weak);
            }
        });
        core.tap_id.set(tap_id);
        if cfg.persist {
            let _ = idb::request_persist();
        }
        if cfg.stats_interval_ms > 0 {
            let timer = Interval::for_owner(Rc::downgrade(&core), cfg.stats_interval_ms, |core| {
                core.emit(PersistenceEvent::Stats(snapshot(core)))
            });
            core.inner.borrow_mut().stats_timer = Some(timer);
        }
        wasm_bindgen_futures::spawn_local(load(core.clone()));
        Ok(IndexeddbPersistence { core })
    }

    /// Calls `f` with every event from now on, until the subscription is dropped.
    pub fn subscribe(
        &self,
        f: impl Fn(&PersistenceEvent) + 'static,
    ) -> Subscription<PersistenceEvent> {
        self.core.subscribers.add(f)
    }

    /// The transaction origins of what this persistence applies: the stored state it loads,
    /// and the rows of other tabs it picks up while compacting.
    pub fn applied_origins(&self) -> [String; 2] {
        [self.core.origin.clone(), self.core.merge_origin.clone()]
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// True once the stored state was loaded into the document.
    pub fn synced(&self) -> bool {
        self.core.inner.borrow().synced
    }

    /// Whether the persistence stopped (`destroy`, `clear_data`).
    pub fn destroyed(&self) -> bool {
        self.core.inner.borrow().destroyed
    }

    /// A snapshot of the storage metrics.
    pub fn stats(&self) -> PersistenceStats {
        snapshot(&self.core)
    }

    /// Calls `f` once the stored state is loaded into the document.
    pub fn when_synced(&self, f: Settle) {
        self.core.when_synced(f)
    }

    /// Calls `f` once every change made before the call is durable (its IndexedDB
    /// transaction completed).
    pub fn when_persisted(&self, f: Settle) {
        self.core.drain();
        {
            let mut inner = self.core.inner.borrow_mut();
            let mark = inner.store.mark();
            if inner.store.persisted(mark) {
                drop(inner);
                f(Ok(()));
            } else {
                inner.persisted_waiters.push((mark, f));
            }
        }
        flush(&self.core);
    }

    /// Waits until the stored state is loaded into the document.
    pub async fn wait_synced(&self) -> Result<()> {
        self.core.wait_synced().await
    }

    /// Waits until every change made before the call is durable.
    pub async fn wait_persisted(&self) -> Result<()> {
        wait(|s| self.when_persisted(s)).await
    }

    /// Reads a custom value (y-indexeddb's `custom` store).
    pub async fn get(&self, key: &JsValue) -> Result<JsValue> {
        let db = ensure_open(&self.core).await?;
        JsFuture::from(idb::custom(&db, "get", key, &JsValue::UNDEFINED))
            .await
            .map_err(Error::browser)
    }

    /// Stores a custom value.
    pub async fn set(&self, key: &JsValue, value: &JsValue) -> Result<()> {
        let db = ensure_open(&self.core).await?;
        JsFuture::from(idb::custom(&db, "set", key, value))
            .await
            .map_err(Error::browser)?;
        Ok(())
    }

    /// Deletes a custom value.
    pub async fn del(&self, key: &JsValue) -> Result<()> {
        let db = ensure_open(&self.core).await?;
        JsFuture::from(idb::custom(&db, "del", key, &JsValue::UNDEFINED))
            .await
            .map_err(Error::browser)?;
        Ok(())
    }

    /// Stops persisting and deletes the database.
    pub async fn clear_data(&self) -> Result<()> {
        // Our own transactions end first: a connection closed with one running still counts
        // as open, and the deletion would wait for it as if another tab held the database.
        let db = self.core.inner.borrow().db.clone();
        if let Some(db) = db {
            let _ = JsFuture::from(idb::idle(&db)).await;
        }
        self.stop();
        self.core.inner.borrow_mut().store.reset();
        JsFuture::from(idb::delete(
            &self.core.name,
            self.core.on_blocked.as_ref().unchecked_ref(),
        ))
        .await
        .map_err(Error::browser)?;
        Ok(())
    }

    /// Writes what is pending, then stops observing the document and closes the database.
    pub async fn destroy(&self) -> Result<()> {
        if self.core.inner.borrow().synced {
            self.wait_persisted().await?;
        }
        self.stop();
        Ok(())
    }

    fn stop(&self) {
        self.core.doc.tap.remove(self.core.tap_id.get());
        let mut inner = self.core.inner.borrow_mut();
        inner.destroyed = true;
        inner.retry = None;
        inner.flush_timer = None;
        inner.stats_timer = None;
        if let Some(db) = inner.db.take() {
            if let Ok(close) = js_sys::Reflect::get(&db, &"close".into()) {
                if let Ok(f) = close.dyn_into::<js_sys::Function>() {
                    let _ = f.call0(&db);
                }
            }
        }
    }
}

impl Drop for IndexeddbPersistence {
    fn drop(&mut self) {
        // Write what is pending, then stop (as `destroy()`).
        if self.core.inner.borrow().destroyed {
            return;
        }
        let last = IndexeddbPersistence {
            core: self.core.clone(),
        };
        wasm_bindgen_futures::spawn_local(async move {
            if last.destroy().await.is_err() {
                log::warn!(target: "ysync::persistence", "pending writes failed when dropped");
                last.stop();
            }
        });
    }
}
