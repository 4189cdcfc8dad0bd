//! Verification errors: an AWS error code for the client, and the rule that
//! failed for the operator.

use core::fmt;

/// The AWS error codes verification can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No SigV4 authentication at all.
    MissingAuthenticationToken,
    /// A required part of the signature is missing.
    IncompleteSignature,
    /// The `Authorization` header (or its credential) is malformed.
    AuthorizationHeaderMalformed,
    /// A presigned URL's `X-Amz-*` parameters are malformed.
    AuthorizationQueryParametersError,
    /// The signature is well-formed but wrong.
    SignatureDoesNotMatch,
    /// The access key id is unknown.
    InvalidAccessKeyId,
    /// `x-amz-date` is too far from the server's clock.
    RequestTimeTooSkewed,
    /// A presigned URL expired (AWS answers `AccessDenied`).
    AccessDenied,
    /// The session token has expired.
    ExpiredToken,
    /// The session token is not valid.
    InvalidToken,
    /// Both header and query authentication, or a bad payload-hash claim.
    InvalidArgument,
}

impl ErrorCode {
    /// The code as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature => "IncompleteSignature",
            Self::AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            Self::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Self::AccessDenied => "AccessDenied",
            Self::ExpiredToken => "ExpiredToken",
            Self::InvalidToken => "InvalidToken",
            Self::InvalidArgument => "InvalidArgument",
        }
    }

    /// The HTTP status AWS uses with this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::IncompleteSignature
            | Self::AuthorizationHeaderMalformed
            | Self::AuthorizationQueryParametersError
            | Self::ExpiredToken
            | Self::InvalidToken
            | Self::InvalidArgument => 400,
            Self::MissingAuthenticationToken
            | Self::SignatureDoesNotMatch
            | Self::InvalidAccessKeyId
            | Self::RequestTimeTooSkewed
            | Self::AccessDenied => 403,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule a request broke. The message is safe to log and to return: it
/// never contains a secret, a token or a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// Neither an `Authorization` header nor `X-Amz-Algorithm` in the query.
    NoAuthentication,
    /// Both header and query authentication in one request.
    BothHeaderAndQueryAuth,
    /// `Authorization` appears more than once.
    DuplicateAuthorization,
    /// The algorithm is not `AWS4-HMAC-SHA256`.
    UnsupportedAlgorithm,
    /// The `Authorization` header cannot be parsed.
    MalformedAuthorization,
    /// `Credential` is missing.
    MissingCredential,
    /// `SignedHeaders` is missing.
    MissingSignedHeaders,
    /// `Signature` is missing.
    MissingSignature,
    /// A component appears twice in the `Authorization` header.
    DuplicateComponent,
    /// The credential is not `key/date/region/service/aws4_request`.
    MalformedCredential,
    /// The credential scope does not end in `aws4_request`.
    BadScopeTerminator,
    /// The credential scope's date is not the date of `x-amz-date`.
    ScopeDateMismatch,
    /// `SignedHeaders` is empty, has a bad name, or is not sorted and unique.
    MalformedSignedHeaders,
    /// The signature is not 64 lower-case hex digits.
    MalformedSignature,
    /// `x-amz-date` (or `X-Amz-Date`) is missing.
    MissingDate,
    /// `x-amz-date` appears more than once.
    DuplicateDate,
    /// `x-amz-date` is not `YYYYMMDDTHHMMSSZ`.
    MalformedDate,
    /// `host` is not signed.
    HostNotSigned,
    /// `x-amz-date` is not signed.
    DateNotSigned,
    /// A signed header is absent from the request.
    SignedHeaderMissing,
    /// An `x-amz-*` header is present but not signed.
    UnsignedAmzHeader,
    /// `x-amz-content-sha256` appears more than once.
    DuplicateContentSha256,
    /// `x-amz-content-sha256` is neither a hex digest nor a known literal.
    MalformedContentSha256,
    /// `x-amz-security-token` appears more than once, or is not valid.
    MalformedSecurityToken,
    /// A presigned `X-Amz-*` parameter appears twice.
    DuplicateQueryParameter,
    /// `X-Amz-Expires` is not an integer in 1..=604800.
    BadExpires,
    /// The request time is outside the allowed clock skew.
    TimeTooSkewed,
    /// The presigned URL is used before its date (minus the skew).
    PresignedNotYetValid,
    /// The presigned URL has expired.
    PresignedExpired,
    /// The access key id is not known.
    UnknownAccessKey,
    /// The credential store says the session token expired.
    TokenExpired,
    /// The credential store says the session token is invalid or missing.
    TokenInvalid,
    /// The credential was revoked or disabled.
    CredentialRevoked,
    /// The signature does not match the request.
    SignatureMismatch,
    /// The body hash was needed but the caller did not provide it.
    BodyHashUnavailable,
}

impl Rule {
    /// A sentence for logs and error messages.
    pub fn message(self) -> &'static str {
        match self {
            Self::NoAuthentication => "request carries no AWS4-HMAC-SHA256 authentication",
            Self::BothHeaderAndQueryAuth => {
                "only one auth mechanism allowed: header or query, not both"
            }
            Self::DuplicateAuthorization => "the Authorization header appears more than once",
            Self::UnsupportedAlgorithm => {
                "unsupported signing algorithm; only AWS4-HMAC-SHA256 is accepted"
            }
            Self::MalformedAuthorization => "the Authorization header cannot be parsed",
            Self::MissingCredential => "the Authorization header requires a Credential parameter",
            Self::MissingSignedHeaders => {
                "the Authorization header requires a SignedHeaders parameter"
            }
            Self::MissingSignature => "the Authorization header requires a Signature parameter",
            Self::DuplicateComponent => "a parameter appears twice in the Authorization header",
            Self::MalformedCredential => {
                "the credential must be <access key id>/<date>/<region>/<service>/aws4_request"
            }
            Self::BadScopeTerminator => "the credential scope must end in aws4_request",
            Self::ScopeDateMismatch => "the credential scope date is not the date of X-Amz-Date",
            Self::MalformedSignedHeaders => {
                "SignedHeaders must be non-empty, lower-case, sorted and unique"
            }
            Self::MalformedSignature => "the signature must be 64 lower-case hex digits",
            Self::MissingDate => "X-Amz-Date is required",
            Self::DuplicateDate => "X-Amz-Date appears more than once",
            Self::MalformedDate => "X-Amz-Date must be YYYYMMDDTHHMMSSZ",
            Self::HostNotSigned => "the host header must be signed",
            Self::DateNotSigned => "the x-amz-date header must be signed",
            Self::SignedHeaderMissing => {
                "a header named in SignedHeaders is absent from the request"
            }
            Self::UnsignedAmzHeader => "an x-amz-* header is present but not signed",
            Self::DuplicateContentSha256 => "x-amz-content-sha256 appears more than once",
            Self::MalformedContentSha256 => {
                "x-amz-content-sha256 must be a SHA-256 hex digest or a known payload literal"
            }
            Self::MalformedSecurityToken => {
                "the security token appears more than once or is malformed"
            }
            Self::DuplicateQueryParameter => "a presigned X-Amz-* parameter appears more than once",
            Self::BadExpires => "X-Amz-Expires must be an integer between 1 and 604800",
            Self::TimeTooSkewed => {
                "the difference between the request time and the server's time is too large"
            }
            Self::PresignedNotYetValid => "the presigned request is not valid yet",
            Self::PresignedExpired => "request has expired",
            Self::UnknownAccessKey => "the access key id does not exist in our records",
            Self::TokenExpired => "the security token included in the request is expired",
            Self::TokenInvalid => "the security token included in the request is invalid",
            Self::CredentialRevoked => "the credential has been revoked",
            Self::SignatureMismatch => {
                "the request signature we calculated does not match the signature you provided"
            }
            Self::BodyHashUnavailable => "the payload hash could not be determined",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Why a request did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {rule}")]
pub struct VerifyError {
    /// What the client is told.
    pub code: ErrorCode,
    /// Which rule failed, for the operator.
    pub rule: Rule,
}

impl VerifyError {
    pub(crate) const fn new(code: ErrorCode, rule: Rule) -> Self {
        Self { code, rule }
    }
}

/// What a credential store can say about an access key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No such access key id.
    #[error("unknown access key id")]
    UnknownAccessKey,
    /// The session token is past its expiry.
    #[error("session token expired")]
    ExpiredToken,
    /// The session token is missing, malformed or not for this key.
    #[error("session token invalid")]
    InvalidToken,
    /// The credential was revoked or disabled.
    #[error("credential revoked")]
    Revoked,
}

impl From<LookupError> for VerifyError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::UnknownAccessKey => {
                Self::new(ErrorCode::InvalidAccessKeyId, Rule::UnknownAccessKey)
            }
            LookupError::ExpiredToken => Self::new(ErrorCode::ExpiredToken, Rule::TokenExpired),
            LookupError::InvalidToken => Self::new(ErrorCode::InvalidToken, Rule::TokenInvalid),
            LookupError::Revoked => {
                Self::new(ErrorCode::InvalidAccessKeyId, Rule::CredentialRevoked)
            }
        }
    }
}
