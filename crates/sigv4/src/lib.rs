//! # countersign-sigv4
//!
//! Sans-IO AWS Signature Version 4: parse, canonicalise, verify and sign.
//!
//! This crate answers one question, correctly and fast: *did the holder of
//! this credential sign exactly this request?* It takes a [`RequestView`]
//! (method, raw path and query exactly as on the wire, headers in arrival
//! order, the authority the client addressed), the current time and a
//! [`CredentialStore`], and returns a [`Verified`] request or a
//! [`VerifyError`] carrying the AWS error code and the rule that failed.
//! [`Signer`] signs outgoing requests with the same canonicalisation code.
//!
//! What it is not: it does no I/O (no sockets, no tokio, no hyper), it does
//! not read bodies (the caller supplies a body hash when one is needed, see
//! [`Verifier::needs_body_hash`]), and it does not decide what a credential
//! may do.
//!
//! ## Rules enforced
//!
//! - `AWS4-HMAC-SHA256` only; header auth or presigned query auth, never both.
//! - `x-amz-date` strictly `YYYYMMDDTHHMMSSZ`, within ±15 minutes (configurable)
//!   for header auth; presigned URLs live 1 s to 7 days and are not valid
//!   before their date minus the skew.
//! - The scope date is the date of `x-amz-date`; the scope ends in `aws4_request`.
//! - `host` (or the authority) and, for header auth, `x-amz-date` are signed;
//!   every signed header is present; an `x-amz-*` header that is present but
//!   unsigned is refused.
//! - `Authorization`, `X-Amz-Date`, `X-Amz-Content-Sha256`, the security token
//!   and presigned parameters appear at most once.
//! - The signature is 64 lower-case hex digits and is compared in constant time.
//!
//! ## Performance
//!
//! The canonical request is streamed into SHA-256, never built as a string;
//! query sorting uses thread-local scratch space; the keyed HMAC for each
//! (access key, date, region, service) is cached. Steady-state verification
//! performs no heap allocation (`tests/no_alloc.rs` proves it with a counting
//! allocator); the one exception is a presigned URL whose session token has
//! percent-escapes, decoded once into the `String` that [`Verified`] returns.

mod canonical;
mod encoding;
mod error;
mod key;
mod parse;
mod payload;
mod request;
mod sign;
mod time;
mod verify;

pub use canonical::{PathMode, Sink};
pub use error::{ErrorCode, LookupError, Rule, VerifyError};
pub use key::{derive_signing_key, SigningKeyCache};
pub use payload::PayloadHash;
pub use request::{RequestView, SignedHeaders};
pub use sign::{Signer, SigningOutput, SigningParams};
pub use time::{format_amz_date, parse_amz_date, unix_seconds};
pub use verify::{
    AuthKind, Credential, CredentialStore, Explanation, Scope, Verified, Verifier, VerifyOptions,
    ALGORITHM, MAX_PRESIGNED_EXPIRY_SECS,
};

/// A fixed set of access keys, for configuration-defined principals and tests.
pub mod static_keys;

#[doc(hidden)]
pub mod fuzzing;
