//! Stateless gateway credentials: any replica with the key ring verifies
//! them without a lookup.
//!
//! - access key id: `CSGW` + base32(key id (2 bytes) ‖ 10 random bytes), 24
//!   characters; it cannot be mistaken for an AWS key (`AKIA`/`ASIA`);
//! - secret access key: base64 of the first 30 bytes of
//!   HMAC-SHA256(K_secret[key id], access key id), 40 characters, never
//!   stored anywhere;
//! - session token: base64url(version ‖ key id ‖ nonce ‖
//!   AES-256-GCM(K_token[key id], claims, aad = access key id)), so a token
//!   cannot be moved to another access key nor edited.

use base64::Engine as _;
use ring::aead;
use serde::{Deserialize, Serialize};

use crate::keyring::KeyRing;

/// Prefix of every access key id Countersign issues.
pub const ACCESS_KEY_PREFIX: &str = "CSGW";
const TOKEN_VERSION: u8 = 1;
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const RANDOM_LEN: usize = 10;
/// Longest session token accepted, characters (claims carry at most a few
/// dozen grant ids).
pub const MAX_TOKEN_LEN: usize = 4096;

/// What a session token says, sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The principal's name.
    #[serde(rename = "p")]
    pub principal: String,
    /// Grant ids the session carries.
    #[serde(rename = "g", default)]
    pub grants: Vec<String>,
    /// The principal's credential epoch at issue; sessions from an older
    /// epoch are refused (revoke-all for a principal).
    #[serde(rename = "e")]
    pub epoch: u64,
    /// Unix seconds.
    #[serde(rename = "iat")]
    pub issued_at: u64,
    /// Unix seconds.
    #[serde(rename = "exp")]
    pub expires_at: u64,
}

/// Credentials as handed to a workload.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct IssuedCredentials {
    /// `CSGW…`
    pub access_key_id: String,
    /// The secret; shown once, derivable only with the key ring.
    pub secret_access_key: String,
    /// The sealed claims.
    pub session_token: String,
    /// Unix seconds.
    pub expires_at: u64,
}

impl std::fmt::Debug for IssuedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why a session could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Not one of ours, or minted with a key this ring does not have or has retired.
    #[error("unknown or retired access key")]
    UnknownAccessKey,
    /// Malformed, edited, or sealed for another access key.
    #[error("session token invalid")]
    InvalidToken,
}

/// Why minting failed.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The system random source failed.
    #[error("random source: {0}")]
    Random(String),
    /// Sealing failed.
    #[error("sealing the session token failed")]
    Seal,
    /// The claims make a token longer than [`MAX_TOKEN_LEN`] (too many grants).
    #[error("the session token would be {0} characters, over the {MAX_TOKEN_LEN} accepted; carry fewer grants")]
    TooLarge(usize),
}

fn fill_random(buf: &mut [u8]) -> Result<(), MintError> {
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), buf)
        .map_err(|e| MintError::Random(e.to_string()))
}

/// The key id an access key id was minted with, if it is one of ours.
pub fn key_id_of(access_key_id: &str) -> Option<u16> {
    let body = access_key_id.strip_prefix(ACCESS_KEY_PREFIX)?;
    let mut raw = [0u8; 2 + RANDOM_LEN];
    let len = data_encoding::BASE32_NOPAD
        .decode_len(body.len())
        .ok()
        .filter(|l| *l == raw.len())?;
    data_encoding::BASE32_NOPAD
        .decode_mut(body.as_bytes(), &mut raw[..len])
        .ok()?;
    Some(u16::from_be_bytes([raw[0], raw[1]]))
}

/// The access key id minted with key `key_id` and these random bytes.
pub(crate) fn access_key_id(key_id: u16, random: [u8; RANDOM_LEN]) -> String {
    let mut raw = [0u8; 2 + RANDOM_LEN];
    raw[..2].copy_from_slice(&key_id.to_be_bytes());
    raw[2..].copy_from_slice(&random);
    format!(
        "{ACCESS_KEY_PREFIX}{}",
        data_encoding::BASE32_NOPAD.encode(&raw)
    )
}

/// Whether `access_key_id` has the issued-credential form.
pub fn is_issued(access_key_id: &str) -> bool {
    access_key_id.starts_with(ACCESS_KEY_PREFIX)
}

fn derive_secret(key: &ring::hmac::Key, access_key_id: &str) -> String {
    let tag = ring::hmac::sign(key, access_key_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&tag.as_ref()[..30])
}

impl KeyRing {
    /// Mints credentials carrying `claims` with the active key.
    pub fn mint(&self, claims: &Claims) -> Result<IssuedCredentials, MintError> {
        let mut random = [0u8; RANDOM_LEN];
        fill_random(&mut random)?;
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        self.mint_with(claims, random, nonce)
    }

    /// [`KeyRing::mint`] with its randomness given, so the fuzz entry points
    /// get reproducible credentials. Anything else must use `mint`: a nonce
    /// used twice with one key breaks AES-GCM.
    pub(crate) fn mint_with(
        &self,
        claims: &Claims,
        random: [u8; RANDOM_LEN],
        nonce: [u8; NONCE_LEN],
    ) -> Result<IssuedCredentials, MintError> {
        let (key_id, keys) = self
            .minting_key()
            .expect("a key ring always has an active key");
        let access_key_id = access_key_id(key_id, random);
        let secret_access_key = derive_secret(&keys.secret_key, &access_key_id);

        let mut sealed = serde_json::to_vec(claims).map_err(|_| MintError::Seal)?;
        keys.token_key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(access_key_id.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| MintError::Seal)?;
        let mut token = Vec::with_capacity(3 + NONCE_LEN + sealed.len());
        token.push(TOKEN_VERSION);
        token.extend_from_slice(&key_id.to_be_bytes());
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&sealed);
        let session_token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token);
        // Never hand out a token that `open` would refuse.
        if session_token.len() > MAX_TOKEN_LEN {
            return Err(MintError::TooLarge(session_token.len()));
        }
        Ok(IssuedCredentials {
            access_key_id,
            secret_access_key,
            session_token,
            expires_at: claims.expires_at,
        })
    }

    /// Opens a session: checks the token was sealed for this access key by
    /// a key that may still verify, and derives the secret. Time checks
    /// (expiry) are the caller's: this takes no clock.
    pub fn open(
        &self,
        access_key_id: &str,
        session_token: &str,
    ) -> Result<(Claims, String), OpenError> {
        let key_id = key_id_of(access_key_id).ok_or(OpenError::UnknownAccessKey)?;
        let keys = self
            .verifying_key(key_id)
            .ok_or(OpenError::UnknownAccessKey)?;
        if session_token.len() > MAX_TOKEN_LEN {
            return Err(OpenError::InvalidToken);
        }
        let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(session_token)
            .map_err(|_| OpenError::InvalidToken)?;
        if raw.len() < 3 + NONCE_LEN + aead::AES_256_GCM.tag_len()
            || raw[0] != TOKEN_VERSION
            || u16::from_be_bytes([raw[1], raw[2]]) != key_id
        {
            return Err(OpenError::InvalidToken);
        }
        let nonce = aead::Nonce::try_assume_unique_for_key(&raw[3..3 + NONCE_LEN])
            .map_err(|_| OpenError::InvalidToken)?;
        let plain = keys
            .token_key
            .open_in_place(
                nonce,
                aead::Aad::from(access_key_id.as_bytes()),
                &mut raw[3 + NONCE_LEN..],
            )
            .map_err(|_| OpenError::InvalidToken)?;
        let claims: Claims = serde_json::from_slice(plain).map_err(|_| OpenError::InvalidToken)?;
        Ok((claims, derive_secret(&keys.secret_key, access_key_id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::KeyState;

    const M1: [u8; 32] = [1; 32];
    const M2: [u8; 32] = [2; 32];

    fn claims() -> Claims {
        Claims {
            principal: "alice".into(),
            grants: vec!["g-00000000000000aa".into()],
            epoch: 3,
            issued_at: 1_000,
            expires_at: 1_900,
        }
    }

    #[test]
    fn tokens_that_open_would_refuse_are_not_minted() {
        let ring = KeyRing::from_keys([(1, KeyState::Active, &M1[..])]).unwrap();
        let mut c = claims();
        c.grants = (0..200).map(|i| format!("g-{i:016x}")).collect();
        assert!(matches!(ring.mint(&c), Err(MintError::TooLarge(_))));
        c.grants.truncate(100);
        let minted = ring.mint(&c).unwrap();
        assert!(ring
            .open(&minted.access_key_id, &minted.session_token)
            .is_ok());
    }

    #[test]
    fn round_trip() {
        let ring = KeyRing::from_keys([(1, KeyState::Active, &M1[..])]).unwrap();
        let c = ring.mint(&claims()).unwrap();
        assert!(c.access_key_id.starts_with("CSGW"));
        assert_eq!(c.access_key_id.len(), 24);
        assert_eq!(c.secret_access_key.len(), 40);
        assert_eq!(key_id_of(&c.access_key_id), Some(1));
        let (opened, secret) = ring.open(&c.access_key_id, &c.session_token).unwrap();
        assert_eq!(opened, claims());
        assert_eq!(secret, c.secret_access_key);
        assert!(!format!("{c:?}").contains(&c.secret_access_key));
    }

    #[test]
    fn tampering_and_moving_tokens_fail() {
        let ring = KeyRing::from_keys([(1, KeyState::Active, &M1[..])]).unwrap();
        let a = ring.mint(&claims()).unwrap();
        let b = ring.mint(&claims()).unwrap();
        assert_ne!(a.access_key_id, b.access_key_id);
        // Another access key's token.
        assert_eq!(
            ring.open(&a.access_key_id, &b.session_token),
            Err(OpenError::InvalidToken)
        );
        // Every single-character edit of the token fails.
        let token = a.session_token.as_bytes();
        for i in 0..token.len() {
            let mut edited = token.to_vec();
            edited[i] = if edited[i] == b'A' { b'B' } else { b'A' };
            let edited = String::from_utf8(edited).unwrap();
            assert!(ring.open(&a.access_key_id, &edited).is_err(), "edit at {i}");
        }
        assert_eq!(
            ring.open(&a.access_key_id, ""),
            Err(OpenError::InvalidToken)
        );
        assert_eq!(
            ring.open("AKIAIOSFODNN7EXAMPLE", &a.session_token),
            Err(OpenError::UnknownAccessKey)
        );
        assert_eq!(
            ring.open("CSGW!!", &a.session_token),
            Err(OpenError::UnknownAccessKey)
        );
    }

    #[test]
    fn rotation_keeps_verify_only_keys_and_drops_retired_ones() {
        let old = KeyRing::from_keys([(1, KeyState::Active, &M1[..])]).unwrap();
        let minted = old.mint(&claims()).unwrap();
        let rotated = KeyRing::from_keys([
            (1, KeyState::VerifyOnly, &M1[..]),
            (2, KeyState::Active, &M2[..]),
        ])
        .unwrap();
        assert!(rotated
            .open(&minted.access_key_id, &minted.session_token)
            .is_ok());
        let fresh = rotated.mint(&claims()).unwrap();
        assert_eq!(key_id_of(&fresh.access_key_id), Some(2));
        let retired = KeyRing::from_keys([
            (1, KeyState::Retired, &M1[..]),
            (2, KeyState::Active, &M2[..]),
        ])
        .unwrap();
        assert_eq!(
            retired.open(&minted.access_key_id, &minted.session_token),
            Err(OpenError::UnknownAccessKey)
        );
        // A different master key under the same id does not open it either.
        let other = KeyRing::from_keys([(1, KeyState::Active, &M2[..])]).unwrap();
        assert_eq!(
            other.open(&minted.access_key_id, &minted.session_token),
            Err(OpenError::InvalidToken)
        );
    }
}
