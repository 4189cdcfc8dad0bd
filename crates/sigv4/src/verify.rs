//! Verification of header-signed and presigned (query-signed) requests.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use hmac::Mac;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::canonical::{write_canonical_request, BufferedSha256, CanonicalInput, PathMode, Sink};
use crate::error::{ErrorCode, LookupError, Rule, VerifyError};
use crate::key::{HmacSha256, SigningKeyCache};
use crate::parse::{parse_authorization_header, parse_query_auth, AuthParts};
use crate::payload::{CanonicalPayload, PayloadHash};
use crate::request::{header_eq, RequestView, SignedHeaders};
use crate::time::{parse_amz_date, unix_seconds};

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Longest lifetime of a presigned URL, as AWS allows: 7 days.
pub const MAX_PRESIGNED_EXPIRY_SECS: u32 = 604_800;

/// A credential found by access key id.
pub trait Credential {
    /// The secret access key the client signs with.
    fn secret_access_key(&self) -> &[u8];
}

impl<T: Credential + ?Sized> Credential for &T {
    fn secret_access_key(&self) -> &[u8] {
        (**self).secret_access_key()
    }
}

/// Where verification looks credentials up. Implementations decide what a
/// session token means (for gateway credentials it carries sealed claims).
pub trait CredentialStore {
    /// What a lookup returns; handed back in [`Verified::credential`].
    type Credential<'a>: Credential
    where
        Self: 'a;

    /// Finds the credential for `access_key_id`, given the session token the
    /// request carried (if any).
    fn lookup<'a>(
        &'a self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Self::Credential<'a>, LookupError>;
}

/// How a request was authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 …`
    Header,
    /// Presigned URL: `X-Amz-Algorithm=AWS4-HMAC-SHA256&…`
    Query,
}

/// The credential scope of a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope<'r> {
    /// `YYYYMMDD`.
    pub date: &'r str,
    /// e.g. `us-east-1`.
    pub region: &'r str,
    /// The signing name, e.g. `s3`.
    pub service: &'r str,
}

/// A request whose signature checked out.
#[derive(Debug)]
pub struct Verified<'r, C> {
    /// What the credential store returned for the access key.
    pub credential: C,
    /// Header or query authentication.
    pub kind: AuthKind,
    /// The access key id the client signed with.
    pub access_key_id: &'r str,
    /// The credential scope.
    pub scope: Scope<'r>,
    /// The headers the client signed.
    pub signed_headers: SignedHeaders<'r>,
    /// The payload hash the signature covers.
    pub payload: PayloadHash,
    /// The session token, if any (decoded for presigned URLs).
    pub session_token: Option<Cow<'r, str>>,
    /// The request time from `X-Amz-Date`, as Unix seconds.
    pub request_time: i64,
    /// `X-Amz-Expires` for presigned URLs.
    pub expires_secs: Option<u32>,
    /// The verified signature (the seed for aws-chunked streams).
    pub signature: [u8; 32],
}

/// Verification settings.
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions {
    /// Largest accepted difference between `X-Amz-Date` and `now`.
    pub clock_skew: Duration,
    /// Forces a path mode instead of choosing it by service (tests, and
    /// S3-compatible services with other names).
    pub path_mode: Option<PathMode>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(15 * 60),
            path_mode: None,
        }
    }
}

/// Verifies SigV4 signatures. Holds the signing-key cache; share one per
/// credential store.
#[derive(Debug, Default)]
pub struct Verifier {
    options: VerifyOptions,
    keys: SigningKeyCache,
}

/// What [`Verifier::explain`] shows: the bytes the signature must cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The canonical request.
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
}

/// Everything checked before the credential lookup and the cryptography.
struct Checked<'r> {
    parts: AuthParts<'r>,
    request_time: i64,
    payload: PayloadHash,
    payload_canonical: CanonicalPayload,
    path_mode: PathMode,
}

impl Verifier {
    /// A verifier with these options and an empty key cache.
    pub fn new(options: VerifyOptions) -> Self {
        Self {
            options,
            keys: SigningKeyCache::default(),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// Whether verifying `view` needs the SHA-256 of the whole body, i.e.
    /// the client claims no payload hash (most non-S3 JSON and query calls).
    /// The caller then buffers the body (bounded) and sets `body_sha256`.
    pub fn needs_body_hash(&self, view: &RequestView<'_>) -> bool {
        if view.header_values("x-amz-content-sha256").next().is_some() {
            return false;
        }
        let presigned = query_param(view.query, "X-Amz-Algorithm").is_some()
            && view.header_values("authorization").next().is_none();
        if presigned {
            // Presigned S3 URLs sign UNSIGNED-PAYLOAD; others sign the body.
            let service = query_param(view.query, "X-Amz-Credential")
                .and_then(|c| crate::parse::credential_service(c))
                .unwrap_or("");
            return PathMode::for_service(service) != PathMode::S3;
        }
        true
    }

    fn path_mode(&self, service: &str) -> PathMode {
        self.options
            .path_mode
            .unwrap_or_else(|| PathMode::for_service(service))
    }

    /// Verifies `view` at time `now` against `store`.
    pub fn verify<'r, 's, S: CredentialStore>(
        &self,
        view: &RequestView<'r>,
        now: SystemTime,
        store: &'s S,
    ) -> Result<Verified<'r, S::Credential<'s>>, VerifyError> {
        let checked = self.check(view, now)?;
        let parts = &checked.parts;
        let credential = store.lookup(parts.access_key_id, parts.session_token.as_deref())?;
        let keyed = self.keys.keyed_hmac::<()>(
            parts.access_key_id,
            parts.scope.date,
            parts.scope.region,
            parts.scope.service,
            || Ok(credential.secret_access_key().to_vec()),
        );
        let keyed = keyed.unwrap_or_else(|()| unreachable!("the secret closure cannot fail"));
        let computed = compute_signature(view, &checked, keyed);
        if !bool::from(computed.ct_eq(&parts.signature)) {
            return Err(VerifyError::new(
                ErrorCode::SignatureDoesNotMatch,
                Rule::SignatureMismatch,
            ));
        }
        let Checked {
            parts,
            request_time,
            payload,
            ..
        } = checked;
        Ok(Verified {
            credential,
            kind: parts.kind,
            access_key_id: parts.access_key_id,
            scope: parts.scope,
            signed_headers: parts.signed_headers,
            payload,
            session_token: parts.session_token,
            request_time,
            expires_secs: parts.expires,
            signature: parts.signature,
        })
    }

    /// The canonical request and string to sign the verifier builds for
    /// `view`, after the same structural and time checks as [`Self::verify`]
    /// but without a credential lookup. For operators chasing a
    /// `SignatureDoesNotMatch`, and for conformance tests.
    pub fn explain(
        &self,
        view: &RequestView<'_>,
        now: SystemTime,
    ) -> Result<Explanation, VerifyError> {
        let checked = self.check(view, now)?;
        let mut creq = Vec::new();
        write_canonical_request(&mut creq, &canonical_input(view, &checked));
        let mut sts = Vec::new();
        write_string_to_sign(&mut sts, &checked, &Sha256::digest(&creq).into());
        Ok(Explanation {
            canonical_request: String::from_utf8_lossy(&creq).into_owned(),
            string_to_sign: String::from_utf8_lossy(&sts).into_owned(),
        })
    }

    fn check<'r>(
        &self,
        view: &RequestView<'r>,
        now: SystemTime,
    ) -> Result<Checked<'r>, VerifyError> {
        use ErrorCode::*;
        let authorization = view.unique_header("authorization").map_err(|()| {
            VerifyError::new(AuthorizationHeaderMalformed, Rule::DuplicateAuthorization)
        })?;
        let query_auth = query_param(view.query, "X-Amz-Algorithm").is_some();
        let parts = match (authorization, query_auth) {
            (Some(_), true) => {
                return Err(VerifyError::new(
                    InvalidArgument,
                    Rule::BothHeaderAndQueryAuth,
                ))
            }
            (Some(value), false) => parse_authorization_header(value, view)?,
            (None, true) => parse_query_auth(view.query)?,
            (None, false) => {
                return Err(VerifyError::new(
                    MissingAuthenticationToken,
                    Rule::NoAuthentication,
                ))
            }
        };
        let malformed = match parts.kind {
            AuthKind::Header => AuthorizationHeaderMalformed,
            AuthKind::Query => AuthorizationQueryParametersError,
        };
        let request_time = parse_amz_date(parts.amz_date.as_bytes())
            .ok_or(VerifyError::new(malformed, Rule::MalformedDate))?;
        if parts.scope.date.as_bytes() != &parts.amz_date.as_bytes()[..8] {
            return Err(VerifyError::new(malformed, Rule::ScopeDateMismatch));
        }

        // What must be signed, and what is signed must be there.
        let signed = parts.signed_headers;
        let (mut has_host, mut has_date, mut count) = (false, false, 0usize);
        for name in signed.names() {
            has_host |= name == "host";
            has_date |= name == "x-amz-date";
            count += 1;
        }
        if !has_host {
            return Err(VerifyError::new(AccessDenied, Rule::HostNotSigned));
        }
        if parts.kind == AuthKind::Header && !has_date {
            return Err(VerifyError::new(AccessDenied, Rule::DateNotSigned));
        }
        // One pass over the request's headers: each is either signed (mark
        // it present) or, if it is an x-amz-* header, refused.
        let mut present: u64 = 0;
        for (name, _) in view.headers {
            match signed.names().position(|s| header_eq(name, s)) {
                Some(i) => present |= 1u64.checked_shl(i as u32).unwrap_or(0),
                None => {
                    let is_amz =
                        name.len() > 6 && name.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-");
                    if is_amz {
                        return Err(VerifyError::new(AccessDenied, Rule::UnsignedAmzHeader));
                    }
                }
            }
        }
        if present.count_ones() as usize != count {
            for (i, name) in signed.names().enumerate() {
                let seen = if i < 64 {
                    present & (1 << i) != 0
                } else {
                    view.header_values(name).next().is_some()
                };
                let via_authority = name == "host" && view.authority.is_some();
                if !seen && !via_authority {
                    return Err(VerifyError::new(
                        SignatureDoesNotMatch,
                        Rule::SignedHeaderMissing,
                    ));
                }
            }
        }

        // Time: header auth within the skew; presigned within its window.
        let now = unix_seconds(now);
        let skew = self.options.clock_skew.as_secs() as i64;
        match parts.expires {
            None => {
                if (now - request_time).abs() > skew {
                    return Err(VerifyError::new(RequestTimeTooSkewed, Rule::TimeTooSkewed));
                }
            }
            Some(expires) => {
                if now < request_time - skew {
                    return Err(VerifyError::new(AccessDenied, Rule::PresignedNotYetValid));
                }
                if now > request_time + i64::from(expires) {
                    return Err(VerifyError::new(AccessDenied, Rule::PresignedExpired));
                }
            }
        }

        let path_mode = self.path_mode(parts.scope.service);
        let claim = view
            .unique_header("x-amz-content-sha256")
            .map_err(|()| VerifyError::new(InvalidArgument, Rule::DuplicateContentSha256))?;
        let payload = match claim {
            Some(value) => PayloadHash::from_claim(value).ok_or(VerifyError::new(
                InvalidArgument,
                Rule::MalformedContentSha256,
            ))?,
            // Presigned S3 URLs sign UNSIGNED-PAYLOAD; other services sign the body.
            None if parts.kind == AuthKind::Query
                && PathMode::for_service(parts.scope.service) == PathMode::S3 =>
            {
                PayloadHash::Unsigned
            }
            None => match view.body_sha256 {
                Some(digest) => PayloadHash::Sha256(digest),
                None => return Err(VerifyError::new(InvalidArgument, Rule::BodyHashUnavailable)),
            },
        };
        let payload_canonical = payload.canonical_bytes_owned();
        Ok(Checked {
            parts,
            request_time,
            payload,
            payload_canonical,
            path_mode,
        })
    }
}

fn canonical_input<'a, 'r>(
    view: &'a RequestView<'r>,
    checked: &'a Checked<'_>,
) -> CanonicalInput<'a, 'r> {
    CanonicalInput {
        view,
        signed_headers: checked.parts.signed_headers,
        payload_hash: &checked.payload_canonical,
        path_mode: checked.path_mode,
        skip_signature_param: checked.parts.kind == AuthKind::Query,
        extra_headers: &[],
    }
}

pub(crate) fn write_hex<S: Sink + ?Sized>(sink: &mut S, bytes: &[u8; 32]) {
    let mut out = [0u8; 64];
    hex_encode(bytes, &mut out);
    sink.write(&out);
}

pub(crate) fn hex_encode(bytes: &[u8; 32], out: &mut [u8; 64]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
}

fn write_string_to_sign<S: Sink + ?Sized>(
    sink: &mut S,
    checked: &Checked<'_>,
    creq_hash: &[u8; 32],
) {
    let scope = checked.parts.scope;
    sink.write(ALGORITHM.as_bytes());
    sink.write(b"\n");
    sink.write(checked.parts.amz_date.as_bytes());
    sink.write(b"\n");
    write_scope(sink, &scope);
    sink.write(b"\n");
    write_hex(sink, creq_hash);
}

pub(crate) fn write_scope<S: Sink + ?Sized>(sink: &mut S, scope: &Scope<'_>) {
    sink.write(scope.date.as_bytes());
    sink.write(b"/");
    sink.write(scope.region.as_bytes());
    sink.write(b"/");
    sink.write(scope.service.as_bytes());
    sink.write(b"/aws4_request");
}

/// The string to sign gathered on the stack, then fed to the keyed HMAC in
/// one call (a dozen small `update` calls cost more than the copy).
struct MacSink {
    mac: HmacSha256,
    buf: [u8; 256],
    len: usize,
}

impl Sink for MacSink {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        if let Some(room) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            room.copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            self.mac.update(&self.buf[..self.len]);
            self.len = 0;
            self.mac.update(bytes);
        }
    }
}

fn compute_signature(view: &RequestView<'_>, checked: &Checked<'_>, keyed: HmacSha256) -> [u8; 32] {
    let mut hasher = BufferedSha256::new();
    write_canonical_request(&mut hasher, &canonical_input(view, checked));
    let creq_hash = hasher.finalize();
    let mut sink = MacSink {
        mac: keyed,
        buf: [0; 256],
        len: 0,
    };
    write_string_to_sign(&mut sink, checked, &creq_hash);
    let MacSink { mut mac, buf, len } = sink;
    mac.update(&buf[..len]);
    mac.finalize().into_bytes().into()
}

/// The raw value of the first query parameter named exactly `name`.
pub(crate) fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then_some(v)
    })
}
