//! Replays the committed seed corpus of the `policy_evaluate` fuzz target
//! through the same function the target calls, so every stable `cargo test`
//! checks that none of them panics or decides differently on a second run.

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

#[test]
fn replay_policy_evaluate_corpus() {
    let mut replayed = 0;
    let mut allowed = 0;
    for path in corpus_replay::corpus_files("policy_evaluate", 30) {
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
    // Most seeds are policies that allow their request: a corpus where none
    // does no longer reaches the evaluator's interesting paths.
    assert!(
        allowed * 2 > replayed,
        "only {allowed} of {replayed} seeds allowed"
    );
}
