//! Rust listeners of a driver's events, each removed when its [`Subscription`] is dropped.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

type Listener<E> = Rc<dyn Fn(&E)>;
type List<E> = RefCell<Vec<(u64, Listener<E>)>>;

/// The listeners of one event type.
pub struct Subscribers<E> {
    list: Rc<List<E>>,
    next: Cell<u64>,
}

impl<E> Default for Subscribers<E> {
    fn default() -> Self {
        Subscribers {
            list: Rc::default(),
            next: Cell::new(1),
        }
    }
}

impl<E: 'static> Subscribers<E> {
    /// Adds `f` until the returned subscription is dropped.
    pub fn add(&self, f: impl Fn(&E) + 'static) -> Subscription<E> {
        let id = self.next.get();
        self.next.set(id + 1);
        self.list.borrow_mut().push((id, Rc::new(f)));
        Subscription {
            list: Rc::downgrade(&self.list),
            id,
        }
    }

    /// Calls every listener with `e`. The list is copied first, so a listener may subscribe
    /// or unsubscribe.
    pub fn call(&self, e: &E) {
        let fs: Vec<Listener<E>> = self.list.borrow().iter().map(|(_, f)| f.clone()).collect();
        for f in fs {
            f(e);
        }
    }

    /// Whether nobody listens.
    pub fn is_empty(&self) -> bool {
        self.list.borrow().is_empty()
    }

    /// Removes every listener.
    pub fn clear(&self) {
        let gone = std::mem::take(&mut *self.list.borrow_mut());
        drop(gone);
    }
}

/// A listener added by [`Subscribers::add`]; dropping it removes the listener.
pub struct Subscription<E> {
    list: Weak<List<E>>,
    id: u64,
}

impl<E> Drop for Subscription<E> {
    fn drop(&mut self) {
        if let Some(list) = self.list.upgrade() {
            let gone: Vec<_> = {
                let mut l = list.borrow_mut();
                let (gone, kept) = std::mem::take(&mut *l)
                    .into_iter()
                    .partition(|(id, _)| *id == self.id);
                *l = kept;
                gone
            };
            drop(gone);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_dropped_subscription_hears_nothing_more() {
        let subs = Subscribers::<u32>::default();
        let heard = Rc::new(RefCell::new(Vec::new()));
        let h = heard.clone();
        let a = subs.add(move |e| h.borrow_mut().push(("a", *e)));
        let h = heard.clone();
        let _b = subs.add(move |e| h.borrow_mut().push(("b", *e)));
        subs.call(&1);
        drop(a);
        subs.call(&2);
        assert_eq!(*heard.borrow(), vec![("a", 1), ("b", 1), ("b", 2)]);
        subs.clear();
        subs.call(&3);
        assert_eq!(heard.borrow().len(), 3);
    }
}
