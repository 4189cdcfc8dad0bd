//! End-to-end tests live in `tests/rust/*.rs` and `tests/python/`; this
//! library is intentionally empty. Run them all with `tests/run.sh`.
