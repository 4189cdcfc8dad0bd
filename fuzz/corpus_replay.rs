//! The committed corpus of a fuzz target, read on stable Rust: shared by the
//! crates' `tests/fuzz_corpus.rs` (included with `#[path]`, since the fuzz
//! crate lives outside the workspace and two functions do not deserve a
//! test-support crate). Paths are relative to the including crate, which
//! sits at `crates/<name>`.

// Each including test uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `fuzz/corpus/<target>`.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// The corpus files of `target`, sorted; at least `min` of them (a corpus
/// that shrank to nothing would make the replay pass vacuously).
pub fn corpus_files(target: &str, min: usize) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= min,
        "{target}: expected at least {min} corpus files, found {}",
        files.len()
    );
    files
}

/// Runs every corpus file of `target` through `run`, failing on a panic.
pub fn replay(target: &str, min: usize, run: fn(&[u8])) {
    for file in corpus_files(target, min) {
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
