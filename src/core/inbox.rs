//! Time-slicing of what arrives from the network: an item is handled at once while the current
//! slice of the event loop has time left; past the budget, items wait in order and are handled
//! in later slices, so a burst of frames never holds the main thread for long.
//!
//! Browsers run socket messages ahead of timers: a burst of thousands of frames, each handled
//! in its own short task, still starves timers and rendering for seconds. Handling a message is
//! then reduced to queueing it, and the queue is drained from a timer, a budget at a time.
//!
//! The adapter calls [`arrive`](Inbox::arrive) for every item, runs a zero-delay timer when
//! [`take_timer_request`](Inbox::take_timer_request) says so, and in that timer calls
//! [`yielded`](Inbox::yielded) then [`next`](Inbox::next) until it returns `None`. Time is an
//! input (ms, fractions allowed).

use std::collections::VecDeque;

/// How long one slice may spend on arrivals before they are queued (ms).
pub const SLICE_BUDGET_MS: f64 = 8.0;

/// The time-sliced queue of one connection's arrivals.
#[derive(Debug)]
pub struct Inbox<T> {
    queue: VecDeque<T>,
    /// When the current slice began: the first item handled since the event loop last ran
    /// the timer.
    slice_started: Option<f64>,
    budget_ms: f64,
    /// A zero-delay timer must be scheduled (it marks the end of the slice and drains).
    timer_wanted: bool,
    timer_pending: bool,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Inbox::new(SLICE_BUDGET_MS)
    }
}

impl<T> Inbox<T> {
    /// An inbox whose slices last `budget_ms`.
    pub fn new(budget_ms: f64) -> Self {
        Inbox {
            queue: VecDeque::new(),
            slice_started: None,
            budget_ms,
            timer_wanted: false,
            timer_pending: false,
        }
    }

    fn want_timer(&mut self) {
        if !self.timer_pending {
            self.timer_pending = true;
            self.timer_wanted = true;
        }
    }

    /// `item` arrived at `now`: returned to be handled at once, or queued (`None`).
    pub fn arrive(&mut self, now: f64, item: T) -> Option<T> {
        let start = *self.slice_started.get_or_insert(now);
        // Every slice ends with the timer: it tells when the event loop got to other work.
        self.want_timer();
        if self.queue.is_empty() && now - start < self.budget_ms {
            Some(item)
        } else {
            self.queue.push_back(item);
            None
        }
    }

    /// Whether the adapter must schedule the zero-delay timer now (true once per schedule).
    pub fn take_timer_request(&mut self) -> bool {
        std::mem::take(&mut self.timer_wanted)
    }

    /// The timer fired: the event loop ran other work since the slice began; a new one
    /// starts.
    pub fn yielded(&mut self) {
        self.timer_pending = false;
        self.slice_started = None;
    }

    /// During the timer: the next queued item while the slice has time left at `now`. When it
    /// returns `None` with items left, the timer is requested again.
    pub fn next(&mut self, now: f64) -> Option<T> {
        if self.queue.is_empty() {
            return None;
        }
        let start = *self.slice_started.get_or_insert(now);
        if now - start < self.budget_ms {
            self.queue.pop_front()
        } else {
            self.want_timer();
            None
        }
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Forgets what waits (the connection was replaced).
    pub fn clear(&mut self) {
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn a_lone_item_is_handled_at_once() {
        let mut i = Inbox::new(8.0);
        assert_eq!(i.arrive(100.0, 1), Some(1));
        assert!(i.take_timer_request(), "the timer marks the slice's end");
        assert!(!i.take_timer_request(), "once");
        i.yielded();
        assert_eq!(i.next(101.0), None);
        assert!(!i.take_timer_request(), "nothing waits: no timer");
        assert_eq!(i.arrive(200.0, 2), Some(2));
    }

    #[test]
    fn a_burst_past_the_budget_waits_in_order_and_drains_a_slice_at_a_time() {
        let mut i = Inbox::new(8.0);
        let mut now = 0.0;
        let mut handled = Vec::new();
        // Each item takes 1 ms to handle; 100 arrive back to back.
        for n in 0..100 {
            if let Some(x) = i.arrive(now, n) {
                handled.push(x);
                now += 1.0;
            }
        }
        assert_eq!(
            handled,
            (0..8).collect::<Vec<_>>(),
            "the first slice's worth"
        );
        assert_eq!(i.len(), 92);
        // Later arrivals queue behind the backlog even in a new slice.
        let mut slices = 0;
        while i.take_timer_request() {
            slices += 1;
            now += 4.0; // the event loop ran other work
            i.yielded();
            let start = now;
            while let Some(x) = i.next(now) {
                handled.push(x);
                now += 1.0;
            }
            assert!(now - start <= 8.0, "a slice stays in its budget");
            if slices == 1 {
                assert_eq!(i.arrive(now, 100), None, "behind the backlog");
            }
        }
        assert_eq!(
            handled,
            (0..=100).collect::<Vec<_>>(),
            "every item, in order"
        );
        assert!(i.is_empty());
        assert_eq!(slices, 12, "93 queued items, 8 a slice");
    }
}
