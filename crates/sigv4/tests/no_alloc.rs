//! Steady-state verification performs no heap allocation: with the signing
//! key cached and the thread-local scratch space warmed by a first call,
//! verifying the same request again allocates nothing. Counted with `dhat`'s
//! global allocator (no `unsafe` in our code); one test in this file so that
//! nothing else allocates while it measures.

mod common;

use common::{at, TestStore};
use countersign_sigv4::{PathMode, RequestView, Signer, SigningParams, Verifier};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const AKID: &str = "ASIAEXAMPLEEXAMPLE01";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const T: u64 = 1_440_938_160;
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Signs `headers` (all of them) and returns them with `x-amz-date` and
/// `authorization` appended, plus an unsigned `user-agent`.
fn signed(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &[u8])],
    service: &str,
    token: Option<&str>,
) -> Vec<(String, Vec<u8>)> {
    let view = RequestView {
        method,
        path,
        query,
        headers,
        authority: None,
        body_sha256: None,
    };
    let params = SigningParams {
        access_key_id: AKID,
        secret_access_key: SECRET,
        session_token: token,
        region: "us-east-1",
        service,
        time: at(T),
    };
    let out = Signer::default().sign(&view, EMPTY_SHA, PathMode::for_service(service), &params);
    let mut all: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_vec()))
        .collect();
    if let Some(t) = out.security_token {
        all.push(("x-amz-security-token".into(), t.into_bytes()));
    }
    all.push(("x-amz-date".into(), out.x_amz_date.into_bytes()));
    all.push(("authorization".into(), out.authorization.into_bytes()));
    all.push((
        "user-agent".into(),
        b"aws-sdk-rust/1.3.0 os/linux lang/rust/1.85.0".to_vec(),
    ));
    all
}

/// Heap blocks allocated by the second of two verifications of `view`.
fn blocks_of_second_verify(verifier: &Verifier, view: &RequestView<'_>, store: &TestStore) -> u64 {
    let first = verifier.verify(view, at(T), store);
    assert!(first.is_ok(), "{first:?}");
    drop(first);
    let before = dhat::HeapStats::get();
    let second = verifier.verify(view, at(T), store);
    let after = dhat::HeapStats::get();
    assert!(second.is_ok(), "{second:?}");
    drop(second);
    after.total_blocks - before.total_blocks
}

#[test]
fn steady_state_verification_does_not_allocate() {
    let _profiler = dhat::Profiler::builder().testing().build();
    // The counter sees allocations at all.
    let before = dhat::HeapStats::get();
    let probe = std::hint::black_box(vec![1u8; 10]);
    assert_eq!(dhat::HeapStats::get().total_blocks - before.total_blocks, 1);
    drop(probe);

    let token = "IQoJb3JpZ2luX2VjEMr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ".repeat(7);
    let store = TestStore::new(AKID, SECRET, Some(&token));
    let verifier = Verifier::default();

    // S3 GetObject, header auth, with a session token the store checks.
    let headers: [(&str, &[u8]); 3] = [
        ("host", b"examplebucket.s3.us-east-1.amazonaws.com"),
        ("range", b"bytes=0-1048575"),
        ("x-amz-content-sha256", EMPTY_SHA.as_bytes()),
    ];
    let all = signed(
        "GET",
        "/photos/2015/08/30/image.jpg",
        "",
        &headers,
        "s3",
        Some(&token),
    );
    let pairs: Vec<(&str, &[u8])> = all
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let view = RequestView {
        method: "GET",
        path: "/photos/2015/08/30/image.jpg",
        query: "",
        headers: &pairs,
        authority: None,
        body_sha256: None,
    };
    assert_eq!(
        blocks_of_second_verify(&verifier, &view, &store),
        0,
        "S3 GetObject"
    );

    // A query-protocol call with parameters to sort and re-encode, a
    // normalised path, repeated and padded headers, and a body hash.
    let headers: [(&str, &[u8]); 4] = [
        ("host", b"sts.amazonaws.com"),
        (
            "content-type",
            b"application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("x-amz-meta-a", b"  one   two "),
        ("x-amz-meta-a", b"three"),
    ];
    let query = "Version=2011-06-15&Action=GetCallerIdentity&b=%e1%88%b4&a=x+y&a=&flag";
    let all = signed(
        "POST",
        "/a/./b/../c//",
        query,
        &headers,
        "sts",
        Some(&token),
    );
    let pairs: Vec<(&str, &[u8])> = all
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let view = RequestView {
        method: "POST",
        path: "/a/./b/../c//",
        query,
        headers: &pairs,
        authority: None,
        body_sha256: Some([0xe3; 32]),
    };
    let mut bad = view;
    bad.body_sha256 = None;
    assert!(verifier.needs_body_hash(&bad));
    // Signed with EMPTY_SHA as the payload hash: give the matching digest.
    let mut digest = [0u8; 32];
    hex::decode_to_slice(EMPTY_SHA, &mut digest).expect("hex");
    let view = RequestView {
        body_sha256: Some(digest),
        ..view
    };
    assert_eq!(
        blocks_of_second_verify(&verifier, &view, &store),
        0,
        "STS query call"
    );

    // A presigned S3 URL without a session token.
    let no_token = TestStore::new(AKID, SECRET, None);
    let presigned = presign(
        "/photos/image.jpg",
        "response-content-type=image%2Fjpeg",
        None,
    );
    let host: [(&str, &[u8]); 1] = [("host", b"examplebucket.s3.us-east-1.amazonaws.com")];
    let view = RequestView {
        method: "GET",
        path: "/photos/image.jpg",
        query: &presigned,
        headers: &host,
        authority: None,
        body_sha256: None,
    };
    assert_eq!(
        blocks_of_second_verify(&verifier, &view, &no_token),
        0,
        "presigned"
    );

    // With a session token the URL carries it percent-encoded, and the
    // decoded copy handed to the store and returned in `Verified` is the one
    // allocation (a token without escapes is borrowed).
    let presigned = presign("/photos/image.jpg", "", Some(&token));
    let view = RequestView {
        query: &presigned,
        ..view
    };
    assert_eq!(
        blocks_of_second_verify(&verifier, &view, &store),
        1,
        "presigned + token"
    );
}

/// A presigned S3 URL query, signed with the verifier's own explanation.
fn presign(path: &str, extra: &str, token: Option<&str>) -> String {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    let mut query = String::new();
    if !extra.is_empty() {
        query.push_str(extra);
        query.push('&');
    }
    query.push_str(&format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F20150830%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20150830T123600Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
    ));
    if let Some(t) = token {
        let enc: String = t
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        query.push_str(&format!("&X-Amz-Security-Token={enc}"));
    }
    let host: [(&str, &[u8]); 1] = [("host", b"examplebucket.s3.us-east-1.amazonaws.com")];
    let placeholder = format!("{query}&X-Amz-Signature={}", "0".repeat(64));
    let view = RequestView {
        method: "GET",
        path,
        query: &placeholder,
        headers: &host,
        authority: None,
        body_sha256: None,
    };
    let sts = Verifier::default()
        .explain(&view, at(T))
        .expect("explain")
        .string_to_sign;
    let key =
        countersign_sigv4::derive_signing_key(SECRET.as_bytes(), "20150830", "us-east-1", "s3");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(sts.as_bytes());
    format!(
        "{query}&X-Amz-Signature={}",
        hex::encode(mac.finalize().into_bytes())
    )
}
