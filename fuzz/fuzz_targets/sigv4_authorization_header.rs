//! Fuzz target: `countersign_sigv4::fuzzing::authorization_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    countersign_sigv4::fuzzing::authorization_header(data);
});
