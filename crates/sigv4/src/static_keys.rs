//! A [`CredentialStore`] backed by a fixed map of access keys.

use std::collections::HashMap;

use crate::{Credential, CredentialStore, LookupError};

/// One static access key and whatever the caller attaches to it.
#[derive(Clone)]
pub struct StaticKey<T> {
    secret: Box<[u8]>,
    /// Caller data, e.g. the principal the key belongs to.
    pub data: T,
}

impl<T> std::fmt::Debug for StaticKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticKey { secret: <redacted>, .. }")
    }
}

impl<T> Credential for StaticKey<T> {
    fn secret_access_key(&self) -> &[u8] {
        &self.secret
    }
}

/// Access key id → secret, with caller data. Static keys carry no session
/// token; a request that presents one is refused as `InvalidToken`.
#[derive(Debug, Clone)]
pub struct StaticKeys<T> {
    keys: HashMap<String, StaticKey<T>>,
}

impl<T> Default for StaticKeys<T> {
    fn default() -> Self {
        Self {
            keys: HashMap::new(),
        }
    }
}

impl<T> StaticKeys<T> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, access_key_id: impl Into<String>, secret: impl AsRef<[u8]>, data: T) {
        self.keys.insert(
            access_key_id.into(),
            StaticKey {
                secret: secret.as_ref().into(),
                data,
            },
        );
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl<T> CredentialStore for StaticKeys<T> {
    type Credential<'a>
        = &'a StaticKey<T>
    where
        T: 'a;

    fn lookup<'a>(
        &'a self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<&'a StaticKey<T>, LookupError> {
        let key = self
            .keys
            .get(access_key_id)
            .ok_or(LookupError::UnknownAccessKey)?;
        if session_token.is_some() {
            return Err(LookupError::InvalidToken);
        }
        Ok(key)
    }
}
