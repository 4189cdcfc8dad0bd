//! Each verification rule rejects what it should, with the AWS error code
//! and the [`Rule`] it should. Every case starts from a request that
//! verifies and changes one thing.

mod common;

use std::time::Duration;

use common::{at, TestStore};
use countersign_sigv4::{
    derive_signing_key, Credential, CredentialStore, ErrorCode, LookupError, PathMode, RequestView,
    Rule, Signer, SigningParams, Verifier, VerifyError, VerifyOptions,
};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "examplebucket.s3.amazonaws.com";
/// 2015-08-30T12:36:00Z.
const T: u64 = 1_440_938_160;
const DATE: &str = "20150830T123600Z";
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A request as owned strings, easy to change one part of.
#[derive(Clone, Debug)]
struct Req {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    authority: Option<String>,
    body_sha256: Option<[u8; 32]>,
}

impl Req {
    fn verify_with<S: CredentialStore>(
        &self,
        verifier: &Verifier,
        now: u64,
        store: &S,
    ) -> Result<(), VerifyError> {
        let pairs: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let view = RequestView {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &pairs,
            authority: self.authority.as_deref(),
            body_sha256: self.body_sha256,
        };
        verifier.verify(&view, at(now), store).map(|_| ())
    }

    fn verify(&self, now: u64) -> Result<(), VerifyError> {
        self.verify_with(&Verifier::default(), now, &store(None))
    }

    fn header(&self, name: &str) -> &str {
        &self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no {name}"))
            .1
    }

    fn set_header(&mut self, name: &str, value: &str) {
        for (n, v) in &mut self.headers {
            if n.eq_ignore_ascii_case(name) {
                *v = value.to_owned();
            }
        }
    }

    fn add_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Replaces `from` with `to` in the Authorization header.
    fn edit_auth(&mut self, from: &str, to: &str) {
        let auth = self.header("authorization").to_owned();
        assert!(auth.contains(from), "{auth} lacks {from}");
        self.set_header("authorization", &auth.replacen(from, to, 1));
    }

    fn edit_query(&mut self, from: &str, to: &str) {
        assert!(self.query.contains(from), "{} lacks {from}", self.query);
        self.query = self.query.replacen(from, to, 1);
    }
}

fn store(token: Option<&str>) -> TestStore {
    TestStore::new(AKID, SECRET, token)
}

/// An S3 GetObject signed in the header by our signer, at `T`.
fn header_signed() -> Req {
    let headers = [
        ("host", HOST.as_bytes()),
        ("range", &b"bytes=0-9"[..]),
        ("x-amz-content-sha256", EMPTY_SHA.as_bytes()),
    ];
    let view = RequestView {
        method: "GET",
        path: "/test.txt",
        query: "",
        headers: &headers,
        authority: None,
        body_sha256: None,
    };
    let params = SigningParams {
        access_key_id: AKID,
        secret_access_key: SECRET,
        session_token: None,
        region: "us-east-1",
        service: "s3",
        time: at(T),
    };
    let out = Signer::default().sign(&view, EMPTY_SHA, PathMode::S3, &params);
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), String::from_utf8(v.to_vec()).expect("utf8")))
        .collect();
    headers.push(("x-amz-date".into(), out.x_amz_date));
    headers.push(("authorization".into(), out.authorization));
    let req = Req {
        method: "GET".into(),
        path: "/test.txt".into(),
        query: String::new(),
        headers,
        authority: None,
        body_sha256: None,
    };
    req.verify(T).expect("the base request verifies");
    req
}

/// Presigns `path` for S3 with `expires` seconds, dated `T`, computing the
/// signature from the string to sign the verifier itself explains (so any
/// failure is the rule under test, not a wrong signature).
fn presigned(expires: u32) -> Req {
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F20150830%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date={DATE}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
    );
    let mut req = Req {
        method: "GET".into(),
        path: "/test.txt".into(),
        query: format!("{query}&X-Amz-Signature={}", "0".repeat(64)),
        headers: vec![("Host".into(), HOST.into())],
        authority: None,
        body_sha256: None,
    };
    if (1..=604_800).contains(&expires) {
        let sts = {
            let pairs: Vec<(&str, &[u8])> = req
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes()))
                .collect();
            let view = RequestView {
                method: &req.method,
                path: &req.path,
                query: &req.query,
                headers: &pairs,
                authority: None,
                body_sha256: None,
            };
            Verifier::default()
                .explain(&view, at(T))
                .expect("explain")
                .string_to_sign
        };
        let key = derive_signing_key(SECRET.as_bytes(), "20150830", "us-east-1", "s3");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
        mac.update(sts.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        req.query = format!("{query}&X-Amz-Signature={sig}");
        req.verify(T).expect("the base presigned request verifies");
    }
    req
}

#[track_caller]
fn expect(result: Result<(), VerifyError>, code: ErrorCode, rule: Rule) {
    let err = result.expect_err("must not verify");
    assert_eq!((err.code, err.rule), (code, rule), "{err}");
}

use ErrorCode::*;

#[test]
fn no_authentication() {
    let mut r = header_signed();
    r.remove_header("authorization");
    expect(
        r.verify(T),
        MissingAuthenticationToken,
        Rule::NoAuthentication,
    );
}

#[test]
fn duplicate_authorization() {
    let mut r = header_signed();
    let auth = r.header("authorization").to_owned();
    r.add_header("Authorization", &auth);
    expect(
        r.verify(T),
        AuthorizationHeaderMalformed,
        Rule::DuplicateAuthorization,
    );
}

#[test]
fn duplicate_x_amz_date() {
    let mut r = header_signed();
    r.add_header("X-Amz-Date", DATE);
    expect(
        r.verify(T),
        AuthorizationHeaderMalformed,
        Rule::DuplicateDate,
    );
}

#[test]
fn duplicate_x_amz_content_sha256() {
    let mut r = header_signed();
    r.add_header("X-Amz-Content-Sha256", EMPTY_SHA);
    expect(r.verify(T), InvalidArgument, Rule::DuplicateContentSha256);
}

#[test]
fn malformed_content_sha256() {
    for bad in [&EMPTY_SHA.to_uppercase(), "UNSIGNED_PAYLOAD", "abc", ""] {
        let mut r = header_signed();
        r.set_header("x-amz-content-sha256", bad);
        expect(r.verify(T), InvalidArgument, Rule::MalformedContentSha256);
    }
}

#[test]
fn duplicate_security_token() {
    let mut r = header_signed();
    r.add_header("x-amz-security-token", "a");
    r.add_header("x-amz-security-token", "b");
    expect(r.verify(T), InvalidToken, Rule::MalformedSecurityToken);
}

#[test]
fn missing_date() {
    let mut r = header_signed();
    r.remove_header("x-amz-date");
    expect(r.verify(T), IncompleteSignature, Rule::MissingDate);
}

#[test]
fn malformed_date() {
    for bad in [
        "2015-08-30T12:36:00Z",
        "20150830T123600",
        "20150830t123600z",
        "20150830T123600Z ",
        "20151330T123600Z",
        "20150830T126000Z",
        "Sun, 30 Aug 2015 12:36:00 GMT",
    ] {
        let mut r = header_signed();
        r.set_header("x-amz-date", bad);
        expect(
            r.verify(T),
            AuthorizationHeaderMalformed,
            Rule::MalformedDate,
        );
    }
}

#[test]
fn skew_both_directions() {
    let r = header_signed();
    for ok in [T - 900, T + 900] {
        r.verify(ok).expect("within 15 minutes");
    }
    for late in [T - 901, T + 901, T + 86_400] {
        expect(r.verify(late), RequestTimeTooSkewed, Rule::TimeTooSkewed);
    }
    let tight = Verifier::new(VerifyOptions {
        clock_skew: Duration::from_secs(60),
        ..VerifyOptions::default()
    });
    r.verify_with(&tight, T + 60, &store(None)).expect("60 s");
    expect(
        r.verify_with(&tight, T - 61, &store(None)),
        RequestTimeTooSkewed,
        Rule::TimeTooSkewed,
    );
}

#[test]
fn scope_date_mismatch() {
    let mut r = header_signed();
    r.edit_auth("/20150830/", "/20150831/");
    expect(
        r.verify(T),
        AuthorizationHeaderMalformed,
        Rule::ScopeDateMismatch,
    );
}

#[test]
fn bad_terminator() {
    for bad in ["aws5_request", "AWS4_REQUEST", "aws4_request/x"] {
        let mut r = header_signed();
        r.edit_auth("aws4_request", bad);
        let err = r.verify(T).expect_err(bad);
        assert_eq!(err.code, AuthorizationHeaderMalformed, "{bad}");
        assert!(
            matches!(
                err.rule,
                Rule::BadScopeTerminator | Rule::MalformedCredential
            ),
            "{bad}: {err}"
        );
    }
    let mut r = header_signed();
    r.edit_auth("aws4_request", "aws5_request");
    expect(
        r.verify(T),
        AuthorizationHeaderMalformed,
        Rule::BadScopeTerminator,
    );
}

#[test]
fn malformed_credential() {
    for (from, to) in [
        ("/us-east-1/s3/", "/us-east-1/"),
        ("/20150830/", "/2015083/"),
        ("Credential=AKIDEXAMPLE/", "Credential=/"),
        ("/s3/", "/s 3/"),
        ("Credential=AKIDEXAMPLE/", "Credential=AKIDEXAMPLE%2F"),
    ] {
        let mut r = header_signed();
        r.edit_auth(from, to);
        expect(
            r.verify(T),
            AuthorizationHeaderMalformed,
            Rule::MalformedCredential,
        );
    }
}

#[test]
fn host_not_signed() {
    let mut r = header_signed();
    r.edit_auth("SignedHeaders=host;", "SignedHeaders=");
    expect(r.verify(T), AccessDenied, Rule::HostNotSigned);
}

#[test]
fn authority_stands_for_host() {
    // HTTP/2: no Host header, the :authority the client addressed is signed.
    let mut r = header_signed();
    r.remove_header("host");
    r.authority = Some(HOST.into());
    r.verify(T).expect(":authority as host");
    r.authority = Some("other.example.com".into());
    expect(r.verify(T), SignatureDoesNotMatch, Rule::SignatureMismatch);
    r.authority = None;
    expect(
        r.verify(T),
        SignatureDoesNotMatch,
        Rule::SignedHeaderMissing,
    );
}

#[test]
fn x_amz_date_not_signed() {
    let mut r = header_signed();
    r.edit_auth(";x-amz-date,", ",");
    expect(r.verify(T), AccessDenied, Rule::DateNotSigned);
}

#[test]
fn unsigned_x_amz_header() {
    for name in [
        "x-amz-meta-added",
        "X-Amz-Acl",
        "x-amz-security-token",
        "X-AMZ-SERVER-SIDE-ENCRYPTION",
    ] {
        let mut r = header_signed();
        r.add_header(name, "v");
        expect(r.verify(T), AccessDenied, Rule::UnsignedAmzHeader);
    }
    // Other unsigned headers are fine (the gateway decides what to forward).
    let mut r = header_signed();
    r.add_header("User-Agent", "aws-cli/2.0");
    r.add_header(
        "X-Amzn-Trace-Id",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    );
    r.verify(T).expect("unsigned non-amz headers are allowed");
}

#[test]
fn signed_header_missing() {
    let mut r = header_signed();
    r.remove_header("range");
    expect(
        r.verify(T),
        SignatureDoesNotMatch,
        Rule::SignedHeaderMissing,
    );
}

#[test]
fn malformed_signed_headers() {
    for (from, to) in [
        ("SignedHeaders=host;range;", "SignedHeaders=range;host;"),
        (
            "SignedHeaders=host;range;",
            "SignedHeaders=host;host;range;",
        ),
        ("SignedHeaders=host;range;", "SignedHeaders=Host;range;"),
        ("SignedHeaders=host;range;", "SignedHeaders=host;;range;"),
        ("x-amz-date,", "x-amz-date;,"),
    ] {
        let mut r = header_signed();
        r.edit_auth(from, to);
        expect(
            r.verify(T),
            AuthorizationHeaderMalformed,
            Rule::MalformedSignedHeaders,
        );
    }
}

#[test]
fn signature_must_be_64_lowercase_hex() {
    let r = header_signed();
    let auth = r.header("authorization").to_owned();
    let sig = auth
        .rsplit("Signature=")
        .next()
        .expect("signature")
        .to_owned();
    for bad in [
        sig.to_uppercase(),
        sig[..63].to_owned(),
        format!("{sig}0"),
        format!("{}g", &sig[..63]),
        String::new(),
    ] {
        let mut m = r.clone();
        m.edit_auth(&format!("Signature={sig}"), &format!("Signature={bad}"));
        expect(
            m.verify(T),
            AuthorizationHeaderMalformed,
            Rule::MalformedSignature,
        );
    }
    // Well-formed but wrong.
    let mut m = r.clone();
    let flipped = format!(
        "{}{}",
        &sig[..63],
        if sig.ends_with('0') { '1' } else { '0' }
    );
    m.edit_auth(&sig, &flipped);
    expect(m.verify(T), SignatureDoesNotMatch, Rule::SignatureMismatch);
}

#[test]
fn authorization_header_structure() {
    let cases: [(&str, &str, ErrorCode, Rule); 7] = [
        (
            "AWS4-HMAC-SHA256 ",
            "AWS4-HMAC-SHA512 ",
            IncompleteSignature,
            Rule::UnsupportedAlgorithm,
        ),
        (
            "AWS4-HMAC-SHA256 ",
            "AWS4-ECDSA-P256-SHA256 ",
            IncompleteSignature,
            Rule::UnsupportedAlgorithm,
        ),
        (
            "Credential=",
            "Kredential=",
            AuthorizationHeaderMalformed,
            Rule::MalformedAuthorization,
        ),
        (
            ", Signature=",
            ", Signature=0, Signature=",
            AuthorizationHeaderMalformed,
            Rule::DuplicateComponent,
        ),
        (
            "SignedHeaders=",
            "SignedHeaders=host, SignedHeaders=",
            AuthorizationHeaderMalformed,
            Rule::DuplicateComponent,
        ),
        (
            ", SignedHeaders=",
            " SignedHeaders=",
            IncompleteSignature,
            Rule::MissingSignedHeaders,
        ),
        (
            ", Signature=",
            ", Junk",
            AuthorizationHeaderMalformed,
            Rule::MalformedAuthorization,
        ),
    ];
    for (from, to, code, rule) in cases {
        let mut r = header_signed();
        r.edit_auth(from, to);
        expect(r.verify(T), code, rule);
    }
    let r = header_signed();
    let auth = r.header("authorization").to_owned();
    let (before_sig, _) = auth.split_once(", Signature=").expect("sig");
    let (before_sh, _) = auth.split_once(", SignedHeaders=").expect("sh");
    let without_credential = auth.replacen(
        &auth[auth.find("Credential=").expect("cred")
            ..auth.find(", SignedHeaders").expect("sh") + 2],
        "",
        1,
    );
    for (value, rule) in [
        (before_sig.to_owned(), Rule::MissingSignature),
        (
            format!("{before_sh}, Signature={}", "0".repeat(64)),
            Rule::MissingSignedHeaders,
        ),
        (without_credential, Rule::MissingCredential),
    ] {
        let mut m = r.clone();
        m.set_header("authorization", &value);
        expect(m.verify(T), IncompleteSignature, rule);
    }
}

#[test]
fn unknown_key() {
    let mut r = header_signed();
    r.edit_auth("Credential=AKIDEXAMPLE/", "Credential=AKIDUNKNOWN/");
    expect(r.verify(T), InvalidAccessKeyId, Rule::UnknownAccessKey);
}

/// A store that answers every lookup with one error.
struct Refusing(LookupError);

struct NoKey;

impl Credential for NoKey {
    fn secret_access_key(&self) -> &[u8] {
        b""
    }
}

impl CredentialStore for Refusing {
    type Credential<'a> = NoKey;

    fn lookup(&self, _: &str, _: Option<&str>) -> Result<NoKey, LookupError> {
        Err(self.0)
    }
}

#[test]
fn store_verdicts_become_aws_codes() {
    let r = header_signed();
    for (verdict, code, rule) in [
        (LookupError::ExpiredToken, ExpiredToken, Rule::TokenExpired),
        (LookupError::InvalidToken, InvalidToken, Rule::TokenInvalid),
        (
            LookupError::UnknownAccessKey,
            InvalidAccessKeyId,
            Rule::UnknownAccessKey,
        ),
        (
            LookupError::Revoked,
            InvalidAccessKeyId,
            Rule::CredentialRevoked,
        ),
    ] {
        expect(
            r.verify_with(&Verifier::default(), T, &Refusing(verdict)),
            code,
            rule,
        );
    }
    // The session token reaches the store: ours insists on "tok".
    let mut with_token = r.clone();
    with_token.add_header("x-amz-security-token", "tok");
    with_token.edit_auth(";x-amz-date,", ";x-amz-date;x-amz-security-token,");
    expect(
        with_token.verify_with(&Verifier::default(), T, &store(Some("other"))),
        InvalidToken,
        Rule::TokenInvalid,
    );
}

#[test]
fn body_hash_needed_but_missing() {
    let mut r = header_signed();
    r.remove_header("x-amz-content-sha256");
    r.edit_auth(";x-amz-content-sha256;", ";");
    let verifier = Verifier::default();
    let pairs: Vec<(&str, &[u8])> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let view = RequestView {
        method: &r.method,
        path: &r.path,
        query: &r.query,
        headers: &pairs,
        authority: None,
        body_sha256: None,
    };
    assert!(verifier.needs_body_hash(&view));
    expect(r.verify(T), InvalidArgument, Rule::BodyHashUnavailable);
    r.body_sha256 = Some(Sha256::digest(b"").into());
    // Now the body hash is known; the signature covered a different header list.
    expect(r.verify(T), SignatureDoesNotMatch, Rule::SignatureMismatch);
}

#[test]
fn both_header_and_query_auth() {
    let p = presigned(3600);
    let mut r = header_signed();
    r.query = p.query.clone();
    expect(r.verify(T), InvalidArgument, Rule::BothHeaderAndQueryAuth);
}

#[test]
fn presigned_expires_bounds() {
    presigned(1);
    presigned(604_800);
    for bad in [0, 604_801] {
        expect(
            presigned(bad).verify(T),
            AuthorizationQueryParametersError,
            Rule::BadExpires,
        );
    }
    for bad in ["-1", "", "1e3", "3600.0", "0x10", "99999999999", " 60"] {
        let mut r = presigned(3600);
        r.edit_query("X-Amz-Expires=3600", &format!("X-Amz-Expires={bad}"));
        expect(
            r.verify(T),
            AuthorizationQueryParametersError,
            Rule::BadExpires,
        );
    }
    let mut r = presigned(3600);
    r.edit_query("&X-Amz-Expires=3600", "");
    expect(
        r.verify(T),
        AuthorizationQueryParametersError,
        Rule::BadExpires,
    );
}

#[test]
fn presigned_expired_and_not_yet_valid() {
    let r = presigned(3600);
    r.verify(T + 3600).expect("last valid second");
    expect(r.verify(T + 3601), AccessDenied, Rule::PresignedExpired);
    expect(
        r.verify(T + 86_400 * 30),
        AccessDenied,
        Rule::PresignedExpired,
    );
    r.verify(T - 900).expect("within the skew before its date");
    expect(r.verify(T - 901), AccessDenied, Rule::PresignedNotYetValid);
    let week = presigned(604_800);
    week.verify(T + 604_800).expect("seven days");
    expect(
        week.verify(T + 604_801),
        AccessDenied,
        Rule::PresignedExpired,
    );
}

#[test]
fn presigned_structure() {
    let cases: [(&str, &str, Rule); 8] = [
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-HMAC-SHA512",
            Rule::UnsupportedAlgorithm,
        ),
        (
            "X-Amz-Date=20150830T123600Z",
            "X-Amz-Date=20150830T1236Z",
            Rule::MalformedDate,
        ),
        (
            "X-Amz-Date=20150830T123600Z",
            "X-Amz-Date=20150831T123600Z",
            Rule::ScopeDateMismatch,
        ),
        ("&X-Amz-Date=20150830T123600Z", "", Rule::MissingDate),
        ("aws4_request", "aws4_requesx", Rule::BadScopeTerminator),
        (
            "X-Amz-SignedHeaders=host",
            "X-Amz-SignedHeaders=range%3Bhost",
            Rule::MalformedSignedHeaders,
        ),
        (
            "X-Amz-Signature=",
            "X-Amz-Signature=A",
            Rule::MalformedSignature,
        ),
        (
            "X-Amz-Expires=3600",
            "X-Amz-Expires=3600&X-Amz-Expires=60",
            Rule::DuplicateQueryParameter,
        ),
    ];
    for (from, to, rule) in cases {
        let mut r = presigned(3600);
        r.edit_query(from, to);
        expect(r.verify(T), AuthorizationQueryParametersError, rule);
    }
    let mut r = presigned(3600);
    r.edit_query("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date");
    expect(r.verify(T), AccessDenied, Rule::HostNotSigned);
    let mut r = presigned(3600);
    r.add_header("x-amz-meta-x", "1");
    expect(r.verify(T), AccessDenied, Rule::UnsignedAmzHeader);
    let mut r = presigned(3600);
    r.edit_query("AKIDEXAMPLE", "AKIDUNKNOWN");
    expect(r.verify(T), InvalidAccessKeyId, Rule::UnknownAccessKey);
    let mut r2 = presigned(3600);
    r2.path = "/other.txt".into();
    expect(r2.verify(T), SignatureDoesNotMatch, Rule::SignatureMismatch);
}
