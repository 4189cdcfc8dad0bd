//! Signing-key derivation and the cache that makes it a once-a-day cost.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::RwLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Builds an HMAC-SHA256 instance keyed with `key`. HMAC takes keys of any
/// length, so this cannot fail.
#[inline]
pub(crate) fn hmac(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

fn hmac_once(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Derives the SigV4 signing key:
/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn derive_signing_key(secret: &[u8], date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret);
    let k_date = hmac_once(&k_secret, date.as_bytes());
    let k_region = hmac_once(&k_date, region.as_bytes());
    let k_service = hmac_once(&k_region, service.as_bytes());
    hmac_once(&k_service, b"aws4_request")
}

struct Entry {
    access_key_id: Box<str>,
    date: Box<str>,
    region: Box<str>,
    service: Box<str>,
    /// The HMAC already keyed with the signing key: cloning it skips the
    /// key-pad compressions on every request.
    keyed: HmacSha256,
}

/// A bounded cache of keyed signing HMACs, by (access key id, date, region,
/// service). Safe to share between threads; lookups do not allocate.
///
/// It assumes an access key id always maps to the same secret, which holds
/// for static keys and for gateway-derived keys. Build a new cache when
/// static keys are reloaded.
pub struct SigningKeyCache {
    entries: RwLock<HashMap<u64, Entry>>,
    capacity: usize,
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::with_capacity(16_384)
    }
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys; when full it starts afresh,
    /// which costs one derivation per live credential.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn slot(access_key_id: &str, date: &str, region: &str, service: &str) -> u64 {
        let mut h = DefaultHasher::new();
        (access_key_id, date, region, service).hash(&mut h);
        h.finish()
    }

    /// The keyed HMAC for this scope, deriving it with `secret()` on a miss.
    pub(crate) fn keyed_hmac<E>(
        &self,
        access_key_id: &str,
        date: &str,
        region: &str,
        service: &str,
        secret: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<HmacSha256, E> {
        let slot = Self::slot(access_key_id, date, region, service);
        {
            let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = entries.get(&slot) {
                if &*e.access_key_id == access_key_id
                    && &*e.date == date
                    && &*e.region == region
                    && &*e.service == service
                {
                    return Ok(e.keyed.clone());
                }
            }
        }
        let secret = secret()?;
        let key = derive_signing_key(&secret, date, region, service);
        let keyed = hmac(&key);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(
            slot,
            Entry {
                access_key_id: access_key_id.into(),
                date: date.into(),
                region: region.into(),
                service: service.into(),
                keyed: keyed.clone(),
            },
        );
        Ok(keyed)
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_aws_documentation_example() {
        // From the AWS General Reference "Examples of how to derive a signing key".
        let key = derive_signing_key(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn cache_derives_once_per_scope() {
        let cache = SigningKeyCache::default();
        let mut calls = 0;
        for _ in 0..3 {
            let _ = cache.keyed_hmac::<()>("AK", "20150830", "us-east-1", "s3", || {
                calls += 1;
                Ok(b"secret".to_vec())
            });
        }
        assert_eq!(calls, 1);
        let _ = cache.keyed_hmac::<()>("AK", "20150831", "us-east-1", "s3", || {
            calls += 1;
            Ok(b"secret".to_vec())
        });
        assert_eq!(calls, 2);
        assert_eq!(cache.len(), 2);
    }
}
