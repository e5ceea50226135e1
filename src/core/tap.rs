//! The one place a document's committed transactions are observed: each is classified by
//! origin once and encoded once, and the same bytes go to every consumer (the sessions, the
//! store, the document's `update` listeners), instead of one yrs observer per consumer each
//! parsing the origin and encoding the update again.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

use yrs::TransactionMut;

use crate::core::origin::Origin;

/// One committed transaction that changed the document, as consumers see it.
pub struct Tapped<'a, 'doc> {
    txn: &'a TransactionMut<'doc>,
    origin: Option<Origin>,
    update: OnceCell<Rc<[u8]>>,
}

impl Tapped<'_, '_> {
    /// The transaction's origin bytes, if it has one.
    pub fn origin_bytes(&self) -> Option<&[u8]> {
        self.txn.origin().map(|o| o.as_ref())
    }

    /// The transaction's origin, if ysync made it (parsed once per transaction).
    pub fn origin(&self) -> Option<Origin> {
        self.origin
    }

    /// The transaction, for what the update does not say (its JS origin value...).
    pub fn txn(&self) -> &TransactionMut<'_> {
        self.txn
    }

    /// The v1 update of the transaction, encoded by the first consumer that asks and shared
    /// by the others.
    pub fn update(&self) -> Rc<[u8]> {
        self.update
            .get_or_init(|| self.txn.encode_update_v1().into())
            .clone()
    }
}

type Consumer = Rc<dyn Fn(&Tapped<'_, '_>)>;

/// The consumers of a document's transactions. Attached to one document; detached on drop.
pub struct Tap {
    doc: yrs::Doc,
    key: String,
    consumers: Rc<RefCell<Vec<(u64, Consumer)>>>,
    next: std::cell::Cell<u64>,
    /// The update of the next transaction to commit, when its maker already has it.
    given: Rc<RefCell<Option<Rc<[u8]>>>>,
}

/// The document had a transaction open, so the tap could not subscribe to it.
#[derive(Debug, thiserror::Error)]
#[error("the document is busy in another transaction")]
pub struct TapBusy;

impl Tap {
    /// Observes `doc`'s committed transactions. Consumers run inside yrs's commit and must only
    /// queue work.
    pub fn attach(doc: &yrs::Doc) -> Result<Tap, TapBusy> {
        let key = format!("ysync-tap-{}", crate::core::origin::next_number());
        let consumers: Rc<RefCell<Vec<(u64, Consumer)>>> = Rc::default();
        let list = Rc::downgrade(&consumers);
        let given: Rc<RefCell<Option<Rc<[u8]>>>> = Rc::default();
        let gift = Rc::downgrade(&given);
        doc.observe_transaction_cleanup(key.as_str(), move |txn, _| {
            // Only ever for the transaction it was given for.
            let given = gift.upgrade().and_then(|g| g.borrow_mut().take());
            let Some(list) = list.upgrade() else { return };
            // A transaction that changed nothing is no update (yrs still calls its observers).
            if !crate::core::changed(txn) {
                return;
            }
            // Copied: a consumer may add or remove consumers.
            let fs: Vec<Consumer> = list.borrow().iter().map(|(_, f)| f.clone()).collect();
            if fs.is_empty() {
                return;
            }
            let tapped = Tapped {
                txn,
                origin: txn.origin().and_then(|o| Origin::parse(o.as_ref())),
                update: given.map_or_else(OnceCell::new, OnceCell::from),
            };
            for f in fs {
                f(&tapped);
            }
        })
        .map_err(|_| TapBusy)?;
        Ok(Tap {
            doc: doc.clone(),
            key,
            consumers,
            next: std::cell::Cell::new(1),
            given,
        })
    }

    /// Says that the transaction about to commit has `update` as its v1 update: consumers get
    /// these bytes instead of a new encoding. For a bridge whose transaction applied exactly
    /// the update the app's Yjs document made (encoded once already, by Yjs). Forgotten
    /// after that transaction, whether or not it changed anything.
    pub fn give(&self, update: Rc<[u8]>) {
        *self.given.borrow_mut() = Some(update);
    }

    /// Forgets a given update that no commit took (the transaction failed to open).
    pub fn forget_given(&self) {
        self.given.borrow_mut().take();
    }

    /// Adds a consumer; it is called for every transaction that changes the document until
    /// [`Tap::remove`] with the id returned.
    pub fn add(&self, f: impl Fn(&Tapped<'_, '_>) + 'static) -> u64 {
        let id = self.next.get();
        self.next.set(id + 1);
        self.consumers.borrow_mut().push((id, Rc::new(f)));
        id
    }

    /// Removes the consumer `id`.
    pub fn remove(&self, id: u64) {
        let gone: Vec<_> = {
            let mut l = self.consumers.borrow_mut();
            let (gone, kept) = std::mem::take(&mut *l)
                .into_iter()
                .partition(|(i, _)| *i == id);
            *l = kept;
            gone
        };
        drop(gone);
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let _ = self.doc.unobserve_transaction_cleanup(self.key.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::{Text, Transact};

    #[test]
    fn every_consumer_gets_the_same_bytes_encoded_once() {
        let doc = yrs::Doc::new();
        let tap = Tap::attach(&doc).unwrap();
        let seen: Rc<RefCell<Vec<Rc<[u8]>>>> = Rc::default();
        let origins: Rc<RefCell<Vec<Option<Origin>>>> = Rc::default();
        for _ in 0..3 {
            let (s, o) = (seen.clone(), origins.clone());
            tap.add(move |t| {
                s.borrow_mut().push(t.update());
                o.borrow_mut().push(t.origin());
            });
        }
        let text = doc.get_or_insert_text("t");
        text.insert(
            &mut doc.transact_mut_with(Origin::Server(4).encode()),
            0,
            "hi",
        );
        let seen = seen.borrow();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|u| Rc::ptr_eq(u, &seen[0])), "one encoding");
        assert_eq!(*origins.borrow(), vec![Some(Origin::Server(4)); 3]);
        let other = yrs::Doc::new();
        yrs::updates::decoder::Decode::decode_v1(&seen[0])
            .map(|u| other.transact_mut().apply_update(u))
            .unwrap()
            .unwrap();
        let t2 = other.get_or_insert_text("t");
        assert_eq!(yrs::GetString::get_string(&t2, &other.transact()), "hi");
    }

    #[test]
    fn a_given_update_is_what_consumers_get_for_that_transaction_only() {
        let doc = yrs::Doc::new();
        let tap = Tap::attach(&doc).unwrap();
        let seen: Rc<RefCell<Vec<Rc<[u8]>>>> = Rc::default();
        let s = seen.clone();
        tap.add(move |t| s.borrow_mut().push(t.update()));
        let text = doc.get_or_insert_text("t");
        let given: Rc<[u8]> = Rc::from(&b"as made elsewhere"[..]);
        tap.give(given.clone());
        text.insert(&mut doc.transact_mut(), 0, "a");
        text.insert(&mut doc.transact_mut(), 1, "b");
        // An empty transaction takes the gift too: it never reaches a later one.
        tap.give(given.clone());
        drop(doc.transact_mut());
        text.insert(&mut doc.transact_mut(), 2, "c");
        let seen = seen.borrow();
        assert_eq!(seen.len(), 3);
        assert!(Rc::ptr_eq(&seen[0], &given), "no new encoding");
        assert!(!Rc::ptr_eq(&seen[1], &given) && !Rc::ptr_eq(&seen[2], &given));
        assert_ne!(&seen[2][..], &given[..]);
    }

    #[test]
    fn no_call_without_a_change_and_none_after_removal_or_drop() {
        let doc = yrs::Doc::new();
        let tap = Tap::attach(&doc).unwrap();
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        let id = tap.add(move |_| c.set(c.get() + 1));
        drop(doc.transact_mut());
        assert_eq!(calls.get(), 0, "an empty transaction is no update");
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "a");
        assert_eq!(calls.get(), 1);
        tap.remove(id);
        text.insert(&mut doc.transact_mut(), 0, "b");
        assert_eq!(calls.get(), 1);
        let c = calls.clone();
        tap.add(move |_| c.set(c.get() + 1));
        drop(tap);
        text.insert(&mut doc.transact_mut(), 0, "c");
        assert_eq!(calls.get(), 1, "detached on drop");
    }
}
