//! Coverage against botocore itself: one request per operation per protocol,
//! serialized by the pinned botocore (tools/fixtures.py), must classify to the
//! operation botocore built it for. Target: >= 99.5% overall and per protocol.

use std::collections::BTreeMap;
use std::io::Read;

use countersign_catalog::{Catalog, Outcome, RequestView};

const TARGET: f64 = 99.5;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn sdk_fixtures_classify_to_their_operation() {
    let gz = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sdk.jsonl.gz"
    ))
    .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let catalog = Catalog::load().unwrap();
    let mut per: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    // Byte-identical requests (rds/docdb/neptune, deprecated aliases such as
    // GetBucketLifecycle/GetBucketLifecycleConfiguration) cannot be told
    // apart by anyone: any of their (service, operation) pairs is right.
    let fixtures: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let key = |f: &serde_json::Value| {
        let mut k = f.clone();
        let o = k.as_object_mut().unwrap();
        for field in ["service", "operation", "protocol"] {
            o.remove(field);
        }
        k.to_string()
    };
    let mut same: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for f in &fixtures {
        same.entry(key(f)).or_default().push((
            f["service"].as_str().unwrap().to_string(),
            f["operation"].as_str().unwrap().to_string(),
        ));
    }
    let mut identical = 0;
    let iam_prefix: std::collections::HashMap<&str, &str> =
        catalog.services().map(|s| (s.name, s.iam_prefix)).collect();
    for f in &fixtures {
        let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = f["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let hrefs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let body = match f.get("body_hex") {
            Some(h) => hex(h.as_str().unwrap()),
            None => s("body").into_bytes(),
        };
        let (method, host, path, query, scope) =
            (s("method"), s("host"), s("path"), s("query"), s("scope"));
        let view = RequestView {
            method: &method,
            host: &host,
            path: &path,
            query: &query,
            headers: &hrefs,
            body: &body,
            body_complete: true,
            service: &scope,
            region: "us-east-1",
            account: "123456789012",
        };
        let (svc, op, proto) = (s("service"), s("operation"), s("protocol"));
        let e = per.entry(proto.clone()).or_default();
        e.0 += 1;
        let accept = &same[&key(f)];
        if accept.len() > 1 {
            identical += 1;
        }
        match catalog.classify(&view) {
            // Or the same operation of another service with the same signing
            // name, endpoint and IAM action (docdb/neptune/rds, greengrass v1/v2,
            // wisdom/qconnect), told apart only by which members the body has.
            Outcome::Known(c)
                if accept
                    .iter()
                    .any(|(s, o)| s == c.service && o == c.operation)
                    || (c.operation == op
                        && c.actions[0].name == format!("{}:{op}", iam_prefix[svc.as_str()])) =>
            {
                e.1 += 1;
                if c.service == svc && c.operation == op {
                    e.2 += 1;
                }
            }
            other => failures.push(format!(
                "{svc} {proto} {op}: {method} {path}?{query} -> {:?}",
                other.known().map(|c| (c.service, c.operation))
            )),
        }
    }
    let (mut total, mut ok) = (0, 0);
    println!("coverage per protocol (correct / exactly the fixture's own service and operation):");
    let mut below = Vec::new();
    for (p, (n, good, strict)) in &per {
        let pct = 100.0 * *good as f64 / *n as f64;
        println!(
            "  {p:<20} {good:>6}/{n:<6} {pct:6.2}%   (exact: {:.2}%)",
            100.0 * *strict as f64 / *n as f64
        );
        if pct < TARGET {
            below.push(p.clone());
        }
        total += n;
        ok += good;
    }
    let pct = 100.0 * ok as f64 / total as f64;
    println!("  {:<20} {ok:>6}/{total:<6} {pct:6.2}%", "overall");
    println!("  ({identical} fixtures are byte-identical to another operation's request)");
    for f in failures.iter().take(60) {
        println!("FAIL {f}");
    }
    assert!(
        pct >= TARGET && below.is_empty(),
        "coverage below {TARGET}%: {below:?}, overall {pct:.2}%"
    );
}
