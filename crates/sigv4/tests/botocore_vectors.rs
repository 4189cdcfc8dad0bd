//! Requests signed by a pinned botocore (AWS's reference signer), captured
//! as they would go on the wire by `testdata/botocore/generate.py` into
//! `testdata/botocore/vectors.json`: every one verifies, with the scope and
//! auth kind botocore used, and changing any signed part makes it fail.

mod common;

use std::path::Path;

use common::{at, TestStore};
use countersign_sigv4::{parse_amz_date, AuthKind, ErrorCode, RequestView, Verifier, VerifyError};
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Vector {
    name: String,
    auth: String,
    service: String,
    region: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    now: u64,
    store: TestStore,
}

fn vectors() -> Vec<Vector> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/botocore/vectors.json");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("vectors.json")).expect("json");
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k}")).to_owned();
    let vectors: Vec<Vector> = json["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|v| {
            let body = hex::decode(s(v, "body_hex")).expect("hex body");
            assert_eq!(
                hex::encode(Sha256::digest(&body)),
                s(v, "body_sha256"),
                "{}",
                s(v, "name")
            );
            let creds = &v["credentials"];
            Vector {
                name: s(v, "name"),
                auth: s(v, "auth"),
                service: s(v, "service"),
                region: s(v, "region"),
                method: s(v, "method"),
                path: s(v, "path"),
                query: s(v, "query"),
                headers: v["headers"]
                    .as_array()
                    .expect("headers")
                    .iter()
                    .map(|h| {
                        (
                            h[0].as_str().expect("name").to_owned(),
                            h[1].as_str().expect("value").as_bytes().to_vec(),
                        )
                    })
                    .collect(),
                body,
                now: parse_amz_date(s(v, "timestamp").as_bytes()).expect("timestamp") as u64,
                store: TestStore::new(
                    creds["access_key_id"].as_str().expect("akid"),
                    creds["secret_access_key"].as_str().expect("secret"),
                    creds["session_token"].as_str(),
                ),
            }
        })
        .collect();
    assert!(vectors.len() >= 15, "{} vectors", vectors.len());
    vectors
}

impl Vector {
    fn verify_parts(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(String, Vec<u8>)],
        body: &[u8],
    ) -> Result<(AuthKind, String, String), VerifyError> {
        let pairs: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        let view = RequestView {
            method,
            path,
            query,
            headers: &pairs,
            authority: None,
            body_sha256: Some(Sha256::digest(body).into()),
        };
        Verifier::default()
            .verify(&view, at(self.now), &self.store)
            .map(|v| {
                (
                    v.kind,
                    v.scope.service.to_owned(),
                    v.scope.region.to_owned(),
                )
            })
    }

    fn verify(&self) -> Result<(AuthKind, String, String), VerifyError> {
        self.verify_parts(
            &self.method,
            &self.path,
            &self.query,
            &self.headers,
            &self.body,
        )
    }

    /// The names botocore signed.
    fn signed_headers(&self) -> Vec<String> {
        let raw = if self.auth == "header" {
            let auth = self
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                .expect("authorization");
            let auth = String::from_utf8(auth.1.clone()).expect("utf8");
            auth.split("SignedHeaders=")
                .nth(1)
                .expect("SignedHeaders")
                .split(',')
                .next()
                .expect("list")
                .to_owned()
        } else {
            self.query
                .split('&')
                .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
                .expect("X-Amz-SignedHeaders")
                .replace("%3B", ";")
        };
        raw.split(';').map(str::to_owned).collect()
    }
}

#[test]
fn every_botocore_vector_verifies() {
    for v in vectors() {
        let (kind, service, region) = v.verify().unwrap_or_else(|e| panic!("{}: {e}", v.name));
        let expected_kind = if v.auth == "header" {
            AuthKind::Header
        } else {
            AuthKind::Query
        };
        assert_eq!(kind, expected_kind, "{}", v.name);
        assert_eq!(service, v.service, "{}", v.name);
        assert_eq!(region, v.region, "{}", v.name);
    }
}

#[test]
fn every_mutation_of_a_botocore_vector_fails() {
    let mut mutations = 0;
    for v in vectors() {
        let fails = |what: &str, r: Result<(AuthKind, String, String), VerifyError>| {
            let err = r.expect_err(&format!("{}: changed {what} must not verify", v.name));
            assert!(
                matches!(
                    err.code,
                    ErrorCode::SignatureDoesNotMatch | ErrorCode::AccessDenied
                ),
                "{}: {what}: {err}",
                v.name
            );
        };
        let other = if v.method == "GET" { "PUT" } else { "GET" };
        fails(
            "method",
            v.verify_parts(other, &v.path, &v.query, &v.headers, &v.body),
        );
        fails(
            "path",
            v.verify_parts(
                &v.method,
                &format!("{}x", v.path),
                &v.query,
                &v.headers,
                &v.body,
            ),
        );
        let query = if v.query.is_empty() {
            "zz=1".to_owned()
        } else {
            format!("{}&zz=1", v.query)
        };
        fails(
            "query",
            v.verify_parts(&v.method, &v.path, &query, &v.headers, &v.body),
        );
        // Each query pair that is not auth.
        let pairs: Vec<&str> = v.query.split('&').filter(|p| !p.is_empty()).collect();
        for (i, pair) in pairs.iter().enumerate() {
            if pair.starts_with("X-Amz-") {
                continue;
            }
            let mut changed: Vec<String> = pairs.iter().map(|p| p.to_string()).collect();
            changed[i] = format!("{pair}x");
            fails(
                &format!("query pair {pair}"),
                v.verify_parts(&v.method, &v.path, &changed.join("&"), &v.headers, &v.body),
            );
        }
        // Each signed header's value.
        for name in v.signed_headers() {
            if name == "x-amz-date" || name == "x-amz-security-token" {
                continue;
            }
            let mut headers = v.headers.clone();
            let (_, value) = headers
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                .unwrap_or_else(|| panic!("{}: {name} signed but absent", v.name));
            if name == "x-amz-content-sha256" {
                if value.len() != 64 {
                    continue; // a literal: any other value is refused by rule
                }
                let last = value.last_mut().expect("digest");
                *last = if *last == b'0' { b'1' } else { b'0' };
            } else {
                value.push(b'x');
            }
            fails(
                &format!("header {name}"),
                v.verify_parts(&v.method, &v.path, &v.query, &headers, &v.body),
            );
        }
        // The body, when the signature covers it (no payload claim).
        let claimed = v
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-content-sha256"));
        let s3_presigned = v.auth == "query" && v.service == "s3";
        if !claimed && !s3_presigned {
            fails(
                "body",
                v.verify_parts(&v.method, &v.path, &v.query, &v.headers, b"other"),
            );
        }
        // One hex digit of the signature.
        let (headers, query) = flip_signature(&v);
        fails(
            "signature",
            v.verify_parts(&v.method, &v.path, &query, &headers, &v.body),
        );
        mutations += 1;
    }
    assert!(mutations >= 15);
}

fn flip_signature(v: &Vector) -> (Vec<(String, Vec<u8>)>, String) {
    let flip = |s: &str, marker: &str| {
        let at = s.find(marker).expect("signature") + marker.len() + 10;
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).expect("ascii")
    };
    let mut headers = v.headers.clone();
    let mut query = v.query.clone();
    if v.auth == "header" {
        for (n, value) in &mut headers {
            if n.eq_ignore_ascii_case("authorization") {
                *value = flip(std::str::from_utf8(value).expect("utf8"), "Signature=").into_bytes();
            }
        }
    } else {
        query = flip(&query, "X-Amz-Signature=");
    }
    (headers, query)
}
