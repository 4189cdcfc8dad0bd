//! Replays every committed seed and finding of the identity fuzz targets
//! (`fuzz/corpus/identity_*`) through the same entry points the targets
//! call, so a stable `cargo test` catches regressions without nightly or
//! libFuzzer.

use std::path::{Path, PathBuf};

use countersign_identity::fuzzing;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
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
