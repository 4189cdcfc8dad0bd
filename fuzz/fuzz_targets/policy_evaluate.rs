//! Parses, compiles and evaluates arbitrary input: no panic, and the same
//! input always gives the same decision. The input format is documented on
//! `countersign_policy::fuzz_policy`, which the corpus replay test in
//! `crates/policy/tests/fuzz_corpus.rs` also calls.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = countersign_policy::fuzz_policy(data);
});
