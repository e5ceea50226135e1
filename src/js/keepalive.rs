//! Keeps what JS created running until its `destroy()`, as y-websocket and y-indexeddb do.
//!
//! Yjs apps often write `new WebsocketProvider(url, room, doc)` or
//! `new IndexeddbPersistence(name, doc)` and keep no reference. wasm-bindgen frees the Rust value
//! of a collected wrapper (a `FinalizationRegistry`), which would silently stop syncing or
//! storing. So the constructors JS calls put the running core here, and `destroy()` takes it out.
//! Rust callers use the plain `new`, whose value stops on `Drop` as Rust values do.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    static LIVE: RefCell<Vec<Rc<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

fn same(a: &Rc<dyn Any>, b: *const ()) -> bool {
    Rc::as_ptr(a) as *const () == b
}

/// Keeps `core` alive until [`release`].
pub fn keep<T: 'static>(core: &Rc<T>) {
    let core: Rc<dyn Any> = core.clone();
    LIVE.with(|l| {
        let mut l = l.borrow_mut();
        if !l.iter().any(|c| same(c, Rc::as_ptr(&core) as *const ())) {
            l.push(core);
        }
    });
}

/// Lets `core` go (a no-op if it was not kept). The value is dropped outside the borrow: its
/// `Drop` may run arbitrary cleanup.
pub fn release<T: 'static>(core: &Rc<T>) {
    let p = Rc::as_ptr(core) as *const ();
    let gone = LIVE.with(|l| {
        let mut l = l.borrow_mut();
        l.iter().position(|c| same(c, p)).map(|i| l.swap_remove(i))
    });
    drop(gone);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count() -> usize {
        LIVE.with(|l| l.borrow().len())
    }
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn kept_until_released_once() {
        let a = Rc::new(1u8);
        let weak = Rc::downgrade(&a);
        let before = count();
        keep(&a);
        keep(&a);
        assert_eq!(count(), before + 1, "kept once");
        drop(a);
        let a = weak
            .upgrade()
            .expect("kept alive without any other reference");
        release(&a);
        assert_eq!(count(), before);
        drop(a);
        assert!(weak.upgrade().is_none(), "released");
        release(&Rc::new(2u8)); // releasing what was never kept is a no-op
    }
}
