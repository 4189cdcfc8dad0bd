//! Signing outgoing requests with the same canonicalisation as verification.

use std::time::SystemTime;

use hmac::Mac;
use sha2::{Digest, Sha256};

use crate::canonical::{write_canonical_request, CanonicalInput, PathMode};
use crate::key::SigningKeyCache;
use crate::request::{header_eq, RequestView, SignedHeaders};
use crate::time::{format_amz_date, unix_seconds};
use crate::verify::{hex_encode, write_scope, Scope, ALGORITHM};

/// Credentials and scope for signing one request.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// Access key id.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
    /// Session token of temporary credentials; signed as `x-amz-security-token`.
    pub session_token: Option<&'a str>,
    /// Signing region.
    pub region: &'a str,
    /// Signing name of the service.
    pub service: &'a str,
    /// The signing time (normally now).
    pub time: SystemTime,
}

impl std::fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret and the token stay out of debug output.
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// The headers to set on the signed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningOutput {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The `X-Amz-Date` header value.
    pub x_amz_date: String,
    /// The `X-Amz-Security-Token` header value, when signing with a session.
    pub security_token: Option<String>,
    /// The signed header names, `;`-separated.
    pub signed_headers: String,
    /// The signature, lower-case hex.
    pub signature: String,
}

/// Signs requests. Keeps a signing-key cache, so reuse one per process.
#[derive(Debug, Default)]
pub struct Signer {
    keys: SigningKeyCache,
}

const SIGNER_OWNED: [&str; 3] = ["authorization", "x-amz-date", "x-amz-security-token"];

impl Signer {
    /// Signs `view` with header authentication. Every header in the view is
    /// signed (the caller passes exactly the headers it wants covered), plus
    /// `host` from the authority when there is no `Host` header, `x-amz-date`
    /// and, with a session, `x-amz-security-token`. Any `authorization`,
    /// `x-amz-date` or `x-amz-security-token` in the view is ignored: the
    /// signer sets its own. `payload_hash` ends the canonical request.
    pub fn sign(
        &self,
        view: &RequestView<'_>,
        payload_hash: &str,
        path_mode: PathMode,
        params: &SigningParams<'_>,
    ) -> SigningOutput {
        let amz_date = format_amz_date(unix_seconds(params.time));
        let amz_date_str = std::str::from_utf8(&amz_date).unwrap_or_default();

        let mut headers: Vec<(&str, &[u8])> = view
            .headers
            .iter()
            .filter(|(n, _)| !SIGNER_OWNED.iter().any(|own| header_eq(n, own)))
            .copied()
            .collect();
        headers.push(("x-amz-date", &amz_date));
        if let Some(token) = params.session_token {
            headers.push(("x-amz-security-token", token.as_bytes()));
        }
        let mut names: Vec<String> = headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        if view.authority.is_some() {
            names.push("host".to_owned());
        }
        names.sort_unstable();
        names.dedup();
        let signed_headers = names.join(";");

        let filtered = RequestView {
            headers: &headers,
            ..*view
        };
        let input = CanonicalInput {
            view: &filtered,
            signed_headers: SignedHeaders::trusted(&signed_headers),
            payload_hash: payload_hash.as_bytes(),
            path_mode,
            skip_signature_param: false,
            extra_headers: &[],
        };
        let mut hasher = Sha256::new();
        write_canonical_request(&mut hasher, &input);
        let creq_hash: [u8; 32] = hasher.finalize().into();

        let scope = Scope {
            date: &amz_date_str[..8],
            region: params.region,
            service: params.service,
        };
        let keyed = self.keys.keyed_hmac::<()>(
            params.access_key_id,
            scope.date,
            scope.region,
            scope.service,
            || Ok(params.secret_access_key.as_bytes().to_vec()),
        );
        let mut mac = keyed.unwrap_or_else(|()| unreachable!("the secret closure cannot fail"));
        mac.update(ALGORITHM.as_bytes());
        mac.update(b"\n");
        mac.update(&amz_date);
        mac.update(b"\n");
        let mut scope_bytes = Vec::with_capacity(64);
        write_scope(&mut scope_bytes, &scope);
        mac.update(&scope_bytes);
        mac.update(b"\n");
        let mut hex = [0u8; 64];
        hex_encode(&creq_hash, &mut hex);
        mac.update(&hex);
        let signature: [u8; 32] = mac.finalize().into_bytes().into();
        hex_encode(&signature, &mut hex);
        let signature = String::from_utf8_lossy(&hex).into_owned();

        let authorization = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            params.access_key_id,
            String::from_utf8_lossy(&scope_bytes),
        );
        SigningOutput {
            authorization,
            x_amz_date: amz_date_str.to_owned(),
            security_token: params.session_token.map(str::to_owned),
            signed_headers,
            signature,
        }
    }
}
