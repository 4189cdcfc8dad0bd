//! SigV4 verification: our full verification against the `aws-sigv4` crate
//! signing the same request (peer baseline) and the physical floor (one
//! SHA-256 of the canonical request plus one HMAC-SHA256 of the string to
//! sign), all in one run.
//!
//! The request is a typical S3 GetObject signed in the header: `host`,
//! `range`, `x-amz-content-sha256`, `x-amz-date` and a ~400-character
//! `x-amz-security-token` signed; `user-agent` present and not signed. The
//! credential store checks the session token on every call, as a real one
//! would; the verifier's signing-key cache is warm.

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use countersign_sigv4::{derive_signing_key, RequestView, Verifier};
use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const AKID: &str = "ASIAY34FZKBOKMUTVV7A";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOST: &str = "examplebucket.s3.us-east-1.amazonaws.com";
const PATH: &str = "/photos/2024/08/30/IMG_0042.jpg";
const RANGE: &str = "bytes=0-1048575";
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const USER_AGENT: &str = "aws-sdk-rust/1.3.0 ua/2.1 api/s3/1.50.0 os/linux lang/rust/1.85.0";

/// A session token of realistic length (STS tokens run 400-1000 characters).
fn token() -> String {
    let mut t = String::from("IQoJb3JpZ2luX2VjEMr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD");
    while t.len() < 400 {
        t.push_str("x8Jq3lF0r+Zk2WbN7uPv/Ye1Tq9Hs4Md6Ag5Rc0Lo=");
    }
    t.truncate(400);
    t
}

fn s3_settings() -> SigningSettings {
    let mut s = SigningSettings::default();
    s.percent_encoding_mode = PercentEncodingMode::Single;
    s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    s
}

/// aws-sigv4 signing the request: what the SDK does per request.
fn aws_sign(identity: &Identity, time: SystemTime) -> String {
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region("us-east-1")
        .name("s3")
        .time(time)
        .settings(s3_settings())
        .build()
        .expect("params")
        .into();
    let headers = [("host", HOST), ("range", RANGE), ("user-agent", USER_AGENT)];
    let request = SignableRequest::new(
        "GET",
        format!("https://{HOST}{PATH}"),
        headers.into_iter(),
        SignableBody::Precomputed(EMPTY_SHA.to_owned()),
    )
    .expect("signable");
    let (instructions, signature) = sign(request, &params).expect("sign").into_parts();
    drop(instructions);
    signature
}

fn verify(c: &mut Criterion) {
    let time = UNIX_EPOCH + Duration::from_secs(1_725_021_000);
    let token = token();
    let identity: Identity =
        Credentials::new(AKID, SECRET, Some(token.clone()), None, "bench").into();

    // The request as the client sends it, signed by aws-sigv4.
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(time)
        .settings(s3_settings())
        .build()
        .expect("params")
        .into();
    let signable = SignableRequest::new(
        "GET",
        format!("https://{HOST}{PATH}"),
        [("host", HOST), ("range", RANGE), ("user-agent", USER_AGENT)].into_iter(),
        SignableBody::Precomputed(EMPTY_SHA.to_owned()),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut owned: Vec<(String, Vec<u8>)> = vec![
        ("Host".into(), HOST.into()),
        ("Range".into(), RANGE.into()),
        ("User-Agent".into(), USER_AGENT.into()),
    ];
    for (name, value) in instructions.headers() {
        owned.push((name.to_owned(), value.as_bytes().to_vec()));
    }
    let headers: Vec<(&str, &[u8])> = owned
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let view = RequestView {
        method: "GET",
        path: PATH,
        query: "",
        headers: &headers,
        authority: None,
        body_sha256: None,
    };
    let store = countersign_benches::TokenKeys::one(AKID, SECRET.as_bytes(), &token);
    let verifier = Verifier::default();
    let verified = verifier
        .verify(&view, time, &store)
        .expect("the aws-sigv4-signed request verifies");
    assert_eq!(
        verified.signed_headers.as_raw(),
        "host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token"
    );

    // The floor's precomputed inputs: the canonical request and the string
    // to sign exactly as verification builds them, and the HMAC already
    // keyed with the signing key (verification clones a keyed HMAC too).
    let explained = verifier.explain(&view, time).expect("explain");
    let creq = explained.canonical_request.into_bytes();
    let sts_prefix = {
        let sts = explained.string_to_sign;
        let cut = sts.rfind('\n').expect("sts") + 1;
        sts.as_bytes()[..cut].to_vec()
    };
    let key = derive_signing_key(SECRET.as_bytes(), "20240830", "us-east-1", "s3");
    let keyed = Hmac::<Sha256>::new_from_slice(&key).expect("key");

    let mut group = c.benchmark_group("verify");
    group.bench_function("countersign", |b| {
        b.iter(|| {
            let v = verifier.verify(black_box(&view), black_box(time), &store);
            black_box(v.is_ok())
        })
    });
    group.bench_function("aws_sigv4_sign", |b| {
        b.iter(|| black_box(aws_sign(black_box(&identity), black_box(time))))
    });
    group.bench_function("floor", |b| {
        b.iter(|| {
            let digest = Sha256::digest(black_box(&creq));
            let mut hex = [0u8; 64];
            for (i, byte) in digest.iter().enumerate() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                hex[2 * i] = HEX[(byte >> 4) as usize];
                hex[2 * i + 1] = HEX[(byte & 15) as usize];
            }
            let mut mac = black_box(&keyed).clone();
            mac.update(black_box(&sts_prefix));
            mac.update(&hex);
            black_box(mac.finalize().into_bytes())
        })
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
