//! One reschedulable timeout with a single long-lived closure.
//!
//! Not gloo-timers: its `Timeout` owns a fresh closure per schedule and frees it on drop, so
//! rescheduling from inside the callback would free the closure that is running. Here the
//! closure lives as long as the timer; the pending timeout is cleared on drop.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = setInterval)]
    fn set_interval(cb: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearInterval)]
    fn clear_interval(id: &JsValue);
}

/// A timer that calls its callback once per [`schedule`](Timer::schedule).
pub struct Timer {
    cb: Closure<dyn FnMut()>,
    /// The id of the pending timeout; cleared by the callback itself when it fires.
    pending: Rc<RefCell<Option<JsValue>>>,
    /// When the pending timeout fires (ms, the caller's clock), for [`Timer::schedule_by`].
    due: u64,
}

impl Timer {
    /// A timer that runs `f` when it fires.
    pub fn new(mut f: impl FnMut() + 'static) -> Self {
        let pending: Rc<RefCell<Option<JsValue>>> = Rc::default();
        let fired = pending.clone();
        Timer {
            cb: Closure::new(move || {
                fired.borrow_mut().take();
                f()
            }),
            pending,
            due: 0,
        }
    }

    /// A timer that runs `f` on its owner, if the owner is still alive when it fires (the
    /// owner usually holds the timer, so it must not be held strongly here).
    pub fn for_owner<C: 'static>(owner: Weak<C>, f: impl Fn(&Rc<C>) + 'static) -> Self {
        Timer::new(move || {
            if let Some(c) = owner.upgrade() {
                f(&c)
            }
        })
    }

    /// Fires in `ms` milliseconds, replacing any pending schedule.
    pub fn schedule(&mut self, ms: u64) {
        self.cancel();
        *self.pending.borrow_mut() = Some(set_timeout(self.cb.as_ref().unchecked_ref(), ms as f64));
        self.due = u64::MAX; // not on a known clock: the next `schedule_by` reschedules
    }

    /// Fires no later than `at` (ms on the clock that gave `now`): a pending timeout that fires
    /// by then is kept. For callers whose deadline moves on every event (a provider's, with
    /// each frame), this saves a clearTimeout + setTimeout pair per event; firing early is
    /// harmless to them, as they check what is due and schedule again.
    pub fn schedule_by(&mut self, at: u64, now: u64) {
        if self.pending.borrow().is_some() && self.due <= at {
            return;
        }
        self.schedule(at.saturating_sub(now));
        self.due = at.max(now);
    }

    /// Clears the pending schedule, if any.
    pub fn cancel(&mut self) {
        if let Some(id) = self.pending.borrow_mut().take() {
            clear_timeout(&id);
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// Calls its callback every `ms` milliseconds (`setInterval`) until dropped.
pub struct Interval {
    _cb: Closure<dyn FnMut()>,
    id: JsValue,
}

impl Interval {
    /// Runs `f` on its owner every `ms` ms while the owner is alive (held weakly, as it
    /// usually holds the interval).
    pub fn for_owner<C: 'static>(owner: Weak<C>, ms: u64, f: impl Fn(&Rc<C>) + 'static) -> Self {
        let cb = Closure::<dyn FnMut()>::new(move || {
            if let Some(c) = owner.upgrade() {
                f(&c)
            }
        });
        let id = set_interval(cb.as_ref().unchecked_ref(), ms as f64);
        Interval { _cb: cb, id }
    }
}

impl Drop for Interval {
    fn drop(&mut self) {
        clear_interval(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use wasm_bindgen_test::wasm_bindgen_test;

    async fn sleep(ms: u32) {
        let p = js_sys::Promise::new(&mut |resolve, _| {
            set_timeout(&resolve, f64::from(ms));
        });
        let _ = wasm_bindgen_futures::JsFuture::from(p).await;
    }

    #[wasm_bindgen_test]
    async fn schedule_by_keeps_an_earlier_timeout_and_moves_a_later_one() {
        let fired = Rc::new(Cell::new(0u32));
        let f = fired.clone();
        let mut t = Timer::new(move || f.set(f.get() + 1));
        // A later deadline leaves the pending, earlier timeout alone.
        t.schedule_by(20, 0);
        t.schedule_by(10_000, 0);
        sleep(80).await;
        assert_eq!(fired.get(), 1);
        // An earlier deadline replaces a pending later one.
        t.schedule_by(10_000, 0);
        t.schedule_by(20, 0);
        sleep(80).await;
        assert_eq!(fired.get(), 2);
        // After `schedule`, whose deadline is not known, `schedule_by` always reschedules.
        t.schedule(10_000);
        t.schedule_by(20, 0);
        sleep(80).await;
        assert_eq!(fired.get(), 3);
        t.schedule_by(20, 0);
        t.cancel();
        sleep(80).await;
        assert_eq!(fired.get(), 3, "cancelled");
    }
}
