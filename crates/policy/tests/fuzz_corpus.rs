//! Replays the committed seed corpus of the `policy_evaluate` fuzz target
//! through the same function the target calls, so every stable `cargo test`
//! checks that none of them panics or decides differently on a second run.

use std::path::Path;

#[test]
fn replay_policy_evaluate_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/policy_evaluate");
    let mut replayed = 0;
    let mut allowed = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let data = std::fs::read(&path).unwrap();
        let first = countersign_policy::fuzz_policy(&data);
        assert_eq!(
            first,
            countersign_policy::fuzz_policy(&data),
            "{}",
            path.display()
        );
        allowed += usize::from(first.is_some_and(|d| d.is_allowed()));
        replayed += 1;
    }
    eprintln!("replayed {replayed} corpus files, {allowed} allowed");
    assert!(replayed >= 30, "corpus has only {replayed} files");
    // Most seeds are policies that allow their request: a corpus where none
    // does no longer reaches the evaluator's interesting paths.
    assert!(
        allowed * 2 > replayed,
        "only {allowed} of {replayed} seeds allowed"
    );
}
