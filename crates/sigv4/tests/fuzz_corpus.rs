//! Replays every committed seed and finding of the SigV4 fuzz targets
//! (`fuzz/corpus/sigv4_*`) through the same entry points the targets call, so
//! a stable `cargo test` catches regressions without nightly or libFuzzer.

use std::path::{Path, PathBuf};

use countersign_sigv4::fuzzing;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "{target}: expected a seed corpus, found {} files",
        files.len()
    );
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    for file in corpus(target) {
        let data = match std::fs::read(&file) {
            Ok(data) => data,
            // A fuzzer running on the same directory replaced it meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", file.display()),
        };
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{target}: {} panicked", file.display());
    }
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
