//! Classification of arbitrary request parts (raw HTTP/1.1, or
//! newline-separated method/host/path/query/service/headers/body) must not
//! panic and must finish in bounded time.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    countersign_catalog::fuzz_classify(data);
});
