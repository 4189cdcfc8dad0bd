//! Fuzz target: `countersign_identity::fuzzing::open_session`, an access key
//! id and a session token (`AKID '\n' TOKEN`) opened with a fixed test ring
//! and through the authority, plus a mint/open round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    countersign_identity::fuzzing::open_session(data);
});
