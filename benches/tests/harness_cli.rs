//! The harness's command line, checked on the binary `cargo test` builds
//! (which `.ci/run` then runs for its `--quick` smoke check).

use std::process::Command;

fn harness() -> Command {
    Command::new(env!("CARGO_BIN_EXE_e2e_harness"))
}

#[test]
fn help_prints_the_usage_and_succeeds() {
    let out = harness().arg("--help").output().expect("run e2e_harness");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("usage: e2e_harness"), "{stdout}");
    assert!(stdout.contains("--quick"), "{stdout}");
}

#[test]
fn bad_arguments_exit_2_before_starting_anything() {
    for args in [
        &["--bogus"][..],
        &["--only", "7"],
        &["--nice", "x"],
        &["--out"],
    ] {
        let out = harness().args(args).output().expect("run e2e_harness");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.is_empty(), "{args:?}: no message");
    }
}
