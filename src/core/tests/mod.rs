//! Tests of the core that are not one module's unit tests: the simulated y-websocket world
//! (`sim`), the session's behaviour in it (`session`), the session on the Hocuspocus dialect
//! (`hocuspocus`), and frames made by Yjs (`golden`).

mod golden;
mod hocuspocus;
mod lead;
mod reconnect;
mod session;
mod sim;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
use yrs::{Text, Transact};

#[test]
fn changed_is_true_for_insertions_and_deletions_only() {
    let doc = yrs::Doc::with_client_id(1);
    let text = doc.get_or_insert_text("t");
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let s = seen.clone();
    doc.observe_transaction_cleanup("t", move |txn, _| {
        s.borrow_mut().push(crate::core::changed(txn))
    })
    .unwrap();
    seen.borrow_mut().clear(); // subscribing may commit an empty transaction of its own
    drop(doc.transact_mut()); // nothing
    text.insert(&mut doc.transact_mut(), 0, "abc");
    text.remove_range(&mut doc.transact_mut(), 0, 1); // a deletion alone
    assert_eq!(*seen.borrow(), vec![false, true, true]);
}
