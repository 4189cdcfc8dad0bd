//! Replays every committed seed and finding of the SigV4 fuzz targets
//! (`fuzz/corpus/sigv4_*`) through the same entry points the targets call, so
//! a stable `cargo test` catches regressions without nightly or libFuzzer.

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use countersign_sigv4::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    corpus_replay::replay(target, 10, run);
}

#[test]
fn authorization_header_corpus() {
    replay("sigv4_authorization_header", fuzzing::authorization_header);
}

#[test]
fn query_auth_corpus() {
    replay("sigv4_query_auth", fuzzing::query_auth);
}

#[test]
fn canonical_request_corpus() {
    replay("sigv4_canonical_request", fuzzing::canonical_request);
}

#[test]
fn round_trip_corpus() {
    replay("sigv4_round_trip", fuzzing::round_trip);
}
