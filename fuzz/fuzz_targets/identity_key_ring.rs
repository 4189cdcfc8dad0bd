//! Fuzz target: `countersign_identity::fuzzing::parse_key_ring`, key-ring
//! text (the TOML file and the compact `COUNTERSIGN_KEY_RING` form).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    countersign_identity::fuzzing::parse_key_ring(data);
});
