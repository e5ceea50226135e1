#![no_main]
use libfuzzer_sys::fuzz_target;
use ysync::core::untrusted::{exercise, Target};

fuzz_target!(|data: &[u8]| {
    let bytes = ysync_fuzz::generate(Target::StateVector, data);
    exercise(Target::StateVector, &bytes);
});
