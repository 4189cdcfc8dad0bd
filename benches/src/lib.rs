//! Criterion benches of Countersign's cores live in `benches/benches/`; this
//! library is intentionally empty.
