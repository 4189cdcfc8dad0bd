//! Parsing of the two ways a request carries its signature.

use std::borrow::Cow;

use crate::error::{ErrorCode, Rule, VerifyError};
use crate::payload::parse_lower_hex_32;
use crate::request::{RequestView, SignedHeaders, SignedHeadersError};
use crate::verify::{AuthKind, Scope, ALGORITHM, MAX_PRESIGNED_EXPIRY_SECS};

/// The authentication parameters of a request, borrowed from it.
#[derive(Debug)]
pub(crate) struct AuthParts<'r> {
    pub(crate) kind: AuthKind,
    pub(crate) access_key_id: &'r str,
    pub(crate) scope: Scope<'r>,
    pub(crate) signed_headers: SignedHeaders<'r>,
    pub(crate) signature: [u8; 32],
    pub(crate) amz_date: &'r str,
    pub(crate) expires: Option<u32>,
    pub(crate) session_token: Option<Cow<'r, str>>,
}

fn err(code: ErrorCode, rule: Rule) -> VerifyError {
    VerifyError::new(code, rule)
}

/// Bytes allowed in an access key id, a region and a service name.
const TOKEN_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.';
        b += 1;
    }
    table
};

/// Splits a credential (`key/date/region/service/aws4_request`) into its
/// parts. Presigned credentials may spell `/` as `%2F`.
fn parse_credential(raw: &str, code: ErrorCode) -> Result<(&str, Scope<'_>), VerifyError> {
    let mut parts = [""; 5];
    let mut count = 0;
    let bytes = raw.as_bytes();
    if !bytes.contains(&b'%') {
        for part in raw.split('/') {
            if count == 5 {
                return Err(err(code, Rule::MalformedCredential));
            }
            parts[count] = part;
            count += 1;
        }
    } else {
        let (mut start, mut i) = (0, 0);
        while i <= bytes.len() {
            let sep_len = if i == bytes.len() || bytes[i] == b'/' {
                1
            } else if bytes[i] == b'%'
                && bytes.len() >= i + 3
                && bytes[i + 1..i + 3].eq_ignore_ascii_case(b"2f")
            {
                3
            } else {
                i += 1;
                continue;
            };
            if count == 5 {
                return Err(err(code, Rule::MalformedCredential));
            }
            parts[count] = &raw[start..i];
            count += 1;
            i += sep_len;
            start = i;
        }
    }
    if count != 5 {
        return Err(err(code, Rule::MalformedCredential));
    }
    let [key, date, region, service, terminator] = parts;
    let token_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| TOKEN_BYTE[b as usize]);
    if !token_ok(key) || !token_ok(region) || !token_ok(service) {
        return Err(err(code, Rule::MalformedCredential));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(code, Rule::MalformedCredential));
    }
    if terminator != "aws4_request" {
        return Err(err(code, Rule::BadScopeTerminator));
    }
    Ok((
        key,
        Scope {
            date,
            region,
            service,
        },
    ))
}

/// The signing service of a raw presigned credential, if it parses.
pub(crate) fn credential_service(raw: &str) -> Option<&str> {
    parse_credential(raw, ErrorCode::AuthorizationQueryParametersError)
        .ok()
        .map(|(_, s)| s.service)
}

fn parse_signed_headers(raw: &str, code: ErrorCode) -> Result<SignedHeaders<'_>, VerifyError> {
    SignedHeaders::parse(raw).map_err(|e| match e {
        SignedHeadersError::Empty | SignedHeadersError::BadName | SignedHeadersError::NotSorted => {
            err(code, Rule::MalformedSignedHeaders)
        }
    })
}

fn parse_signature(raw: &str, code: ErrorCode) -> Result<[u8; 32], VerifyError> {
    parse_lower_hex_32(raw.as_bytes()).ok_or(err(code, Rule::MalformedSignature))
}

/// Parses `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
/// and the headers that go with it.
pub(crate) fn parse_authorization_header<'r>(
    value: &'r [u8],
    view: &RequestView<'r>,
) -> Result<AuthParts<'r>, VerifyError> {
    use ErrorCode::{AuthorizationHeaderMalformed as Malformed, IncompleteSignature};
    let value =
        std::str::from_utf8(value).map_err(|_| err(Malformed, Rule::MalformedAuthorization))?;
    let value = trim_blanks(value);
    let alg_end = value
        .bytes()
        .position(|b| b == b' ' || b == b'\t')
        .unwrap_or(value.len());
    let (algorithm, rest) = (&value[..alg_end], value.get(alg_end + 1..).unwrap_or(""));
    if algorithm != ALGORITHM {
        return Err(err(IncompleteSignature, Rule::UnsupportedAlgorithm));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    // Byte loops rather than `split`: the pieces are short and a handful of
    // memchr calls cost more than scanning them.
    let mut rest = rest;
    loop {
        let end = rest.find(',').unwrap_or(rest.len());
        let component = trim_blanks(&rest[..end]);
        let eq = component
            .bytes()
            .position(|b| b == b'=')
            .ok_or(err(Malformed, Rule::MalformedAuthorization))?;
        let (key, val) = (&component[..eq], &component[eq + 1..]);
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(err(Malformed, Rule::MalformedAuthorization)),
        };
        if slot.replace(val).is_some() {
            return Err(err(Malformed, Rule::DuplicateComponent));
        }
        if end == rest.len() {
            break;
        }
        rest = &rest[end + 1..];
    }
    let credential = credential.ok_or(err(IncompleteSignature, Rule::MissingCredential))?;
    let signed_headers =
        signed_headers.ok_or(err(IncompleteSignature, Rule::MissingSignedHeaders))?;
    let signature = signature.ok_or(err(IncompleteSignature, Rule::MissingSignature))?;
    let (access_key_id, scope) = parse_credential(credential, Malformed)?;
    if credential.contains('%') {
        return Err(err(Malformed, Rule::MalformedCredential));
    }
    let signed_headers = parse_signed_headers(signed_headers, Malformed)?;
    let signature = parse_signature(signature, Malformed)?;

    let amz_date = view
        .unique_header("x-amz-date")
        .map_err(|()| err(Malformed, Rule::DuplicateDate))?
        .ok_or(err(IncompleteSignature, Rule::MissingDate))?;
    let amz_date =
        std::str::from_utf8(amz_date).map_err(|_| err(Malformed, Rule::MalformedDate))?;
    let session_token = view
        .unique_header("x-amz-security-token")
        .map_err(|()| err(ErrorCode::InvalidToken, Rule::MalformedSecurityToken))?
        .map(|t| {
            std::str::from_utf8(t)
                .map_err(|_| err(ErrorCode::InvalidToken, Rule::MalformedSecurityToken))
        })
        .transpose()?;
    Ok(AuthParts {
        kind: AuthKind::Header,
        access_key_id,
        scope,
        signed_headers,
        signature,
        amz_date,
        expires: None,
        session_token: session_token.map(Cow::Borrowed),
    })
}

/// Trims spaces and tabs at both ends.
fn trim_blanks(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// Percent-decodes a query value, borrowing when there is nothing to decode.
pub(crate) fn decode_query_value(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('%') {
        return Some(Cow::Borrowed(raw));
    }
    // One allocation, sized up front (decoding only shrinks).
    let mut bytes = Vec::with_capacity(raw.len());
    bytes.extend(crate::encoding::Decoded::new(raw.as_bytes()));
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

/// Parses the `X-Amz-*` parameters of a presigned URL.
pub(crate) fn parse_query_auth(query: &str) -> Result<AuthParts<'_>, VerifyError> {
    use ErrorCode::AuthorizationQueryParametersError as QueryError;
    let mut found: [Option<&str>; 7] = [None; 7];
    const NAMES: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ];
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if let Some(i) = NAMES.iter().position(|n| *n == name) {
            if found[i].replace(value).is_some() {
                return Err(err(QueryError, Rule::DuplicateQueryParameter));
            }
        }
    }
    let [algorithm, credential, date, expires, signed_headers, signature, token] = found;
    if algorithm != Some(ALGORITHM) {
        return Err(err(QueryError, Rule::UnsupportedAlgorithm));
    }
    let credential = credential.ok_or(err(QueryError, Rule::MissingCredential))?;
    let signed_headers = signed_headers.ok_or(err(QueryError, Rule::MissingSignedHeaders))?;
    let signature = signature.ok_or(err(QueryError, Rule::MissingSignature))?;
    let amz_date = date.ok_or(err(QueryError, Rule::MissingDate))?;
    let expires = expires.ok_or(err(QueryError, Rule::BadExpires))?;
    let (access_key_id, scope) = parse_credential(credential, QueryError)?;
    let signed_headers = parse_signed_headers(signed_headers, QueryError)?;
    let signature = parse_signature(signature, QueryError)?;
    let expires: u32 =
        if !expires.is_empty() && expires.len() <= 7 && expires.bytes().all(|b| b.is_ascii_digit())
        {
            expires
                .parse()
                .map_err(|_| err(QueryError, Rule::BadExpires))?
        } else {
            return Err(err(QueryError, Rule::BadExpires));
        };
    if !(1..=MAX_PRESIGNED_EXPIRY_SECS).contains(&expires) {
        return Err(err(QueryError, Rule::BadExpires));
    }
    let session_token = token
        .map(|t| {
            decode_query_value(t).ok_or(err(ErrorCode::InvalidToken, Rule::MalformedSecurityToken))
        })
        .transpose()?;
    Ok(AuthParts {
        kind: AuthKind::Query,
        access_key_id,
        scope,
        signed_headers,
        signature,
        amz_date,
        expires: Some(expires),
        session_token,
    })
}
