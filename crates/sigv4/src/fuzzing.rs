//! Entry points shared by the `cargo fuzz` targets and the stable test that
//! replays their corpus. Each one must never panic; the round trip asserts
//! its invariant with `assert!`, so a violation is a crash the fuzzer finds.

use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::canonical::{write_canonical_request, CanonicalInput};
use crate::static_keys::StaticKeys;
use crate::{PathMode, RequestView, SignedHeaders, Signer, SigningParams, Verifier};

type StaticKeysForFuzz = StaticKeys<()>;

/// 2015-08-30T12:36:00Z, the official suite's time.
const NOW_SECS: u64 = 1_440_938_160;

/// Splits fuzz input into a request: line 1 `METHOD target`, then
/// `name:value` header lines.
struct Parts {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
}

fn parts(data: &[u8]) -> Parts {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    let (method, target) = first.split_once(' ').unwrap_or(("GET", first));
    let (path, query) = RequestView::split_target(target);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.as_bytes().to_vec()))
        .collect();
    Parts {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
    }
}

fn store() -> StaticKeysForFuzz {
    let mut keys = StaticKeysForFuzz::new();
    keys.insert(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        (),
    );
    keys
}

/// Verifies a request whose `Authorization` header is the fuzz input.
pub fn authorization_header(data: &[u8]) {
    let headers = [
        ("host", &b"example.amazonaws.com"[..]),
        ("x-amz-date", &b"20150830T123600Z"[..]),
        ("authorization", data),
    ];
    let view = RequestView {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        authority: None,
        body_sha256: Some([0; 32]),
    };
    let _ = Verifier::default().verify(&view, UNIX_EPOCH + Duration::from_secs(NOW_SECS), &store());
}

/// Verifies a presigned request whose query string is the fuzz input.
pub fn query_auth(data: &[u8]) {
    let query = String::from_utf8_lossy(data);
    let headers = [("host", &b"example.amazonaws.com"[..])];
    let view = RequestView {
        method: "GET",
        path: "/",
        query: &query,
        headers: &headers,
        authority: None,
        body_sha256: Some([0; 32]),
    };
    let verifier = Verifier::default();
    let _ = verifier.needs_body_hash(&view);
    let _ = verifier.verify(&view, UNIX_EPOCH + Duration::from_secs(NOW_SECS), &store());
}

/// Builds the canonical request of arbitrary parts in both path modes,
/// streamed and buffered, and checks the two agree.
pub fn canonical_request(data: &[u8]) {
    let p = parts(data);
    let headers: Vec<(&str, &[u8])> = p
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let mut names: Vec<String> = p
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let signed = names.join(";");
    let view = RequestView {
        method: &p.method,
        path: &p.path,
        query: &p.query,
        headers: &headers,
        authority: Some("example.amazonaws.com"),
        body_sha256: None,
    };
    for mode in [PathMode::S3, PathMode::Normalized] {
        let input = CanonicalInput {
            view: &view,
            signed_headers: SignedHeaders::trusted(&signed),
            payload_hash: b"UNSIGNED-PAYLOAD",
            path_mode: mode,
            skip_signature_param: true,
            extra_headers: &[],
        };
        let mut buffered = Vec::new();
        write_canonical_request(&mut buffered, &input);
        let mut streamed = Sha256::new();
        write_canonical_request(&mut streamed, &input);
        assert_eq!(Sha256::digest(&buffered), streamed.finalize());
    }
}

/// Signs arbitrary parts with our signer and checks that the result
/// verifies, and that changing the method, a signed header value or the
/// path makes it fail.
pub fn round_trip(data: &[u8]) {
    let p = parts(data);
    // Only well-formed requests: a token method, header names that are
    // tokens and not auth headers, values without line breaks.
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if !is_token(&p.method) || !p.path.starts_with('/') {
        return;
    }
    let headers: Vec<(String, Vec<u8>)> = p
        .headers
        .into_iter()
        .filter(|(n, v)| {
            is_token(n)
                && !v.iter().any(|&b| b == b'\r' || b == b'\n')
                && ![
                    "authorization",
                    "x-amz-date",
                    "x-amz-security-token",
                    "x-amz-content-sha256",
                    "host",
                ]
                .iter()
                .any(|own| n.eq_ignore_ascii_case(own))
        })
        .chain(std::iter::once((
            "host".to_owned(),
            b"example.amazonaws.com".to_vec(),
        )))
        .collect();
    let now = UNIX_EPOCH + Duration::from_secs(NOW_SECS);
    for (service, mode) in [("s3", PathMode::S3), ("service", PathMode::Normalized)] {
        let borrowed: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let view = RequestView {
            method: &p.method,
            path: &p.path,
            query: &p.query,
            headers: &borrowed,
            authority: None,
            body_sha256: Some([7; 32]),
        };
        let params = SigningParams {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            session_token: None,
            region: "us-east-1",
            service,
            time: now,
        };
        let payload = crate::PayloadHash::Sha256([7; 32]).to_canonical_string();
        let out = Signer::default().sign(&view, &payload, mode, &params);
        if query_contains_presign(&p.query) {
            return;
        }
        let mut signed: Vec<(&str, &[u8])> = borrowed.clone();
        signed.push(("x-amz-date", out.x_amz_date.as_bytes()));
        signed.push(("authorization", out.authorization.as_bytes()));
        let good = RequestView {
            headers: &signed,
            ..view
        };
        let verifier = Verifier::default();
        let keys = store();
        let result = verifier.verify(&good, now, &keys);
        assert!(result.is_ok(), "own signature must verify: {result:?}");

        let other_method = if p.method == "PUT" { "GET" } else { "PUT" };
        let bad = RequestView {
            method: other_method,
            ..good
        };
        assert!(
            verifier.verify(&bad, now, &keys).is_err(),
            "changed method must not verify"
        );

        let longer_path = format!("{}/z", p.path);
        let bad = RequestView {
            path: &longer_path,
            ..good
        };
        assert!(
            verifier.verify(&bad, now, &keys).is_err(),
            "changed path must not verify"
        );

        // Change the first visible byte of the first non-empty header value.
        let mut mutated = signed.clone();
        let mut changed_value = Vec::new();
        if let Some((i, (_, v))) = mutated
            .iter()
            .enumerate()
            .find(|(_, (n, v))| *n != "authorization" && v.iter().any(|b| !b.is_ascii_whitespace()))
        {
            changed_value = v.to_vec();
            if let Some(b) = changed_value.iter_mut().find(|b| !b.is_ascii_whitespace()) {
                *b = if *b == b'x' { b'y' } else { b'x' };
            }
            mutated[i].1 = &changed_value;
        }
        if !changed_value.is_empty() {
            let bad = RequestView {
                headers: &mutated,
                ..good
            };
            assert!(
                verifier.verify(&bad, now, &keys).is_err(),
                "changed header must not verify"
            );
        }
    }
}

fn query_contains_presign(query: &str) -> bool {
    query.split('&').any(|p| p.starts_with("X-Amz-Algorithm"))
}
