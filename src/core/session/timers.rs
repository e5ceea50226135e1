//! The session's one timer table: every deadline it has, by name. `poll_timeout` is the
//! earliest; `handle_timeout` fires the expired ones in [`Timer::ALL`] order.

/// The session's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Ask about changes sent since the last probe (the ack interval).
    AckProbe,
    /// Renew the local awareness state and expire remote ones.
    Awareness,
    /// The oldest probe went unanswered: the connection is dead.
    ProbeTimeout,
    /// The server has been quiet: probe it.
    IdleProbe,
    /// The periodic re-sync probe.
    Resync,
    /// A leader's metrics, for the tabs that follow it.
    TabStats,
}

impl Timer {
    /// Every timer, in the order expired ones are handled.
    pub const ALL: [Timer; 6] = [
        Timer::AckProbe,
        Timer::Awareness,
        Timer::ProbeTimeout,
        Timer::IdleProbe,
        Timer::Resync,
        Timer::TabStats,
    ];
}

/// When each timer is due (`None`: not armed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct TimerTable([Option<u64>; 6]);

impl TimerTable {
    /// Arms `t` at `at` (`None` stops it).
    pub fn set(&mut self, t: Timer, at: Option<u64>) {
        self.0[t as usize] = at;
    }

    /// When `t` is due.
    pub fn get(&self, t: Timer) -> Option<u64> {
        self.0[t as usize]
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<u64> {
        self.0.iter().flatten().min().copied()
    }

    /// Whether `t` is due at `now`.
    pub fn expired(&self, t: Timer, now: u64) -> bool {
        self.get(t).is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_earliest_armed_timer_is_next() {
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::IdleProbe, Some(500));
        t.set(Timer::Awareness, Some(300));
        assert_eq!(t.next(), Some(300));
        assert!(t.expired(Timer::Awareness, 300));
        assert!(!t.expired(Timer::IdleProbe, 300));
        assert!(!t.expired(Timer::Resync, u64::MAX), "never armed");
        t.set(Timer::Awareness, None);
        assert_eq!(t.next(), Some(500));
    }
}
