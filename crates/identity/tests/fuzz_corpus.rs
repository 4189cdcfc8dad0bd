//! Replays every committed seed and finding of the identity fuzz targets
//! (`fuzz/corpus/identity_*`) through the same entry points the targets
//! call, so a stable `cargo test` catches regressions without nightly or
//! libFuzzer.

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::corpus_dir;
use countersign_identity::fuzzing;

fn replay(target: &str, run: fn(&[u8])) {
    corpus_replay::replay(target, 10, run);
}

#[test]
fn open_session_corpus() {
    replay("identity_open_session", fuzzing::open_session);
}

#[test]
fn key_ring_corpus() {
    replay("identity_key_ring", fuzzing::parse_key_ring);
}

/// The generated seeds pass too (they are what the corpus started from).
#[test]
fn open_session_seeds() {
    for (name, data) in fuzzing::open_session_seeds() {
        let result = std::panic::catch_unwind(|| fuzzing::open_session(&data));
        assert!(result.is_ok(), "seed {name} panicked");
    }
}

/// Writes the `identity_open_session` seeds (minted deterministically with
/// the fuzzing module's test ring):
/// `cargo test -p countersign-identity --test fuzz_corpus -- --ignored write_open_session_seeds`
#[test]
#[ignore = "writes into fuzz/corpus"]
fn write_open_session_seeds() {
    let dir = corpus_dir("identity_open_session");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, data) in fuzzing::open_session_seeds() {
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    }
}
