//! The master key ring and the keys derived from it.
//!
//! Each master key has a small numeric id and a state:
//!
//! - `active`: mints new credentials (the highest active id does) and
//!   verifies them;
//! - `verify-only`: verifies credentials it minted until they expire, mints
//!   nothing (a key being rotated out);
//! - `retired`: credentials it minted are refused.
//!
//! From each master key HKDF-SHA256 derives two independent keys: one that
//! derives per-access-key secrets (HMAC-SHA256) and one that seals session
//! tokens (AES-256-GCM). Master keys never leave this module.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use ring::{aead, hkdf, hmac};

/// Shortest master key accepted, bytes.
pub const MIN_MASTER_KEY_BYTES: usize = 32;

/// Environment variable the ring can be given in: `ID:STATE:BASE64,…`.
pub const KEY_RING_ENV: &str = "COUNTERSIGN_KEY_RING";

/// A master key's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Mints and verifies.
    Active,
    /// Verifies only.
    VerifyOnly,
    /// Refuses what it minted.
    Retired,
}

impl KeyState {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "verify-only" => Self::VerifyOnly,
            "retired" => Self::Retired,
            _ => return None,
        })
    }
}

/// Why a key ring was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// The file could not be read.
    #[error("cannot read key ring {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is malformed.
    #[error("key ring: {0}")]
    Parse(String),
    /// A key is unusable.
    #[error("key ring key {id}: {reason}")]
    Key {
        /// The key id.
        id: u16,
        /// Why.
        reason: String,
    },
    /// No key can mint.
    #[error("key ring has no active key")]
    NoActiveKey,
}

pub(crate) struct DerivedKeys {
    pub(crate) state: KeyState,
    pub(crate) secret_key: hmac::Key,
    pub(crate) token_key: aead::LessSafeKey,
}

/// Master keys by id, with what is derived from them.
pub struct KeyRing {
    keys: BTreeMap<u16, DerivedKeys>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (id, k) in &self.keys {
            m.entry(id, &k.state);
        }
        m.finish()
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RingFile {
    key: Vec<RingFileKey>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RingFileKey {
    id: u16,
    state: KeyState,
    secret: String,
}

struct HkdfLen(usize);

impl hkdf::KeyType for HkdfLen {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(master: &[u8], id: u16, state: KeyState) -> DerivedKeys {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"countersign key ring v1").extract(master);
    let id_bytes = id.to_be_bytes();
    let secret_info: [&[u8]; 2] = [b"access-key-secret", &id_bytes];
    let token_info: [&[u8]; 2] = [b"session-token", &id_bytes];
    let mut secret = [0u8; 32];
    prk.expand(&secret_info, HkdfLen(32))
        .and_then(|okm| okm.fill(&mut secret))
        .expect("32 bytes is a valid HKDF-SHA256 length");
    let token = prk
        .expand(&token_info, &aead::AES_256_GCM)
        .expect("AES-256 key length is a valid HKDF-SHA256 length");
    DerivedKeys {
        state,
        secret_key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
        token_key: aead::LessSafeKey::new(aead::UnboundKey::from(token)),
    }
}

impl KeyRing {
    /// Builds a ring from (id, state, master key) triples.
    pub fn from_keys<'a>(
        keys: impl IntoIterator<Item = (u16, KeyState, &'a [u8])>,
    ) -> Result<Self, KeyRingError> {
        let mut ring = BTreeMap::new();
        for (id, state, master) in keys {
            if master.len() < MIN_MASTER_KEY_BYTES {
                return Err(KeyRingError::Key {
                    id,
                    reason: format!("must be at least {MIN_MASTER_KEY_BYTES} bytes"),
                });
            }
            if ring.insert(id, derive(master, id, state)).is_some() {
                return Err(KeyRingError::Key {
                    id,
                    reason: "duplicate id".into(),
                });
            }
        }
        let ring = Self { keys: ring };
        ring.minting_key().ok_or(KeyRingError::NoActiveKey)?;
        Ok(ring)
    }

    /// A ring with one random active key: credentials die with the process.
    pub fn ephemeral() -> Self {
        let mut master = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut master)
            .expect("the system random source works");
        Self::from_keys([(1, KeyState::Active, &master[..])]).expect("one active key")
    }

    /// Parses the TOML form: `[[key]] id = 1, state = "active", secret = "<base64>"`.
    pub fn from_toml(text: &str) -> Result<Self, KeyRingError> {
        let file: RingFile =
            toml::from_str(text).map_err(|e| KeyRingError::Parse(e.to_string()))?;
        let decoded = file
            .key
            .into_iter()
            .map(|k| Ok((k.id, k.state, decode_secret(k.id, &k.secret)?)))
            .collect::<Result<Vec<_>, KeyRingError>>()?;
        Self::from_keys(decoded.iter().map(|(i, s, m)| (*i, *s, m.as_slice())))
    }

    /// Parses the compact form `ID:STATE:BASE64[,ID:STATE:BASE64…]`.
    pub fn from_compact(text: &str) -> Result<Self, KeyRingError> {
        let decoded = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| {
                let mut parts = entry.splitn(3, ':');
                let (Some(id), Some(state), Some(secret)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(KeyRingError::Parse("each entry is ID:STATE:BASE64".into()));
                };
                let id: u16 = id
                    .parse()
                    .map_err(|_| KeyRingError::Parse(format!("key id {id:?} is not 0..=65535")))?;
                let state = KeyState::parse(state).ok_or_else(|| KeyRingError::Key {
                    id,
                    reason: format!("state {state:?} is not active, verify-only or retired"),
                })?;
                Ok((id, state, decode_secret(id, secret)?))
            })
            .collect::<Result<Vec<_>, KeyRingError>>()?;
        Self::from_keys(decoded.iter().map(|(i, s, m)| (*i, *s, m.as_slice())))
    }

    /// Reads the TOML form from a file.
    pub fn load(path: &Path) -> Result<Self, KeyRingError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyRingError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// The key new credentials are minted with: the highest active id.
    pub(crate) fn minting_key(&self) -> Option<(u16, &DerivedKeys)> {
        self.keys
            .iter()
            .rev()
            .find(|(_, k)| k.state == KeyState::Active)
            .map(|(id, k)| (*id, k))
    }

    /// A key that may verify: active or verify-only.
    pub(crate) fn verifying_key(&self, id: u16) -> Option<&DerivedKeys> {
        self.keys
            .get(&id)
            .filter(|k| matches!(k.state, KeyState::Active | KeyState::VerifyOnly))
    }

    /// The state of key `id`, if the ring has it.
    pub fn state(&self, id: u16) -> Option<KeyState> {
        self.keys.get(&id).map(|k| k.state)
    }

    /// The id new credentials are minted with.
    pub fn active_key_id(&self) -> u16 {
        self.minting_key().map(|(id, _)| id).unwrap_or_default()
    }
}

fn decode_secret(id: u16, secret: &str) -> Result<Vec<u8>, KeyRingError> {
    base64::engine::general_purpose::STANDARD
        .decode(secret.trim())
        .map_err(|e| KeyRingError::Key {
            id,
            reason: format!("secret is not base64: {e}"),
        })
}

/// A new random master key, base64, for `countersign keys generate`.
pub fn generate_master_key() -> String {
    let mut master = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut master)
        .expect("the system random source works");
    base64::engine::general_purpose::STANDARD.encode(master)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

    #[test]
    fn parses_both_forms_and_picks_the_highest_active_key() {
        let toml = format!(
            "[[key]]\nid = 1\nstate = \"verify-only\"\nsecret = \"{K1}\"\n[[key]]\nid = 2\nstate = \"active\"\nsecret = \"{K1}\"\n"
        );
        let ring = KeyRing::from_toml(&toml).unwrap();
        assert_eq!(ring.active_key_id(), 2);
        assert_eq!(ring.state(1), Some(KeyState::VerifyOnly));
        let ring = KeyRing::from_compact(&format!("1:active:{K1}, 7:retired:{K1}")).unwrap();
        assert_eq!(ring.active_key_id(), 1);
        assert!(ring.verifying_key(7).is_none());
    }

    #[test]
    fn refuses_weak_or_inconsistent_rings() {
        assert!(matches!(
            KeyRing::from_compact("1:active:c2hvcnQ="),
            Err(KeyRingError::Key { id: 1, .. })
        ));
        assert!(matches!(
            KeyRing::from_compact(&format!("1:verify-only:{K1}")),
            Err(KeyRingError::NoActiveKey)
        ));
        assert!(KeyRing::from_compact(&format!("1:sleepy:{K1}")).is_err());
        assert!(KeyRing::from_compact(&format!("1:active:{K1},1:active:{K1}")).is_err());
        assert!(KeyRing::from_toml("[[key]]\nid = 1\n").is_err());
        // Debug output never shows key material.
        let ring = KeyRing::from_compact(&format!("1:active:{K1}")).unwrap();
        assert_eq!(format!("{ring:?}"), "{1: Active}");
    }
}
