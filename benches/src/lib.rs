//! Criterion benches of Countersign's cores live in `benches/benches/`; the
//! end-to-end load harness in `src/bin/`. This library holds what several
//! benches share.

use std::collections::HashMap;

use countersign_sigv4::{Credential, CredentialStore, LookupError};

/// One secret per access key and the session token it must come with: a
/// credential lookup that costs next to nothing, so a verification bench
/// measures verification. (`StaticKeys` refuses any session token.)
#[derive(Debug, Default)]
pub struct TokenKeys {
    keys: HashMap<String, (Vec<u8>, String)>,
}

impl TokenKeys {
    /// A store with one key.
    pub fn one(access_key_id: &str, secret: &[u8], session_token: &str) -> Self {
        Self {
            keys: HashMap::from([(
                access_key_id.to_owned(),
                (secret.to_vec(), session_token.to_owned()),
            )]),
        }
    }
}

/// A secret found by [`TokenKeys`].
#[derive(Debug)]
pub struct TokenKey<'a>(&'a [u8]);

impl Credential for TokenKey<'_> {
    fn secret_access_key(&self) -> &[u8] {
        self.0
    }
}

impl CredentialStore for TokenKeys {
    type Credential<'a> = TokenKey<'a>;

    fn lookup<'a>(
        &'a self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<TokenKey<'a>, LookupError> {
        let (secret, token) = self
            .keys
            .get(access_key_id)
            .ok_or(LookupError::UnknownAccessKey)?;
        if session_token != Some(token.as_str()) {
            return Err(LookupError::InvalidToken);
        }
        Ok(TokenKey(secret))
    }
}
