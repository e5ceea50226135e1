//! One sort for ysync's own orderings (awareness clients, state vectors, change records).
//!
//! The standard library compiles its whole sort again for every element type and comparison
//! it is called with, a few KB of wasm each (docs/size.md). ysync's orderings are of short
//! lists (clients, keys), so they share one instantiation that sorts indices through a
//! `dyn` comparison, and only a small copy loop is compiled per element type.

use std::cmp::Ordering;

/// The indices `0..len` in the order `cmp` gives them; equal elements keep their order.
fn order(len: usize, cmp: &dyn Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut ix: Vec<usize> = (0..len).collect();
    // Ties broken by index: stable without the stable sort's larger code.
    ix.sort_unstable_by(|&a, &b| cmp(a, b).then(a.cmp(&b)));
    ix
}

/// `items` sorted by `cmp` (stable).
pub fn sorted_by<T: Copy>(items: &[T], cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    order(items.len(), &|a, b| cmp(&items[a], &items[b]))
        .into_iter()
        .map(|i| items[i])
        .collect()
}

/// `items` sorted by a `u64` key, ascending (stable).
pub fn sorted_by_u64<T: Copy>(items: &[T], key: impl Fn(&T) -> u64) -> Vec<T> {
    sorted_by(items, |a, b| key(a).cmp(&key(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn sorts_and_keeps_the_order_of_equal_keys() {
        let v = [(3u64, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        assert_eq!(
            sorted_by_u64(&v, |e| e.0),
            [(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]
        );
        assert_eq!(
            sorted_by(&["b", "a", "c"], |a, b| a.cmp(b)),
            ["a", "b", "c"]
        );
        assert!(sorted_by_u64(&[] as &[u64], |k| *k).is_empty());
    }

    #[test]
    fn agrees_with_the_standard_stable_sort() {
        let mut rng = fastrand::Rng::with_seed(20);
        for _ in 0..500 {
            let v: Vec<(u64, u32)> = (0..rng.usize(0..200))
                .map(|_| (rng.u64(0..8), rng.u32(..)))
                .collect();
            let mut expected = v.clone();
            expected.sort_by_key(|e| e.0);
            assert_eq!(sorted_by_u64(&v, |e| e.0), expected);
        }
    }
}
