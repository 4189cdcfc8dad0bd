//! Entry points for the fuzz targets; not an API.
//!
//! `fuzz/fuzz_targets/identity_*.rs` call these, and so does the stable test
//! that replays their corpus (`tests/fuzz_corpus.rs`). None may panic on
//! any input; the invariants are `assert!`s, so a violation is a crash the
//! fuzzer reports.

use std::collections::BTreeMap;
use std::sync::Arc;

use countersign_sigv4::Credential as _;

use crate::authority::{Authority, AuthorityOptions, SessionError};
use crate::credentials::{self, key_id_of, Claims, OpenError, ACCESS_KEY_PREFIX, MAX_TOKEN_LEN};
use crate::directory::{Directory, PrincipalKind, PrincipalSpec};
use crate::keyring::{KeyRing, KeyState};
use crate::store::Snapshot;

/// The time sessions are judged at: 2023-11-14T22:13:20Z.
pub const NOW: u64 = 1_700_000_000;

/// The fixed test ring's master keys: key 1 verifies only, key 2 mints,
/// key 3 is retired.
pub const MASTER_KEYS: [(u16, KeyState, [u8; 32]); 3] = [
    (1, KeyState::VerifyOnly, [0x11; 32]),
    (2, KeyState::Active, [0x22; 32]),
    (3, KeyState::Retired, [0x33; 32]),
];

/// The random part of the one access key id the test snapshot revokes.
const REVOKED_RANDOM: [u8; 10] = [0xEE; 10];

/// Principals of the test directory (bob's credential epoch is 2).
pub const PRINCIPALS: [&str; 2] = ["alice", "bob"];

/// The fixed test ring.
pub fn key_ring() -> KeyRing {
    KeyRing::from_keys(MASTER_KEYS.iter().map(|(id, st, m)| (*id, *st, &m[..])))
        .expect("the test ring is valid")
}

/// A ring where only test master key `id` is present, active: it mints
/// what the test ring would have minted with key `id`.
fn ring_minting_with(id: u16, master: &[u8; 32]) -> KeyRing {
    KeyRing::from_keys([(id, KeyState::Active, &master[..])]).expect("one active key")
}

fn master(id: u16) -> &'static [u8; 32] {
    &MASTER_KEYS
        .iter()
        .find(|(i, _, _)| *i == id)
        .expect("a test key id")
        .2
}

/// The access key id the test snapshot revokes.
pub fn revoked_access_key_id() -> String {
    credentials::access_key_id(2, REVOKED_RANDOM)
}

fn authority() -> Authority {
    let principals = PRINCIPALS
        .iter()
        .map(|name| PrincipalSpec {
            name: (*name).to_owned(),
            kind: PrincipalKind::Workload,
            tags: BTreeMap::new(),
            groups: Vec::new(),
            policies: Vec::new(),
        })
        .collect();
    let directory = Directory::new(principals, Vec::new(), Vec::new()).expect("valid directory");
    let authority = Authority::new(
        key_ring(),
        Arc::new(directory),
        AuthorityOptions {
            session_cache_capacity: 16,
            ..AuthorityOptions::default()
        },
    );
    authority.install_snapshot(Snapshot {
        revoked_credentials: [revoked_access_key_id()].into(),
        principal_epochs: [("bob".to_owned(), 2)].into(),
        version: 1,
        ..Snapshot::default()
    });
    authority
}

/// FNV-1a: cheap, deterministic values derived from the input.
fn fnv(data: &[u8], salt: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ salt;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Splits the input at its first newline into an access key id and a
/// session token; without a newline there is no token.
fn split(data: &[u8]) -> (String, Option<String>) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (
            String::from_utf8_lossy(&data[..i]).into_owned(),
            Some(String::from_utf8_lossy(&data[i + 1..]).into_owned()),
        ),
        None => (String::from_utf8_lossy(data).into_owned(), None),
    }
}

/// What [`Authority::session`] must answer, given what the ring opened.
fn expected_session(
    access_key_id: &str,
    opened: &Result<(Claims, String), OpenError>,
) -> Result<(), SessionError> {
    let (claims, _) = opened.as_ref().map_err(|e| SessionError::from(*e))?;
    if !PRINCIPALS.contains(&claims.principal.as_str()) {
        return Err(SessionError::Revoked);
    }
    if NOW >= claims.expires_at {
        return Err(SessionError::Expired);
    }
    if access_key_id == revoked_access_key_id() {
        return Err(SessionError::Revoked);
    }
    let epoch = if claims.principal == "bob" { 2 } else { 0 };
    if claims.epoch < epoch {
        return Err(SessionError::Revoked);
    }
    Ok(())
}

/// Opens `ACCESS_KEY_ID '\n' SESSION_TOKEN` with the test ring and through
/// an [`Authority`] at [`NOW`], checking they agree; then mints claims
/// derived from the input and checks they round-trip and that a one-byte
/// edit of the token does not open.
pub fn open_session(data: &[u8]) {
    let ring = key_ring();
    let (akid, token) = split(data);

    // (a) The ring alone.
    let opened = ring.open(&akid, token.as_deref().unwrap_or(""));
    if let Ok((_, secret)) = &opened {
        assert!(akid.starts_with(ACCESS_KEY_PREFIX), "opened {akid:?}");
        let key_id = key_id_of(&akid);
        assert!(
            matches!(key_id, Some(1 | 2)),
            "opened with key {key_id:?}, not a verifying key"
        );
        assert_eq!(secret.len(), 40, "secret length");
    }
    assert_eq!(
        opened,
        ring.open(&akid, token.as_deref().unwrap_or("")),
        "open is deterministic"
    );

    // (b) The authority: same verdict as the ring plus the time, revocation
    // and epoch checks; a second call (served from the session cache) agrees.
    let authority = authority();
    let expected = match &token {
        Some(_) => expected_session(&akid, &opened),
        None => Err(SessionError::InvalidToken),
    };
    for round in 0..2 {
        let got = authority.session(&akid, token.as_deref(), NOW);
        assert_eq!(
            got.as_ref().map(|_| ()).map_err(|e| *e),
            expected,
            "session verdict (round {round})"
        );
        if let Ok(session) = got {
            let (claims, secret) = opened.as_ref().expect("opened");
            assert_eq!(session.access_key_id, akid);
            assert_eq!(&session.claims, claims);
            assert_eq!(session.secret_access_key(), secret.as_bytes());
        }
    }
    if expected.is_ok() {
        // A cached token presented with another access key is refused.
        let other = credentials::access_key_id(2, [0; 10]);
        if other != akid {
            assert!(authority.session(&other, token.as_deref(), NOW).is_err());
        }
    }

    // Round trip of claims derived from the input.
    round_trip(&ring, data);
}

fn round_trip(ring: &KeyRing, data: &[u8]) {
    let (principal, rest) = split(data);
    let rest = rest.unwrap_or_default();
    let h = fnv(data, 0);
    let claims = Claims {
        principal,
        grants: rest
            .split(',')
            .filter(|g| !g.is_empty())
            .take(8)
            .map(str::to_owned)
            .collect(),
        epoch: h >> 60,
        issued_at: fnv(data, 1),
        // Sometimes the extremes.
        expires_at: match h % 4 {
            0 => u64::MAX,
            1 => 0,
            _ => fnv(data, 2),
        },
    };
    let mut random = [0u8; 10];
    random.copy_from_slice(&fnv(data, 3).to_le_bytes().repeat(2)[..10]);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&fnv(data, 4).to_le_bytes().repeat(2)[..12]);
    let minted = match ring.mint_with(&claims, random, nonce) {
        Ok(m) => m,
        // Claims this large would make a token `open` refuses: the issuer
        // refuses to mint it.
        Err(credentials::MintError::TooLarge(len)) => {
            assert!(len > MAX_TOKEN_LEN);
            return;
        }
        Err(e) => panic!("minting with given randomness cannot fail: {e}"),
    };
    assert!(minted.session_token.len() <= MAX_TOKEN_LEN);
    assert_eq!(key_id_of(&minted.access_key_id), Some(2));
    assert_eq!(minted.access_key_id.len(), 24);
    assert_eq!(minted.secret_access_key.len(), 40);
    assert_eq!(minted.expires_at, claims.expires_at);

    let opened = ring.open(&minted.access_key_id, &minted.session_token);
    let (back, secret) = opened.expect("a minted token opens");
    assert_eq!(back, claims, "claims round-trip");
    assert_eq!(secret, minted.secret_access_key, "secret round-trips");

    // The token is bound to its access key.
    let other = credentials::access_key_id(2, random.map(|b| b ^ 1));
    assert_eq!(
        ring.open(&other, &minted.session_token),
        Err(OpenError::InvalidToken),
        "token moved to another access key"
    );

    // Any one-byte edit of the token fails.
    let mut edited = minted.session_token.clone().into_bytes();
    let pos = (fnv(data, 5) % edited.len() as u64) as usize;
    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. ";
    let mut replacement = ALPHABET[(fnv(data, 6) % ALPHABET.len() as u64) as usize];
    if replacement == edited[pos] {
        replacement = if replacement == b'A' { b'B' } else { b'A' };
    }
    edited[pos] = replacement;
    let edited = String::from_utf8(edited).expect("ASCII");
    assert!(
        ring.open(&minted.access_key_id, &edited).is_err(),
        "token edited at {pos} still opens"
    );
}

/// Secrets named in key-ring text, however it parses.
fn secrets_in(text: &str) -> Vec<String> {
    let mut secrets: Vec<String> = text
        .split(',')
        .filter_map(|entry| entry.trim().splitn(3, ':').nth(2))
        .map(|s| s.trim().to_owned())
        .collect();
    if let Ok(value) = toml::from_str::<toml::Value>(text) {
        if let Some(keys) = value.get("key").and_then(|k| k.as_array()) {
            secrets.extend(
                keys.iter()
                    .filter_map(|k| k.get("secret")?.as_str())
                    .map(|s| s.trim().to_owned()),
            );
        }
    }
    // Only what could be a master key (32 bytes is 44 base64 characters).
    secrets.retain(|s| s.len() >= 40);
    secrets
}

/// Parses the input as a key ring in both forms (TOML and compact). No
/// panic; a ring that parses has an active key that mints credentials it
/// opens, and its `Debug` output shows no secret.
pub fn parse_key_ring(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for ring in [KeyRing::from_toml(&text), KeyRing::from_compact(&text)]
        .into_iter()
        .flatten()
    {
        let debug = format!("{ring:?}");
        for secret in secrets_in(&text) {
            assert!(!debug.contains(&secret), "Debug shows a secret: {debug}");
        }
        let id = ring.active_key_id();
        assert_eq!(ring.state(id), Some(KeyState::Active));
        let claims = Claims {
            principal: "alice".into(),
            grants: Vec::new(),
            epoch: 0,
            issued_at: NOW,
            expires_at: NOW + 60,
        };
        let minted = ring
            .mint_with(&claims, [7; 10], [9; 12])
            .expect("minting with given randomness cannot fail");
        assert_eq!(key_id_of(&minted.access_key_id), Some(id));
        let (back, _) = ring
            .open(&minted.access_key_id, &minted.session_token)
            .expect("a ring opens what it mints");
        assert_eq!(back, claims);
    }
}

/// The seed corpus of `identity_open_session`, reproducibly: (file name,
/// contents). `tests/fuzz_corpus.rs` has an ignored test that writes it.
pub fn open_session_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let claims = |principal: &str, epoch: u64, expires_at: u64, grants: &[&str]| Claims {
        principal: principal.into(),
        grants: grants.iter().map(|g| (*g).to_owned()).collect(),
        epoch,
        issued_at: NOW - 60,
        expires_at,
    };
    // Key 9 is not in the test ring.
    let unknown_master = [0x99; 32];
    let mint = |key: u16, c: &Claims, random: u8| {
        let master = if key == 9 {
            &unknown_master
        } else {
            master(key)
        };
        let m = ring_minting_with(key, master)
            .mint_with(c, [random; 10], [random.wrapping_add(1); 12])
            .expect("mint");
        (m.access_key_id, m.session_token)
    };
    let line = |akid: &str, token: &str| format!("{akid}\n{token}").into_bytes();
    let later = NOW + 900;

    let (akid, token) = mint(2, &claims("alice", 0, later, &["g-00000000000000aa"]), 1);
    let (v1_akid, v1_token) = mint(1, &claims("alice", 0, later, &[]), 2);
    let (r3_akid, r3_token) = mint(3, &claims("alice", 0, later, &[]), 3);
    let (exp_akid, exp_token) = mint(2, &claims("alice", 0, NOW - 1, &[]), 4);
    let (old_akid, old_token) = mint(2, &claims("bob", 1, later, &[]), 5);
    let (bob_akid, bob_token) = mint(2, &claims("bob", 2, later, &["g-1", "g-2"]), 6);
    let (mal_akid, mal_token) = mint(2, &claims("mallory", 0, later, &[]), 7);
    let (k9_akid, k9_token) = mint(9, &claims("alice", 0, later, &[]), 8);
    let many: Vec<String> = (0..30).map(|i| format!("g-{i:016x}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (many_akid, many_token) = mint(2, &claims("alice", 0, later, &many), 9);
    let revoked = {
        let m = key_ring()
            .mint_with(&claims("alice", 0, later, &[]), REVOKED_RANDOM, [0xEF; 12])
            .expect("mint");
        (m.access_key_id, m.session_token)
    };

    let mut flipped = token.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ASCII");

    vec![
        ("valid-alice", line(&akid, &token)),
        ("valid-verify-only-key", line(&v1_akid, &v1_token)),
        ("valid-bob-current-epoch", line(&bob_akid, &bob_token)),
        ("valid-many-grants", line(&many_akid, &many_token)),
        ("retired-key", line(&r3_akid, &r3_token)),
        ("unknown-key-id", line(&k9_akid, &k9_token)),
        ("expired", line(&exp_akid, &exp_token)),
        ("old-epoch", line(&old_akid, &old_token)),
        ("revoked-access-key", line(&revoked.0, &revoked.1)),
        ("unknown-principal", line(&mal_akid, &mal_token)),
        ("truncated-token", line(&akid, &token[..token.len() - 10])),
        ("flipped-token", line(&akid, &flipped)),
        ("token-of-another-key", line(&bob_akid, &token)),
        ("padded-token", line(&akid, &format!("{token}=="))),
        ("non-base64-token", line(&akid, "!!!not*base64???")),
        (
            "overlong-token",
            line(&akid, &"A".repeat(MAX_TOKEN_LEN + 1)),
        ),
        ("empty", Vec::new()),
        ("no-token", akid.clone().into_bytes()),
        ("empty-token", line(&akid, "")),
        ("wrong-prefix", line(&format!("AKIA{}", &akid[4..]), &token)),
        ("lowercase-prefix", line(&akid.to_lowercase(), &token)),
        ("short-access-key", line(&akid[..20], &token)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each generated seed reaches the verdict its name promises, so the
    /// corpus starts from every branch of `Authority::session`.
    #[test]
    fn seeds_reach_their_verdicts() {
        use SessionError::*;
        let expect: &[(&str, Result<(), SessionError>)] = &[
            ("valid-alice", Ok(())),
            ("valid-verify-only-key", Ok(())),
            ("valid-bob-current-epoch", Ok(())),
            ("valid-many-grants", Ok(())),
            ("retired-key", Err(UnknownAccessKey)),
            ("unknown-key-id", Err(UnknownAccessKey)),
            ("expired", Err(Expired)),
            ("old-epoch", Err(Revoked)),
            ("revoked-access-key", Err(Revoked)),
            ("unknown-principal", Err(Revoked)),
            ("truncated-token", Err(InvalidToken)),
            ("flipped-token", Err(InvalidToken)),
            ("token-of-another-key", Err(InvalidToken)),
            ("padded-token", Err(InvalidToken)),
            ("non-base64-token", Err(InvalidToken)),
            ("overlong-token", Err(InvalidToken)),
            ("empty", Err(InvalidToken)),
            ("no-token", Err(InvalidToken)),
            ("empty-token", Err(InvalidToken)),
            ("wrong-prefix", Err(UnknownAccessKey)),
            ("lowercase-prefix", Err(UnknownAccessKey)),
            ("short-access-key", Err(UnknownAccessKey)),
        ];
        let seeds = open_session_seeds();
        assert_eq!(seeds.len(), expect.len());
        for ((name, data), (want_name, want)) in seeds.iter().zip(expect) {
            assert_eq!(name, want_name);
            let (akid, token) = split(data);
            let got = authority()
                .session(&akid, token.as_deref(), NOW)
                .map(|_| ());
            assert_eq!(&got, want, "seed {name}");
            open_session(data);
        }
    }

    #[test]
    fn key_ring_debug_hides_secrets() {
        let k = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";
        assert_eq!(secrets_in(&format!("1:active:{k}")), [k]);
        assert!(secrets_in(&format!(
            "[[key]]\nid = 1\nstate = \"active\"\nsecret = \"{k}\"\n"
        ))
        .contains(&k.to_owned()));
        parse_key_ring(format!("1:active:{k}").as_bytes());
    }
}
