//! The whole authorization decision for one request, against verification
//! alone on the same request (issue 6).
//!
//! Two requests, both signed in the header with credentials issued by an
//! [`Authority`] (`x-amz-security-token` signed): an S3 GetObject
//! (path-style, empty-body hash) and a DynamoDB GetItem (JSON body, its real
//! SHA-256 as `x-amz-content-sha256`). The principal's standing policy
//! allows both calls; the credentials also carry one active just-in-time
//! grant, so the effective policy comes from the authority's compiled
//! (standing + grant) cache rather than the standing-only shortcut.
//!
//! Three functions per request:
//! - `verify_only`: [`Verifier::verify`] with a static store that holds the
//!   same secret under the same access key id and compares the session
//!   token (the verification bench's store): the baseline.
//! - `verify_issued`: the same verification with the gateway's lookup for
//!   issued credentials (`Authority::session`: SHA-256 of the token, session
//!   cache hit, expiry/revocation/epoch checks against the snapshot).
//! - `decision`: `verify_issued`, then classification by the service
//!   catalog (converted to owned actions and condition keys as the
//!   pipeline's Classify stage does), then
//!   [`countersign_gateway::decide::evaluate_call`], the evaluation the
//!   Authorize stage runs (global condition keys + effective policy).
//! - `overhead_paired`: `decision` minus `verify_only`, timed in alternating
//!   batches so that a shared machine's drifting load cancels out.
//!
//! Group `decision_parts` times classification, `Authority::effective_policy`
//! and `evaluate_call` on their own, to show where the decision's time goes.
//!
//! Every cache (signing key, session, effective policy) is warm before
//! timing, and each decision is asserted to be Allow by the expected
//! standing statement.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use countersign_catalog::Catalog;
use countersign_gateway::decide::{evaluate_call, evaluate_session, CallFacts};
use countersign_gateway::ClientInfo;
use countersign_identity::authority::AuthorityOptions;
use countersign_identity::credentials::is_issued;
use countersign_identity::directory::{Approval, GroupSpec, PrincipalKind, PrincipalSpec, Role};
use countersign_identity::grants::{approve, request, GrantRequest};
use countersign_identity::{Authority, Directory, KeyRing, KeyState, Session, Snapshot};
use countersign_policy::{Outcome, PolicyDocument};
use countersign_sigv4::{
    unix_seconds, Credential, CredentialStore, LookupError, PathMode, RequestView, Signer,
    SigningParams, Verifier,
};
use criterion::{criterion_group, criterion_main, Criterion};
use sha2::{Digest, Sha256};

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";
const PRINCIPAL: &str = "reports-job";
const STANDING: &str = "reports-read";
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Iterations per side in one pair of `overhead_paired` batches.
const PAIR_BATCH: u64 = 64;
const USER_AGENT: &str = "aws-sdk-rust/1.3.0 ua/2.1 api/s3/1.50.0 os/linux lang/rust/1.85.0";

/// Standing policy of the bench principal: S3 and DynamoDB reads on named
/// resources, a prefix-conditioned ListBucket and an explicit Deny, so the
/// compiled set has more than the one statement that decides.
const STANDING_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ReadReports", "Effect": "Allow",
     "Action": ["s3:GetObject", "s3:GetObjectVersion"],
     "Resource": "arn:aws:s3:::reports-bucket/*"},
    {"Sid": "ListReports", "Effect": "Allow", "Action": "s3:ListBucket",
     "Resource": "arn:aws:s3:::reports-bucket",
     "Condition": {"StringLike": {"s3:prefix": ["2024/*", "2025/*"]}}},
    {"Sid": "ReadOrders", "Effect": "Allow",
     "Action": ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
     "Resource": ["arn:aws:dynamodb:us-east-1:111122223333:table/Orders",
                  "arn:aws:dynamodb:us-east-1:111122223333:table/Orders/index/*"]},
    {"Sid": "NoBucketAdmin", "Effect": "Deny",
     "Action": ["s3:DeleteBucket", "s3:PutBucketPolicy"], "Resource": "*"}
  ]
}"#;

/// The role the just-in-time grant is for: writes the standing policy does
/// not allow.
const GRANT_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "WriteReports", "Effect": "Allow", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::reports-bucket/uploads/*"},
    {"Sid": "WriteOrders", "Effect": "Allow",
     "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
     "Resource": "arn:aws:dynamodb:us-east-1:111122223333:table/Orders"}
  ]
}"#;

/// The gateway's lookup for issued credentials (`Credentials::lookup` in
/// `crates/gateway/src/identity.rs`, issued branch), over an authority.
struct Issued<'a> {
    authority: &'a Authority,
    now: u64,
}

impl<'a> Issued<'a> {
    fn new(authority: &'a Authority, now: SystemTime) -> Self {
        Self {
            authority,
            now: u64::try_from(unix_seconds(now)).unwrap_or(0),
        }
    }
}

/// An opened session, as the gateway's `Found::Issued` holds it.
struct Found(Arc<Session>);

impl Credential for Found {
    fn secret_access_key(&self) -> &[u8] {
        self.0.secret_access_key()
    }
}

impl CredentialStore for Issued<'_> {
    type Credential<'a>
        = Found
    where
        Self: 'a;

    fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Found, LookupError> {
        if is_issued(access_key_id) {
            return self
                .authority
                .session(access_key_id, session_token, self.now)
                .map(Found)
                .map_err(LookupError::from);
        }
        Err(LookupError::UnknownAccessKey)
    }
}

/// The bench principal (a workload with one tag and the standing policy),
/// the grant role, and an approver.
fn directory() -> Directory {
    let doc = |json: &str| PolicyDocument::parse(json).expect("policy parses");
    Directory::new(
        vec![
            PrincipalSpec {
                name: PRINCIPAL.into(),
                kind: PrincipalKind::Workload,
                tags: BTreeMap::from([("team".to_owned(), "analytics".to_owned())]),
                groups: vec![],
                policies: vec![(STANDING.into(), doc(STANDING_POLICY))],
            },
            PrincipalSpec {
                name: "bob".into(),
                kind: PrincipalKind::Person,
                tags: BTreeMap::new(),
                groups: vec!["sre".into()],
                policies: vec![],
            },
        ],
        vec![GroupSpec {
            name: "sre".into(),
            members: vec![],
        }],
        vec![Role {
            name: "reports-writer".into(),
            policies: vec![("reports-write".into(), Arc::new(doc(GRANT_POLICY)))],
            requesters: vec![PRINCIPAL.into()],
            max_duration_secs: 8 * 3600,
            approval: Approval::Approvers {
                count: 1,
                group: "sre".into(),
            },
            require_reason: true,
            require_ticket: false,
        }],
    )
    .expect("directory")
}

/// One request as the client sends it.
struct Req {
    name: &'static str,
    method: &'static str,
    host: &'static str,
    path: &'static str,
    service: &'static str,
    body: Vec<u8>,
    /// Headers received (signed ones plus an unsigned `user-agent`).
    headers: Vec<(String, String)>,
    action: &'static str,
    resource: String,
    statement: &'static str,
}

/// Signs `extra` headers plus `host` and `x-amz-content-sha256` with the
/// issued credentials, then adds the unsigned `user-agent`.
#[allow(clippy::too_many_arguments)]
fn signed(
    signer: &Signer,
    creds: &countersign_identity::IssuedCredentials,
    time: SystemTime,
    method: &str,
    host: &str,
    path: &str,
    service: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let payload_hash = if body.is_empty() {
        EMPTY_SHA.to_owned()
    } else {
        hex::encode(Sha256::digest(body))
    };
    let mut to_sign: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("x-amz-content-sha256".into(), payload_hash.clone()),
    ];
    to_sign.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    let raw: Vec<(&str, &[u8])> = to_sign
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let view = RequestView {
        method,
        path,
        query: "",
        headers: &raw,
        authority: None,
        body_sha256: None,
    };
    let out = signer.sign(
        &view,
        &payload_hash,
        PathMode::for_service(service),
        &SigningParams {
            access_key_id: &creds.access_key_id,
            secret_access_key: &creds.secret_access_key,
            session_token: Some(&creds.session_token),
            region: REGION,
            service,
            time,
        },
    );
    let mut headers = to_sign;
    headers.push(("x-amz-date".into(), out.x_amz_date));
    headers.push((
        "x-amz-security-token".into(),
        out.security_token.expect("token"),
    ));
    headers.push(("authorization".into(), out.authorization));
    headers.push(("user-agent".into(), USER_AGENT.into()));
    headers
}

/// Owned (IAM action, resources) pairs and service condition keys.
type Classified = (Vec<(String, Vec<String>)>, Vec<(String, String)>);

/// Classification as the pipeline's Classify stage does it: the catalog's
/// answer, converted to the owned pairs the Authorize stage reads.
fn classify(catalog: &Catalog, view: &countersign_catalog::RequestView<'_>) -> Classified {
    let outcome = catalog.classify(view);
    let Some(c) = outcome.known() else {
        panic!("{} {} classifies", view.method, view.path);
    };
    let actions = c
        .actions
        .iter()
        .map(|a| (a.name.to_string(), a.resources.clone()))
        .collect();
    let condition_keys = c
        .condition_keys
        .iter()
        .map(|k| (k.key.to_string(), k.value.clone()))
        .collect();
    (actions, condition_keys)
}

/// The pipeline's Classify and Authorize work for a verified request.
#[allow(clippy::too_many_arguments)]
fn decide(
    catalog: &Catalog,
    authority: &Authority,
    session: &Arc<Session>,
    req: &Req,
    headers: &[(&str, &str)],
    service: &str,
    region: &str,
    client: ClientInfo,
    now: u64,
) -> countersign_gateway::decide::Evaluation {
    let view = countersign_catalog::RequestView {
        method: req.method,
        host: req.host,
        path: req.path,
        query: "",
        headers,
        body: &req.body,
        body_complete: true,
        service,
        region,
        account: ACCOUNT,
    };
    let (actions, condition_keys) = classify(catalog, &view);
    evaluate_session(
        authority,
        session,
        &CallFacts {
            actions: &actions,
            condition_keys: &condition_keys,
            client: Some(client),
            region,
            now,
        },
    )
}

fn decision(c: &mut Criterion) {
    let time = UNIX_EPOCH + Duration::from_secs(1_725_021_000);
    let now = u64::try_from(unix_seconds(time)).expect("positive");
    let catalog = Catalog::global();

    // Authority, an approved grant in the snapshot, credentials carrying it.
    let authority = Authority::new(
        KeyRing::from_keys([(1, KeyState::Active, &[7u8; 32][..])]).expect("key ring"),
        Arc::new(directory()),
        AuthorityOptions::default(),
    );
    let requested = request(
        authority.directory(),
        &GrantRequest {
            principal: PRINCIPAL,
            role: "reports-writer",
            duration_secs: 4 * 3600,
            reason: Some("backfill"),
            ticket: None,
        },
        "g-0123456789abcdef".into(),
        now - 600,
    )
    .expect("grant request");
    let grant =
        approve(authority.directory(), &requested, "bob", None, now - 600).expect("grant approved");
    assert!(grant.is_active_at(now));
    authority.install_snapshot(Snapshot {
        active_grants: HashMap::from([(grant.id.clone(), Arc::new(grant.clone()))]),
        version: 1,
        ..Snapshot::default()
    });
    let creds = authority
        .issue(PRINCIPAL, None, Some(3600), now - 60)
        .expect("issue");
    assert!(creds.expires_at > now);
    eprintln!(
        "issued {} (session token {} characters)",
        creds.access_key_id,
        creds.session_token.len()
    );

    let signer = Signer::default();
    let ddb_body =
        br#"{"TableName":"Orders","Key":{"pk":{"S":"order#2024-08-30#00042"}},"ConsistentRead":true}"#
            .to_vec();
    let reqs = [
        Req {
            name: "s3_get_object",
            method: "GET",
            host: "s3.us-east-1.amazonaws.com",
            path: "/reports-bucket/2024/08/30/summary.csv",
            service: "s3",
            headers: signed(
                &signer,
                &creds,
                time,
                "GET",
                "s3.us-east-1.amazonaws.com",
                "/reports-bucket/2024/08/30/summary.csv",
                "s3",
                b"",
                &[],
            ),
            body: Vec::new(),
            action: "s3:GetObject",
            resource: "arn:aws:s3:::reports-bucket/2024/08/30/summary.csv".into(),
            statement: "ReadReports",
        },
        Req {
            name: "dynamodb_get_item",
            method: "POST",
            host: "dynamodb.us-east-1.amazonaws.com",
            path: "/",
            service: "dynamodb",
            headers: signed(
                &signer,
                &creds,
                time,
                "POST",
                "dynamodb.us-east-1.amazonaws.com",
                "/",
                "dynamodb",
                &ddb_body,
                &[
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", "DynamoDB_20120810.GetItem"),
                ],
            ),
            body: ddb_body,
            action: "dynamodb:GetItem",
            resource: format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Orders"),
            statement: "ReadOrders",
        },
    ];

    let statics = countersign_benches::TokenKeys::one(
        &creds.access_key_id,
        creds.secret_access_key.as_bytes(),
        &creds.session_token,
    );
    let verifier = Verifier::default();
    let client = ClientInfo {
        addr: SocketAddr::from(([10, 0, 3, 17], 49_152)),
        tls: true,
    };

    for req in &reqs {
        // The header views each stage builds from the request's HeaderMap.
        let raw: Vec<(&str, &[u8])> = req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let text: Vec<(&str, &str)> = req
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let view = RequestView {
            method: req.method,
            path: req.path,
            query: "",
            headers: &raw,
            authority: None,
            body_sha256: None,
        };
        assert!(!verifier.needs_body_hash(&view));

        // Warm every cache and check the answers before timing.
        let v = verifier
            .verify(&view, time, &statics)
            .expect("verifies with the static store");
        assert!(v.signed_headers.iter().any(|h| h == "x-amz-security-token"));
        let issued = Issued::new(&authority, time);
        let v = verifier
            .verify(&view, time, &issued)
            .expect("verifies with the issued lookup");
        assert_eq!(&*v.credential.0.principal.name, PRINCIPAL);
        assert_eq!(v.credential.0.claims.grants, [grant.id.as_str()]);
        let effective = authority.effective_policy(
            &v.credential.0.principal,
            &v.credential.0.claims.grants,
            now,
        );
        assert_eq!(
            effective.grants,
            [grant.id.as_str()],
            "the grant is in force"
        );
        let evaluation = decide(
            catalog,
            &authority,
            &v.credential.0,
            req,
            &text,
            v.scope.service,
            v.scope.region,
            client,
            now,
        );
        assert_eq!(evaluation.outcome, Outcome::Allow, "{} allowed", req.name);
        let statement = evaluation.statement.as_deref().unwrap_or_default();
        assert_eq!(
            statement,
            format!("{STANDING}/{}", req.statement),
            "{}: the standing statement decides",
            req.name
        );
        assert_eq!(evaluation.grant, None);
        assert_eq!(evaluation.grants_in_force, [grant.id.as_str()]);
        let catalog_view = countersign_catalog::RequestView {
            method: req.method,
            host: req.host,
            path: req.path,
            query: "",
            headers: &text,
            body: &req.body,
            body_complete: true,
            service: req.service,
            region: REGION,
            account: ACCOUNT,
        };
        let (actions, condition_keys) = classify(catalog, &catalog_view);
        assert_eq!(
            actions,
            [(req.action.to_owned(), vec![req.resource.clone()])],
            "{} classifies to the expected action and resource",
            req.name
        );
        eprintln!("{}: allowed by {statement}", req.name);

        let verify_only = || {
            let v = verifier.verify(black_box(&view), black_box(time), &statics);
            black_box(v.is_ok())
        };
        let verify_issued = || {
            let issued = Issued::new(&authority, black_box(time));
            let v = verifier.verify(black_box(&view), black_box(time), &issued);
            black_box(v.is_ok())
        };
        let whole = || {
            let issued = Issued::new(&authority, black_box(time));
            let v = verifier
                .verify(black_box(&view), black_box(time), &issued)
                .expect("verifies");
            let evaluation = decide(
                catalog,
                &authority,
                &v.credential.0,
                req,
                black_box(&text),
                v.scope.service,
                v.scope.region,
                client,
                black_box(now),
            );
            black_box(evaluation.is_allowed())
        };
        let mut group = c.benchmark_group("decision");
        group.bench_function(format!("verify_only/{}", req.name), |b| b.iter(verify_only));
        group.bench_function(format!("verify_issued/{}", req.name), |b| {
            b.iter(verify_issued)
        });
        group.bench_function(format!("decision/{}", req.name), |b| b.iter(whole));
        // decision − verify_only measured in pairs: batches of PAIR_BATCH
        // of each, alternately, so load that drifts over more than a batch
        // (about 0.3 ms) weighs on both sides of the difference alike.
        group.bench_function(format!("overhead_paired/{}", req.name), |b| {
            b.iter_custom(|iters| {
                let (mut base, mut full) = (Duration::ZERO, Duration::ZERO);
                let mut left = iters;
                while left > 0 {
                    let n = left.min(PAIR_BATCH);
                    let t = Instant::now();
                    for _ in 0..n {
                        verify_only();
                    }
                    base += t.elapsed();
                    let t = Instant::now();
                    for _ in 0..n {
                        whole();
                    }
                    full += t.elapsed();
                    left -= n;
                }
                full.saturating_sub(base)
            })
        });
        group.finish();

        // The decision's parts on their own, to see where its time goes.
        let mut parts = c.benchmark_group("decision_parts");
        let session = v.credential.0.clone();
        parts.bench_function(format!("classify/{}", req.name), |b| {
            b.iter(|| black_box(classify(catalog, black_box(&catalog_view))))
        });
        parts.bench_function(format!("effective_policy/{}", req.name), |b| {
            b.iter(|| {
                black_box(authority.effective_policy(
                    black_box(&session.principal),
                    black_box(&session.claims.grants),
                    black_box(now),
                ))
            })
        });
        parts.bench_function(format!("evaluate_session/{}", req.name), |b| {
            b.iter(|| {
                let evaluation = evaluate_session(
                    &authority,
                    &session,
                    &CallFacts {
                        actions: black_box(&actions),
                        condition_keys: black_box(&condition_keys),
                        client: Some(client),
                        region: REGION,
                        now: black_box(now),
                    },
                );
                black_box(evaluation.is_allowed())
            })
        });
        parts.bench_function(format!("evaluate_call/{}", req.name), |b| {
            b.iter(|| {
                let evaluation = evaluate_call(
                    &authority,
                    &session.principal,
                    &session.claims.grants,
                    &CallFacts {
                        actions: black_box(&actions),
                        condition_keys: black_box(&condition_keys),
                        client: Some(client),
                        region: REGION,
                        now: black_box(now),
                    },
                );
                black_box(evaluation.is_allowed())
            })
        });
        parts.finish();
    }
}

criterion_group!(benches, decision);
criterion_main!(benches);
