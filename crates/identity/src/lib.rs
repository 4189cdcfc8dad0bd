//! # countersign-identity
//!
//! Who is calling and what they may do right now: stateless gateway
//! credentials sealed with keys derived from a master key ring
//! ([`keyring`], [`credentials`]); principals, groups and roles
//! ([`directory`]); just-in-time grants and their life cycle ([`grants`]);
//! the store they live in ([`store`]: SQLite or PostgreSQL); and the hot
//! path that turns an access key and session token into a principal and
//! its compiled effective policy ([`authority`]).
//!
//! What it is not: it does not verify SigV4 signatures (that is
//! `countersign-sigv4`; [`authority::Authority`] is the credential lookup
//! the verifier calls), classify requests (`countersign-catalog`) or serve
//! HTTP (`countersign-gateway` hosts the admin API and the pipeline).
//! Everything but [`store`] is sans-IO: plain values in, plain values out,
//! `now` passed in.

pub mod authority;
pub mod credentials;
pub mod directory;
#[doc(hidden)]
pub mod fuzzing;
pub mod grants;
pub mod keyring;
pub mod store;

pub use authority::{Authority, EffectivePolicy, Session, SessionError};
pub use credentials::{Claims, IssuedCredentials};
pub use directory::{Directory, Principal};
pub use grants::{Grant, GrantError, GrantState};
pub use keyring::{KeyRing, KeyState};
pub use store::{Snapshot, Store, StoreError};

/// Parses a duration such as `90s`, `15m`, `2h`, `1d` or a bare number of
/// seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::parse_duration("15m"), Some(900));
        assert_eq!(super::parse_duration("2h"), Some(7200));
        assert_eq!(super::parse_duration("45"), Some(45));
        assert_eq!(super::parse_duration("1d"), Some(86_400));
        assert_eq!(super::parse_duration("m"), None);
        assert_eq!(super::parse_duration("5w"), None);
        assert_eq!(super::parse_duration("-5s"), None);
    }
}
