//! The floor under ysync's bundle size: the document surface ysync gives JS (text with
//! formatting, deltas and embeds, map, array, XML, nested types, deep observers with paths and
//! deltas, undo, relative positions, updates v1/v2 with merge and diff, the y-protocols sync
//! and awareness codecs), built from yrs alone with ysync's release profile and exported to JS
//! through wasm-bindgen with plain arguments (numbers, strings, bytes) instead of JS values.
//!
//! No persistence, provider, validation, error types or JS value conversion: whatever ysync
//! adds to this is its own code. `node scripts/size.mjs --floor` builds it and prints its size
//! next to ysync's.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use yrs::sync::{Awareness, Message, MessageReader};
use yrs::types::text::YChange;
use yrs::types::{Attrs, Delta, Event, ToJson};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{
    diff_updates_v1, encode_state_vector_from_update_v1, merge_updates_v1, merge_updates_v2, Any,
    Array, ArrayPrelim, ArrayRef, DeepObservable, Doc, GetString, In, IndexedSequence, Map,
    MapPrelim, MapRef, Observable, Options, ReadTxn, StateVector, StickyIndex, Text, TextPrelim,
    TextRef, Transact, UndoManager, Update, Xml, XmlElementPrelim, XmlFragment, XmlTextPrelim,
};

struct NoClock;

impl yrs::sync::Clock for NoClock {
    fn now(&self) -> u64 {
        0
    }
}

/// One document with its root types, observers, undo manager and awareness.
#[wasm_bindgen]
pub struct Floor {
    doc: Doc,
    text: TextRef,
    map: MapRef,
    array: ArrayRef,
    undo: UndoManager,
    awareness: Awareness,
    seen: Rc<Cell<u32>>,
}

fn attrs(key: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert(key.into(), Any::Bool(true));
    a
}

#[wasm_bindgen]
impl Floor {
    /// A document with client id `id`.
    #[wasm_bindgen(constructor)]
    pub fn new(id: f64) -> Floor {
        let doc = Doc::with_options(Options::with_client_id(yrs::ClientID::new(id as u64)));
        let text = doc.get_or_insert_text("text");
        let map = doc.get_or_insert_map("map");
        let array = doc.get_or_insert_array("array");
        let seen = Rc::new(Cell::new(0));
        doc.get_or_insert_text("a")
            .observe_deep("floor", counter(&seen));
        map.observe_deep("floor", counter(&seen));
        array.observe_deep("floor", counter(&seen));
        doc.get_or_insert_xml_fragment("xml")
            .observe_deep("floor", counter(&seen));
        let s = seen.clone();
        text.observe("floor", move |txn, e| {
            s.set(s.get() + e.delta(txn).len() as u32);
        });
        let s = seen.clone();
        let _ = doc.observe_update_v1("floor", move |_, e| s.set(s.get() + e.update.len() as u32));
        let mut undo = UndoManager::with_options(yrs::undo::Options {
            capture_timeout_millis: 500,
            tracked_origins: Default::default(),
            capture_transaction: None,
            timestamp: Arc::new(NoClock),
            init_undo_stack: Vec::new(),
            init_redo_stack: Vec::new(),
        });
        undo.expand_scope(&doc, &text);
        undo.expand_scope(&doc, &map);
        let awareness = Awareness::with_clock(doc.clone(), NoClock);
        Floor {
            doc,
            text,
            map,
            array,
            undo,
            awareness,
            seen,
        }
    }

    /// Text: insert, with attributes, an embed, format, delete, apply a delta; its delta length.
    pub fn text(&self, at: u32, s: &str, key: &str, del: u32) -> u32 {
        let mut txn = self.doc.transact_mut_with(key);
        self.text.insert(&mut txn, at, s);
        self.text
            .insert_with_attributes(&mut txn, at, s, attrs(key));
        self.text.insert_embed(&mut txn, at, Any::from(s));
        self.text.format(&mut txn, at, del, attrs(key));
        self.text.remove_range(&mut txn, at, del);
        self.text.apply_delta(
            &mut txn,
            [
                Delta::Retain(at, Some(Box::new(attrs(key)))),
                Delta::Inserted(In::Any(Any::from(s)), None),
                Delta::Deleted(del),
            ],
        );
        self.text.diff(&txn, YChange::identity).len() as u32 + self.text.len(&txn)
    }

    /// The text as a string.
    #[wasm_bindgen(js_name = textString)]
    pub fn text_string(&self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    /// Map: set a number, a nested array holding a map, a nested text; read back as JSON.
    pub fn map(&self, key: &str, v: f64, del: &str) -> String {
        let mut txn = self.doc.transact_mut();
        self.map.insert(&mut txn, key, v);
        let nested = self.map.insert(&mut txn, "nested", ArrayPrelim::default());
        nested.push_back(&mut txn, MapPrelim::default());
        self.map.insert(&mut txn, "t", TextPrelim::new(key));
        let mut out = String::new();
        if self.map.contains_key(&txn, del) {
            self.map.remove(&mut txn, del);
        }
        for (k, v) in self.map.iter(&txn) {
            out.push_str(k);
            out.push_str(&v.to_string(&txn));
        }
        self.map.to_json(&txn).to_json(&mut out);
        out.push_str(&self.map.len(&txn).to_string());
        out
    }

    /// Array: insert, push, get, delete, slice; as JSON.
    pub fn array(&self, at: u32, s: &str, del: u32) -> String {
        let mut txn = self.doc.transact_mut();
        self.array.insert(&mut txn, at, s);
        self.array.push_back(&mut txn, at as f64);
        self.array.insert(&mut txn, 0, MapPrelim::default());
        let got = self.array.get(&txn, at).map(|v| v.to_string(&txn));
        self.array.remove_range(&mut txn, at, del);
        let mut out = got.unwrap_or_default();
        for v in self.array.iter(&txn).take(del as usize) {
            out.push_str(&v.to_string(&txn));
        }
        self.array.to_json(&txn).to_json(&mut out);
        out
    }

    /// XML: an element with an attribute and a formatted text inside; as a string.
    pub fn xml(&self, tag: &str, s: &str) -> String {
        let xml = self.doc.get_or_insert_xml_fragment("xml");
        let mut txn = self.doc.transact_mut();
        let e = xml.insert(&mut txn, 0, XmlElementPrelim::empty(tag));
        e.insert_attribute(&mut txn, tag, s);
        let t = e.insert(&mut txn, 0, XmlTextPrelim::new(s));
        t.format(&mut txn, 0, 1, attrs(tag));
        xml.get_string(&txn)
    }

    /// Undo, then redo when `redo`.
    pub fn undo(&mut self, redo: bool) -> bool {
        if redo {
            self.undo.redo_blocking()
        } else {
            self.undo.undo_blocking()
        }
    }

    /// A relative position at `index` of the text, encoded, then resolved again.
    pub fn position(&self, index: u32) -> u32 {
        let txn = self.doc.transact();
        let Some(p) = self.text.sticky_index(&txn, index, yrs::Assoc::After) else {
            return 0;
        };
        let bytes = p.encode_v1();
        StickyIndex::decode_v1(&bytes)
            .ok()
            .and_then(|p| p.get_offset(&txn))
            .map_or(0, |o| o.index)
    }

    /// The state vector, v1.
    #[wasm_bindgen(js_name = stateVector)]
    pub fn state_vector(&self) -> Vec<u8> {
        self.doc.transact().state_vector().encode_v1()
    }

    /// The state as an update (v2 when `v2`) from a state vector.
    pub fn encode(&self, sv: &[u8], v2: bool) -> Vec<u8> {
        let sv = StateVector::decode_v1(sv).unwrap_or_default();
        let txn = self.doc.transact();
        if v2 {
            txn.encode_state_as_update_v2(&sv)
        } else {
            txn.encode_state_as_update_v1(&sv)
        }
    }

    /// Applies an update (v2 when `v2`); false if it does not decode or apply.
    pub fn apply(&self, update: &[u8], v2: bool) -> bool {
        let u = if v2 {
            Update::decode_v2(update)
        } else {
            Update::decode_v1(update)
        };
        match u {
            Ok(u) => self.doc.transact_mut().apply_update(u).is_ok(),
            Err(_) => false,
        }
    }

    /// Handles a y-websocket frame (sync and awareness messages); returns how many it held.
    pub fn frame(&mut self, frame: &[u8], json: &str) -> u32 {
        self.awareness.set_local_state_raw(json);
        let mut n = 0;
        let mut dec = DecoderV1::from(frame);
        for m in MessageReader::new(&mut dec).flatten() {
            n += 1;
            match m {
                Message::Sync(yrs::sync::SyncMessage::Update(u)) => {
                    self.apply(&u, false);
                }
                Message::Awareness(u) => {
                    let _ = self.awareness.apply_update(u);
                }
                other => n += other.encode_v1().len() as u32,
            }
        }
        n + self
            .awareness
            .update()
            .map_or(0, |u| u.encode_v1().len() as u32)
    }

    /// What the observers saw so far.
    pub fn seen(&self) -> u32 {
        self.seen.get()
    }
}

fn counter(seen: &Rc<Cell<u32>>) -> impl Fn(&yrs::TransactionMut, &yrs::types::Events) + 'static {
    let seen = seen.clone();
    move |txn, events| {
        for e in events.iter() {
            let n = match e {
                Event::Text(t) => t.delta(txn).len(),
                Event::Array(a) => a.delta(txn).len(),
                Event::Map(m) => m.keys(txn).len(),
                Event::XmlFragment(x) => x.delta(txn).len(),
                Event::XmlText(x) => x.delta(txn).len(),
            };
            seen.set(seen.get() + n as u32 + e.path().len() as u32);
        }
    }
}

/// Merges two updates (v2 when `v2`).
#[wasm_bindgen(js_name = mergeUpdates)]
pub fn merge_updates(a: &[u8], b: &[u8], v2: bool) -> Vec<u8> {
    if v2 {
        merge_updates_v2([a, b]).unwrap_or_default()
    } else {
        merge_updates_v1([a, b]).unwrap_or_default()
    }
}

/// What `update` holds beyond state vector `sv`, and its own state vector.
#[wasm_bindgen(js_name = diffUpdate)]
pub fn diff_update(update: &[u8], sv: &[u8]) -> Vec<u8> {
    let mut out = diff_updates_v1(update, sv).unwrap_or_default();
    out.extend(encode_state_vector_from_update_v1(update).unwrap_or_default());
    out
}
