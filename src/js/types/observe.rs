//! yrs events as Yjs-shaped JS events (`observe`, `observeDeep`) and as change-feed records.
//!
//! Everything here runs inside a yrs commit: it builds JS values and queues calls, it never
//! calls JS.

use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use yrs::branch::BranchPtr;
use yrs::types::{Change, Delta, EntryChange, Event, Events, PathSegment};
use yrs::{Out, ReadTxn, TransactionMut};

use super::out_to_js;
use crate::js::shared::{DocShared, Hub, Queued};
use crate::js::value::{from_any, from_out};

/// The branch behind a shared type value.
pub(crate) fn branch_of(out: &Out) -> Option<BranchPtr> {
    Some(match out {
        Out::YText(t) => BranchPtr::from(AsRef::<yrs::branch::Branch>::as_ref(t)),
        Out::YArray(t) => BranchPtr::from(AsRef::<yrs::branch::Branch>::as_ref(t)),
        Out::YMap(t) => BranchPtr::from(AsRef::<yrs::branch::Branch>::as_ref(t)),
        Out::YXmlElement(t) => BranchPtr::from(AsRef::<yrs::branch::Branch>::as_ref(t)),
        Out::YXmlFragment(t) => BranchPtr::from(AsRef::<yrs::branch::Branch>::as_ref(t)),
        Out::YXmlText(t) => BranchPtr::from(AsRef::<yrs::branch::Branch>::as_ref(t)),
        Out::UndefinedRef(b) => *b,
        _ => return None,
    })
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), value);
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        set(&o, k, v);
    }
    o.into()
}

/// Formatting attributes as a plain object.
pub(crate) fn attrs_js(attrs: &yrs::types::Attrs) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in attrs {
        set(&o, k, &from_any(v));
    }
    o.into()
}

fn path_js(prefix: Option<&str>, path: yrs::types::Path) -> js_sys::Array {
    let out = js_sys::Array::new();
    if let Some(p) = prefix {
        out.push(&JsValue::from_str(p));
    }
    for seg in path {
        out.push(&match seg {
            PathSegment::Key(k) => JsValue::from_str(&k),
            PathSegment::Index(i) => JsValue::from(i),
        });
    }
    out
}

/// A text delta (`[{ insert, attributes? } | { retain, attributes? } | { delete }]`).
pub(crate) fn text_delta(delta: &[Delta], value: &dyn Fn(&Out) -> JsValue) -> js_sys::Array {
    delta
        .iter()
        .map(|d| match d {
            Delta::Inserted(v, attrs) => {
                let mut p = vec![("insert", value(v))];
                if let Some(a) = attrs.as_deref().filter(|a| !a.is_empty()) {
                    p.push(("attributes", attrs_js(a)));
                }
                obj(&p)
            }
            Delta::Retain(n, attrs) => {
                let mut p = vec![("retain", JsValue::from(*n))];
                if let Some(a) = attrs.as_deref().filter(|a| !a.is_empty()) {
                    p.push(("attributes", attrs_js(a)));
                }
                obj(&p)
            }
            Delta::Deleted(n) => obj(&[("delete", JsValue::from(*n))]),
        })
        .collect()
}

fn array_delta(changes: &[Change], value: &dyn Fn(&Out) -> JsValue) -> js_sys::Array {
    changes
        .iter()
        .map(|c| match c {
            Change::Added(items) => {
                let arr: js_sys::Array = items.iter().map(value).collect();
                obj(&[("insert", arr.into())])
            }
            Change::Removed(n) => obj(&[("delete", JsValue::from(*n))]),
            Change::Retain(n) => obj(&[("retain", JsValue::from(*n))]),
        })
        .collect()
}

/// Yjs's `event.keys`: a `Map` of key to `{ action, oldValue, newValue }`.
fn keys_js(keys: &HashMap<Arc<str>, EntryChange>, value: &dyn Fn(&Out) -> JsValue) -> js_sys::Map {
    let m = js_sys::Map::new();
    for (k, c) in keys {
        let change = match c {
            EntryChange::Inserted(n) => obj(&[("action", "add".into()), ("newValue", value(n))]),
            EntryChange::Updated(o, n) => obj(&[
                ("action", "update".into()),
                ("oldValue", value(o)),
                ("newValue", value(n)),
            ]),
            EntryChange::Removed(o) => obj(&[("action", "delete".into()), ("oldValue", value(o))]),
        };
        m.set(&JsValue::from_str(k), &change);
    }
    m
}

/// A Yjs-shaped event: `{ target, currentTarget, path, delta, keys, transaction, origin, local }`.
fn event_js(
    shared: &Rc<DocShared>,
    txn: &TransactionMut<'_>,
    e: &Event,
    current: &JsValue,
    info: &JsValue,
) -> JsValue {
    let value = |o: &Out| out_to_js(shared, o.clone(), txn);
    let (delta, keys) = match e {
        Event::Text(e) => (text_delta(e.delta(txn), &value), None),
        Event::XmlText(e) => (text_delta(e.delta(txn), &value), Some(e.keys(txn))),
        Event::Array(e) => (array_delta(e.delta(txn), &value), None),
        Event::XmlFragment(e) => (array_delta(e.delta(txn), &value), Some(e.keys(txn))),
        Event::Map(e) => (js_sys::Array::new(), Some(e.keys(txn))),
    };
    let keys = keys.map_or_else(js_sys::Map::new, |k| keys_js(k, &value));
    let get = |k: &str| js_sys::Reflect::get(info, &k.into()).unwrap_or_default();
    obj(&[
        ("target", out_to_js(shared, e.target(), txn)),
        ("currentTarget", current.clone()),
        ("path", path_js(None, e.path()).into()),
        ("delta", delta.into()),
        ("keys", keys.into()),
        ("transaction", info.clone()),
        ("origin", get("origin")),
        ("local", get("local")),
    ])
}

/// Change-feed records for one root's events: plain JSON with absolute paths.
pub(crate) fn change_records(
    root: &str,
    txn: &TransactionMut<'_>,
    events: &Events,
) -> Vec<JsValue> {
    let json = |o: &Out| from_out(o, txn);
    let mut out = Vec::new();
    for e in events.iter() {
        let path = || path_js(Some(root), e.path());
        let keyed = |keys: &HashMap<Arc<str>, EntryChange>, out: &mut Vec<JsValue>| {
            let keys: Vec<_> = keys.iter().collect();
            let keys = crate::core::order::sorted_by(&keys, |a, b| a.0.cmp(b.0));
            for (k, c) in keys {
                let p = path();
                p.push(&JsValue::from_str(k));
                out.push(match c {
                    EntryChange::Inserted(n) => obj(&[
                        ("kind", "set".into()),
                        ("path", p.into()),
                        ("value", json(n)),
                    ]),
                    EntryChange::Updated(o, n) => obj(&[
                        ("kind", "set".into()),
                        ("path", p.into()),
                        ("value", json(n)),
                        ("oldValue", json(o)),
                    ]),
                    EntryChange::Removed(o) => obj(&[
                        ("kind", "delete".into()),
                        ("path", p.into()),
                        ("oldValue", json(o)),
                    ]),
                });
            }
        };
        match e {
            Event::Text(t) => out.push(obj(&[
                ("kind", "text".into()),
                ("path", path().into()),
                ("delta", text_delta(t.delta(txn), &json).into()),
            ])),
            Event::XmlText(t) => {
                out.push(obj(&[
                    ("kind", "text".into()),
                    ("path", path().into()),
                    ("delta", text_delta(t.delta(txn), &json).into()),
                ]));
                keyed(t.keys(txn), &mut out);
            }
            Event::Array(a) => out.push(obj(&[
                ("kind", "array".into()),
                ("path", path().into()),
                ("delta", array_delta(a.delta(txn), &json).into()),
            ])),
            Event::XmlFragment(x) => {
                if !x.delta(txn).is_empty() {
                    out.push(obj(&[
                        ("kind", "array".into()),
                        ("path", path().into()),
                        ("delta", array_delta(x.delta(txn), &json).into()),
                    ]));
                }
                keyed(x.keys(txn), &mut out);
            }
            Event::Map(m) => keyed(m.keys(txn), &mut out),
        }
    }
    out
}

/// Subscribes `f` to the events of `branch` (`deep`: of it and everything nested in it) and
/// returns the unsubscribe function.
pub(crate) fn observe(
    shared: &Rc<DocShared>,
    branch: BranchPtr,
    f: js_sys::Function,
    deep: bool,
) -> js_sys::Function {
    let target = (branch_addr(branch), deep);
    let hub: Weak<Hub> = Rc::downgrade(&shared.hub);
    let id = shared.add_observer(target, f, |fns| {
        // The closure lives in the document, so it holds no wrapper (that would keep the
        // document alive): the wrappers in the event are made for each event, once for all
        // the functions of the set.
        let emit = move |txn: &TransactionMut<'_>, events: &mut dyn Iterator<Item = &Event>| {
            let Some(hub) = hub.upgrade() else { return };
            let Some(shared) = hub.shared() else { return };
            let fns = fns.borrow().clone();
            if fns.is_empty() {
                return;
            }
            let info = hub.txn_info(txn);
            let current = out_to_js(&shared, branch.into(), txn);
            let list: js_sys::Array = events
                .map(|e| event_js(&shared, txn, e, &current, &info))
                .collect();
            let first: JsValue = if deep { list.into() } else { list.get(0) };
            for (_, f) in fns {
                let args = js_sys::Array::of2(&first, &info);
                hub.push(Queued::Call(f, args));
            }
        };
        let key = yrs::Origin::from("ysync-observers");
        let mut b = branch;
        if deep {
            b.observe_deep(key.clone(), move |txn, events| {
                emit(txn, &mut events.iter())
            });
        } else {
            b.observe(key.clone(), move |txn, e| {
                emit(txn, &mut std::iter::once(e))
            });
        }
        Box::new(move || {
            let mut b = branch;
            if deep {
                b.unobserve_deep(&key);
            } else {
                b.unobserve(&key);
            }
        })
    });
    unsubscriber(Subscription {
        shared: Rc::downgrade(shared),
        id,
    })
}

/// Identity of a branch, to match `unobserve(f)` calls.
pub(crate) fn branch_addr(b: BranchPtr) -> usize {
    let r: &yrs::branch::Branch = &b;
    r as *const yrs::branch::Branch as usize
}

#[wasm_bindgen(inline_js = "export function unsubscriber(s) { return () => s.unsubscribe(); }")]
extern "C" {
    fn unsubscriber(s: Subscription) -> js_sys::Function;
}

/// What the function returned by `observe` / `observeDeep` calls. Dropping it (garbage
/// collection) does not unsubscribe; only calling the function does.
#[wasm_bindgen]
pub struct Subscription {
    shared: Weak<DocShared>,
    id: u64,
}

#[wasm_bindgen]
impl Subscription {
    /// Removes the observer (idempotent).
    pub fn unsubscribe(&self) {
        if let Some(s) = self.shared.upgrade() {
            s.remove_observers(|id, _, _| id == self.id);
        }
    }
}
/// Makes the change feed observe every root type with a known type (roots appear when a
/// replica gets them with `getText`, `getMap`...; Yjs cannot type them before either).
pub(crate) fn ensure_feed(shared: &DocShared) {
    if !shared.hub.wants("changes") {
        return;
    }
    let Ok(txn) = shared.read() else { return };
    let mut roots = shared.hub.feed_roots.borrow_mut();
    for (name, out) in txn.root_refs() {
        if roots.contains(name) {
            continue;
        }
        if matches!(out, yrs::Out::UndefinedRef(_)) {
            continue;
        }
        if let Some(mut branch) = branch_of(&out) {
            let name: Arc<str> = name.into();
            roots.insert(name.clone());
            let hub = Rc::downgrade(&shared.hub);
            branch.observe_deep(yrs::Origin::from("ysync-feed"), move |txn, events| {
                if let Some(hub) = hub.upgrade() {
                    if hub.wants("changes") {
                        let records = change_records(&name, txn, events);
                        hub.add_changes(records);
                    }
                }
            });
        }
    }
}
