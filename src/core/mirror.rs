//! What a replica mirroring the app's own Yjs document passes back to it. The app's document
//! makes the edits (the replica applies them under a [`Origin::Bridge`] origin and never
//! writes on its own); the replica syncs and stores. Everything else that changes the
//! replica (the server, other tabs, storage) must reach the app's document once: not the
//! bridge's own transactions (that would echo every keystroke), and storage's load as one
//! update however many transactions it took (an editor re-renders once per update).

use yrs::StateVector;

use crate::core::origin::Origin;

/// What to do with one committed transaction of the replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The app's document made it: nothing to pass back.
    Skip,
    /// Pass its update back now.
    Forward,
    /// Part of a load from storage: passed back as one update by [`Mirror::take_restored`].
    /// `first` says a pass-back must be scheduled (later parts join it).
    Restore {
        /// Whether this is the first part since the last pass-back.
        first: bool,
    },
}

/// The routing state of one mirror.
#[derive(Debug)]
pub struct Mirror {
    bridge: u64,
    /// The replica's state before the first restore transaction not yet passed back.
    restoring: Option<StateVector>,
}

impl Mirror {
    /// A mirror whose own transactions carry `Origin::Bridge(bridge)`.
    pub fn new(bridge: u64) -> Mirror {
        Mirror {
            bridge,
            restoring: None,
        }
    }

    /// The origin of the bridge's own transactions, encoded.
    pub fn origin(&self) -> String {
        Origin::Bridge(self.bridge).encode()
    }

    /// Routes a committed transaction of `origin` whose replica state before it was `before`.
    pub fn route(&mut self, origin: Option<Origin>, before: &StateVector) -> Route {
        match origin {
            Some(Origin::Bridge(n)) if n == self.bridge => Route::Skip,
            Some(Origin::Restore(_)) => {
                let first = self.restoring.is_none();
                if first {
                    self.restoring = Some(before.clone());
                }
                Route::Restore { first }
            }
            _ => Route::Forward,
        }
    }

    /// The state vector the restored update is to be encoded against (everything the replica
    /// gained since the first restore transaction), once; `None` if nothing is waiting.
    pub fn take_restored(&mut self) -> Option<StateVector> {
        self.restoring.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tap::Tap;
    use std::cell::RefCell;
    use std::rc::Rc;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use yrs::updates::decoder::Decode;
    use yrs::{GetString, ReadTxn, Text, Transact};

    /// What a test mirror saw: each route, with the update when it was forwarded.
    type Seen = Rc<RefCell<Vec<(Route, Rc<[u8]>)>>>;

    /// A replica with a mirror on its tap; returns what it passes back, in order.
    fn mirrored(replica: &yrs::Doc, bridge: u64) -> (Tap, Rc<RefCell<Mirror>>, Seen) {
        let tap = Tap::attach(replica).unwrap();
        let mirror = Rc::new(RefCell::new(Mirror::new(bridge)));
        let out: Seen = Rc::default();
        let (m, o) = (mirror.clone(), out.clone());
        tap.add(move |t| {
            let route = m.borrow_mut().route(t.origin(), t.txn().before_state());
            if route == Route::Forward {
                o.borrow_mut().push((route, t.update()));
            } else {
                o.borrow_mut().push((route, Rc::from(&[][..])));
            }
        });
        (tap, mirror, out)
    }

    fn apply(doc: &yrs::Doc, origin: &str, update: &[u8]) {
        doc.transact_mut_with(origin)
            .apply_update(yrs::Update::decode_v1(update).unwrap())
            .unwrap();
    }

    #[test]
    fn the_bridges_own_edits_are_not_echoed_and_the_servers_are_passed_back() {
        let app = yrs::Doc::with_client_id(5);
        let replica = yrs::Doc::with_client_id(5);
        let (_tap, mirror, out) = mirrored(&replica, 1);
        let t = app.get_or_insert_text("t");
        t.insert(&mut app.transact_mut(), 0, "mine");
        let mine = app
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let bridge = mirror.borrow().origin();
        apply(&replica, &bridge, &mine);
        // Another bridge's number (another mirror of the same replica) is not this one's.
        let server = yrs::Doc::with_client_id(9);
        server
            .get_or_insert_text("t")
            .insert(&mut server.transact_mut(), 0, "theirs ");
        let theirs = server
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        apply(&replica, &Origin::Server(3).encode(), &theirs);
        apply(&replica, &Origin::Bridge(2).encode(), &theirs);
        let out = out.borrow();
        assert_eq!(out.len(), 2, "the second copy of theirs changed nothing");
        assert_eq!(out[0].0, Route::Skip);
        assert_eq!(out[1].0, Route::Forward);
        apply(&app, "provider", &out[1].1);
        let r = replica.get_or_insert_text("t");
        assert_eq!(
            t.get_string(&app.transact()),
            r.get_string(&replica.transact())
        );
        assert_eq!(t.get_string(&app.transact()).len(), "theirs mine".len());
    }

    #[test]
    fn a_load_in_many_transactions_is_passed_back_as_one_update() {
        // What is stored: 10 rows of another session's edits.
        let old = yrs::Doc::with_client_id(3);
        let ups: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
        let u = ups.clone();
        old.observe_update_v1("rows", move |_, e: &yrs::UpdateEvent| {
            u.borrow_mut().push(e.update.clone())
        })
        .unwrap();
        let ot = old.get_or_insert_text("t");
        for i in 0..10 {
            ot.insert(&mut old.transact_mut(), i, "x");
        }
        // The app typed before the load finished: its edit is in both documents already.
        let app = yrs::Doc::with_client_id(5);
        let replica = yrs::Doc::with_client_id(5);
        let (_tap, mirror, out) = mirrored(&replica, 1);
        app.get_or_insert_text("t")
            .insert(&mut app.transact_mut(), 0, "a");
        let mine = app
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let bridge = mirror.borrow().origin();
        apply(&replica, &bridge, &mine);
        for chunk in ups.borrow().chunks(3) {
            let mut txn = replica.transact_mut_with(Origin::Restore(4).encode());
            for row in chunk {
                txn.apply_update(yrs::Update::decode_v1(row).unwrap())
                    .unwrap();
            }
        }
        let routes: Vec<Route> = out.borrow().iter().map(|(r, _)| r.clone()).collect();
        assert_eq!(
            routes,
            vec![
                Route::Skip,
                Route::Restore { first: true },
                Route::Restore { first: false },
                Route::Restore { first: false },
                Route::Restore { first: false },
            ]
        );
        let since = mirror.borrow_mut().take_restored().unwrap();
        assert_eq!(mirror.borrow_mut().take_restored(), None, "once");
        let restored = replica.transact().encode_state_as_update_v1(&since);
        apply(&app, "persistence", &restored);
        assert_eq!(
            app.transact().state_vector(),
            replica.transact().state_vector()
        );
        let (a, r) = (app.get_or_insert_text("t"), replica.get_or_insert_text("t"));
        assert_eq!(
            a.get_string(&app.transact()),
            r.get_string(&replica.transact())
        );
        assert_eq!(a.get_string(&app.transact()).len(), 11);
        // The next load is a new pass-back.
        let again = yrs::Doc::with_client_id(8);
        again
            .get_or_insert_text("u")
            .insert(&mut again.transact_mut(), 0, "z");
        let z = again
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        apply(&replica, &Origin::Restore(4).encode(), &z);
        assert_eq!(
            out.borrow().last().map(|(r, _)| r.clone()),
            Some(Route::Restore { first: true })
        );
    }
}
