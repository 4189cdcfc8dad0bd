//! Policy engine: our compiled evaluator against the `iam-rs` crate (peer
//! baseline, MIT) on the same policies and the same request, at 1, 10, 100
//! and 1,000 statements; plus compiling a 1,000-statement set.
//!
//! Both sides get their policies parsed and their request built before the
//! timed loop, so the loop measures evaluation alone. The policies mix
//! literal and wildcard actions and resources, conditions on
//! `aws:SourceIp`, `aws:CurrentTime` and `s3:prefix`, and Deny statements.
//! The request is allowed by the last statement of its kind, so neither
//! engine can stop early.

use std::hint::black_box;

use countersign_policy::{CompiledPolicy, Outcome, PolicyDocument, RequestContext};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Statement `i` of the generated policy; five shapes in rotation.
fn statement(i: usize) -> String {
    match i % 5 {
        0 => format!(
            r#"{{"Sid":"Read{i}","Effect":"Allow","Action":["s3:GetObject","s3:List*"],"Resource":"arn:aws:s3:::bucket-{i}/*","Condition":{{"IpAddress":{{"aws:SourceIp":"10.{}.0.0/16"}}}}}}"#,
            i % 256
        ),
        1 => format!(
            r#"{{"Sid":"Describe{i}","Effect":"Allow","Action":"ec2:Describe*","Resource":"*","Condition":{{"DateLessThan":{{"aws:CurrentTime":"2030-01-01T00:00:00Z"}},"DateGreaterThan":{{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}}}}"#
        ),
        2 => format!(
            r#"{{"Sid":"List{i}","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::bucket-{i}","Condition":{{"StringLike":{{"s3:prefix":["home/user{i}/*","public/*"]}}}}}}"#
        ),
        3 => format!(
            r#"{{"Sid":"NoDelete{i}","Effect":"Deny","Action":["s3:DeleteObject","s3:PutBucketPolicy"],"Resource":"arn:aws:s3:::bucket-{i}*"}}"#
        ),
        _ => format!(
            r#"{{"Sid":"Table{i}","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/t{i}"}}"#
        ),
    }
}

fn policy_json(statements: usize) -> String {
    let body: Vec<String> = (0..statements).map(statement).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        body.join(",")
    )
}

/// The request: `s3:GetObject` on the bucket of the last `Read` statement.
fn request_parts(statements: usize) -> (String, String, String) {
    let last_read = (statements - 1) / 5 * 5;
    (
        "s3:GetObject".to_owned(),
        format!("arn:aws:s3:::bucket-{last_read}/reports/2024.csv"),
        format!("10.{}.3.4", last_read % 256),
    )
}

const NOW: &str = "2025-06-01T12:00:00Z";
const PREFIX: &str = "home/user2/";

fn evaluate(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluate");
    for &n in &[1usize, 10, 100, 1000] {
        let json = policy_json(n);
        let (action, resource, ip) = request_parts(n);

        let doc = PolicyDocument::parse(&json).expect("generated policy parses");
        let ours = CompiledPolicy::compile([("bench", &doc)]).expect("compiles");
        let mut ctx = RequestContext::for_request(action.as_str(), resource.as_str());
        ctx.set("aws:SourceIp", ip.as_str())
            .set("aws:CurrentTime", NOW)
            .set("s3:prefix", PREFIX);
        assert_eq!(ours.evaluate(&ctx).outcome, Outcome::Allow, "ours at {n}");

        let theirs_policy = iam_rs::IAMPolicy::from_json(&json).expect("iam-rs parses");
        let theirs = iam_rs::PolicyEvaluator::with_policies(vec![theirs_policy]).with_options(
            iam_rs::EvaluationOptions {
                max_statements: usize::MAX,
                ..iam_rs::EvaluationOptions::default()
            },
        );
        let context = iam_rs::Context::new()
            .with_string("aws:SourceIp", ip.as_str())
            .with_string("aws:CurrentTime", NOW)
            .with_string("s3:prefix", PREFIX);
        let request = iam_rs::IAMRequest::new_with_context(
            iam_rs::Principal::Aws(iam_rs::PrincipalId::String(
                "arn:aws:iam::123456789012:user/alice".into(),
            )),
            action.as_str(),
            iam_rs::Arn::parse(&resource).expect("valid ARN"),
            context,
        );
        let decision = theirs
            .evaluate(&request)
            .expect("iam-rs evaluates")
            .decision;
        assert_eq!(decision, iam_rs::Decision::Allow, "iam-rs at {n}");

        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("countersign", n), &n, |b, _| {
            b.iter(|| black_box(&ours).evaluate(black_box(&ctx)))
        });
        group.bench_with_input(BenchmarkId::new("iam-rs", n), &n, |b, _| {
            b.iter(|| black_box(&theirs).evaluate(black_box(&request)))
        });
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(20);
    let json = policy_json(1000);
    let doc = PolicyDocument::parse(&json).expect("generated policy parses");
    group.bench_function("compile/1000", |b| {
        b.iter(|| CompiledPolicy::compile([("bench", black_box(&doc))]).expect("compiles"))
    });
    group.bench_function("parse+compile/1000", |b| {
        b.iter(|| {
            let doc = PolicyDocument::parse(black_box(&json)).expect("parses");
            CompiledPolicy::compile([("bench", &doc)]).expect("compiles")
        })
    });
    group.finish();
}

criterion_group!(benches, evaluate, compile);
criterion_main!(benches);
