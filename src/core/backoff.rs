//! Reconnect delays: exponential backoff with full jitter, capped, reset after a good connection.
//!
//! The jitter comes from a small seeded generator: the seed is an input, so a test can replay
//! the exact delays.

/// Reconnect policy.
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: u64,
    max_ms: u64,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// Delays start at `base_ms` and double up to `max_ms`; `seed` drives the jitter.
    pub fn new(base_ms: u64, max_ms: u64, seed: u64) -> Self {
        Backoff {
            base_ms: base_ms.max(1),
            max_ms: max_ms.max(1),
            attempt: 0,
            // xorshift must not start at zero
            rng: seed | 1,
        }
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The upper bound of the next delay, before jitter.
    pub fn ceiling(&self) -> u64 {
        let exp = self
            .base_ms
            .saturating_mul(1u64.checked_shl(self.attempt).unwrap_or(u64::MAX));
        exp.min(self.max_ms)
    }

    /// The delay before the next attempt: uniform in `[0, ceiling]` ("full jitter").
    pub fn next_delay(&mut self) -> u64 {
        let cap = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        self.next_rand() % (cap + 1)
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// A connection went well: start again from the base delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn grows_caps_and_resets() {
        let mut b = Backoff::new(100, 2_500, 42);
        let mut ceilings = vec![];
        for _ in 0..8 {
            let c = b.ceiling();
            let d = b.next_delay();
            assert!(d <= c);
            ceilings.push(c);
        }
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2500, 2500, 2500]);
        b.reset();
        assert_eq!(b.ceiling(), 100);
    }

    #[test]
    fn same_seed_same_delays_and_jitter_spreads() {
        let run = |seed| {
            let mut b = Backoff::new(1000, 1000, seed);
            (0..50).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let v = run(7);
        assert!(v.iter().any(|d| *d < 300) && v.iter().any(|d| *d > 700));
    }
}
