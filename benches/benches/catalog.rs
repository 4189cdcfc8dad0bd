//! Service catalog: classification per request, and loading at start.

use std::hint::black_box;
use std::time::Instant;

use countersign_catalog::{Catalog, RequestView};
use criterion::{criterion_group, criterion_main, Criterion};

fn view<'a>(
    method: &'a str,
    host: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
    service: &'a str,
) -> RequestView<'a> {
    RequestView {
        method,
        host,
        path,
        query,
        headers,
        body,
        body_complete: true,
        service,
        region: "us-east-1",
        account: "111122223333",
    }
}

fn classify(c: &mut Criterion) {
    let catalog = Catalog::global();
    // A realistic SDK header set (signed headers are all there).
    let s3_headers: &[(&str, &str)] = &[
        ("host", "x"),
        ("x-amz-date", "20240101T000000Z"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0"),
        ("user-agent", "aws-sdk-rust/1.0"),
    ];
    let mut item = String::from(r#"{"TableName":"Orders","Key":{"pk":{"S":""#);
    while item.len() < 1000 {
        item.push('x');
    }
    item.push_str(r#""}},"ConsistentRead":true}"#);
    let ddb_headers: &[(&str, &str)] = &[
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", "DynamoDB_20120810.GetItem"),
        ("x-amz-date", "20240101T000000Z"),
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0"),
    ];
    let sqs_headers: &[(&str, &str)] = &[
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("x-amz-date", "20240101T000000Z"),
    ];
    let sqs_body = b"Action=SendMessage&Version=2012-11-05&QueueUrl=https%3A%2F%2Fsqs.us-east-1.amazonaws.com%2F111122223333%2Fjobs&MessageBody=hello";

    let cases = [
        (
            "s3_get_object_virtual_host",
            view(
                "GET",
                "my-bucket.s3.us-east-1.amazonaws.com",
                "/photos/2024/cat.jpg",
                "",
                s3_headers,
                b"",
                "s3",
            ),
        ),
        (
            "s3_get_object_path_style",
            view(
                "GET",
                "s3.us-east-1.amazonaws.com",
                "/my-bucket/photos/2024/cat.jpg",
                "",
                s3_headers,
                b"",
                "s3",
            ),
        ),
        (
            "dynamodb_get_item_1k",
            view(
                "POST",
                "dynamodb.us-east-1.amazonaws.com",
                "/",
                "",
                ddb_headers,
                item.as_bytes(),
                "dynamodb",
            ),
        ),
        (
            "sqs_query_send_message",
            view(
                "POST",
                "sqs.us-east-1.amazonaws.com",
                "/",
                "",
                sqs_headers,
                sqs_body,
                "sqs",
            ),
        ),
        // REST-JSON, three labels: API Gateway v2 GetIntegrationResponse
        // /v2/apis/{ApiId}/integrations/{IntegrationId}/integrationresponses/{IntegrationResponseId}
        (
            "rest_json_three_labels",
            view(
                "GET",
                "apigateway.us-east-1.amazonaws.com",
                "/v2/apis/a1b2c3/integrations/i-42/integrationresponses/r-7",
                "",
                s3_headers,
                b"",
                "apigateway",
            ),
        ),
    ];
    let mut group = c.benchmark_group("classify");
    // Baseline measured in the same run: the unavoidable output work of
    // one classification (format one ARN, one Vec of it), to read the
    // figures against on a loaded machine.
    group.bench_function("baseline_format_arn", |b| {
        b.iter(|| {
            let (bucket, key) = black_box(("my-bucket", "photos/2024/cat.jpg"));
            black_box(vec![format!("arn:aws:s3:::{bucket}/{key}")])
        })
    });
    for (name, req) in &cases {
        assert!(catalog.classify(req).known().is_some(), "{name} classifies");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(catalog.classify(black_box(req))))
        });
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let t = Instant::now();
    let cat = Catalog::load().unwrap();
    eprintln!(
        "catalog load (first, cold): {:?}, {} services, {} operations",
        t.elapsed(),
        cat.service_count(),
        cat.operation_count()
    );
    let mut group = c.benchmark_group("catalog_load");
    group.sample_size(10);
    group.bench_function("load", |b| b.iter(|| black_box(Catalog::load().unwrap())));
    group.finish();
}

criterion_group!(benches, classify, load);
criterion_main!(benches);
