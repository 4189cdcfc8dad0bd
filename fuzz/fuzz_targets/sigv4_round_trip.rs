//! Fuzz target: `countersign_sigv4::fuzzing::round_trip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    countersign_sigv4::fuzzing::round_trip(data);
});
