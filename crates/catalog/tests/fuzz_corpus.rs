//! Replays every file of the committed fuzz seed corpus
//! (`fuzz/corpus/catalog_classify/`) through the function the cargo-fuzz
//! target calls, on stable Rust, with a time bound per input.

use std::time::{Duration, Instant};

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

#[test]
fn replay_fuzz_corpus() {
    let files = corpus_replay::corpus_files("catalog_classify", 8);
    let n = files.len();
    for path in files {
        let data = std::fs::read(&path).unwrap();
        let t = Instant::now();
        countersign_catalog::fuzz_classify(&data);
        // Generous: the first call also loads the catalog (debug build).
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{path:?} took {:?}",
            t.elapsed()
        );
    }
    println!("replayed {n} corpus files");
}

#[test]
fn raw_http_request_is_classified() {
    let raw = b"PUT /dst/k HTTP/1.1\r\nHost: s3.us-west-2.amazonaws.com\r\nx-amz-copy-source: src/a%20b\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-west-2/s3/aws4_request, SignedHeaders=host, Signature=00\r\nContent-Length: 0\r\n\r\n";
    let mut req = countersign_catalog::parse_http_request(raw).unwrap();
    assert_eq!(
        (req.service.as_str(), req.region.as_str()),
        ("s3", "us-west-2")
    );
    req.account = "111122223333".into();
    let out = req.classify(countersign_catalog::Catalog::global());
    let c = out.known().unwrap();
    assert_eq!(c.operation, "CopyObject");
    assert_eq!(
        c.resources(),
        ["arn:aws:s3:::dst/k", "arn:aws:s3:::src/a b"]
    );
    assert!(countersign_catalog::parse_http_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_err());
}

#[test]
fn loads_the_whole_catalog() {
    // Load time and memory are measured in `benches/benches/catalog.rs`, not
    // here: a test process runs other tests beside this one, so its RSS and
    // clock say nothing reliable.
    let c = countersign_catalog::Catalog::load().unwrap();
    assert!(c.operation_count() > 19_000);
}
