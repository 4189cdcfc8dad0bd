//! # countersign-catalog
//!
//! Sans-IO classification of AWS API requests: given a request as the
//! gateway received it (method, host, raw path, raw query, headers, a
//! bounded body prefix, the verified SigV4 scope and the upstream account),
//! say which **service** and **operation** it calls, which **IAM actions** it
//! needs on which **resource ARNs**, and which request **condition keys** it
//! carries.
//!
//! The knowledge comes from the service models of a pinned botocore release
//! (Apache-2.0), reduced by `tools/generate.py` to a compact gzip'd JSON blob
//! that is embedded in the crate and parsed once at start
//! ([`Catalog::global`] or [`Catalog::load`]). Lookup tables are built then:
//! per signing name, an `X-Amz-Target` map, an RPCv2 CBOR map, a query
//! `Action` map and a per-method URI-template trie, so classifying one
//! request costs about a microsecond.
//!
//! Every protocol is handled: JSON 1.0/1.1 (`X-Amz-Target`), query and EC2
//! (`Action`/`Version` in the query or a form body), REST-JSON and REST-XML
//! (method + most specific URI template + query literals + required
//! members), and Smithy RPCv2 CBOR. Hand-checked rules give the IAM actions
//! and ARNs for the services workloads use most (S3, DynamoDB, STS, IAM, KMS,
//! Lambda, SQS, SNS, Secrets Manager, SSM, CloudWatch Logs, EventBridge,
//! Kinesis, ECR, Step Functions, API Gateway); elsewhere the action is
//! `{iam prefix}:{Operation}` and the resources are the ARNs the request
//! names in `*Arn` members, else `*`.
//!
//! ## What it is not
//!
//! * It does no I/O and knows nothing of sockets, tokio or hyper.
//! * It does not authenticate (see `countersign-sigv4`) nor decide
//!   (see `countersign-policy`): it only describes the call.
//! * It never guesses: a request that matches no modelled operation, or
//!   matches ambiguously (say a repeated `Action` with two values), is
//!   [`Outcome::Unknown`], which the gateway denies by default.
//! * It adds no gateway-global condition keys (`aws:RequestedRegion`,
//!   `aws:SecureTransport`, `aws:SourceIp`, `aws:CurrentTime`): the gateway
//!   does.
//! * It does not resolve names that need an AWS call: a KMS alias is
//!   reported as the alias ARN (plus `kms:RequestAlias`), an IAM user is
//!   `user/{name}` without its path, a Secrets Manager name has no random
//!   suffix.
//!
//! ```
//! use countersign_catalog::{Catalog, Outcome, RequestView};
//! let catalog = Catalog::global();
//! let req = RequestView {
//!     method: "GET",
//!     host: "my-bucket.s3.eu-west-1.amazonaws.com",
//!     path: "/photos/cat.jpg",
//!     query: "",
//!     headers: &[],
//!     body: b"",
//!     body_complete: true,
//!     service: "s3",
//!     region: "eu-west-1",
//!     account: "111122223333",
//! };
//! let Outcome::Known(c) = catalog.classify(&req) else { panic!() };
//! assert_eq!(c.operation, "GetObject");
//! assert_eq!(c.actions[0].name, "s3:GetObject");
//! assert_eq!(c.actions[0].resources, ["arn:aws:s3:::my-bucket/photos/cat.jpg"]);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod classify;
mod http;
mod model;
mod request;
mod rules;

use std::borrow::Cow;
use std::sync::OnceLock;

pub use http::{parse_http_request, HttpParseError, OwnedRequest};
pub use model::Protocol;
pub use request::RequestView;

/// The embedded, generated catalog (see `tools/generate.py`).
static BLOB: &[u8] = include_bytes!("../data/catalog.json.gz");

/// The catalog could not be loaded (a corrupt blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "catalog load error: {}", self.0)
    }
}

impl std::error::Error for LoadError {}

/// Classifier options.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Extra host suffixes under which S3 buckets are addressed
    /// virtual-host style, e.g. `s3.gateway.internal` makes
    /// `bucket.s3.gateway.internal` address `bucket`. AWS's own S3 host
    /// names (`bucket.s3.amazonaws.com`, `bucket.s3.{region}.amazonaws.com`,
    /// `…s3-accesspoint…`, dual-stack, FIPS) are always recognised.
    pub s3_virtual_host_suffixes: Vec<String>,
}

/// The loaded service catalog and its lookup tables. Build it once and
/// share it (it is `Send + Sync`).
pub struct Catalog {
    data: model::Data,
    config: Config,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("botocore", &self.data.botocore)
            .field("services", &self.data.services.len())
            .field("operations", &self.operation_count())
            .finish()
    }
}

impl Catalog {
    /// Parse the embedded catalog and build the lookup tables.
    pub fn load() -> Result<Catalog, LoadError> {
        Self::from_blob(BLOB)
    }

    /// Parse a catalog blob (gzip'd JSON as written by `tools/generate.py`).
    pub fn from_blob(gz: &[u8]) -> Result<Catalog, LoadError> {
        Ok(Catalog {
            data: model::load(gz)?,
            config: Config::default(),
        })
    }

    /// The embedded catalog, loaded on first use and shared process-wide,
    /// with the default [`Config`].
    pub fn global() -> &'static Catalog {
        static GLOBAL: OnceLock<Catalog> = OnceLock::new();
        GLOBAL.get_or_init(|| Catalog::load().expect("embedded catalog is valid"))
    }

    /// Replace the classifier options.
    pub fn with_config(mut self, config: Config) -> Catalog {
        self.config = config;
        self
    }

    /// The botocore release the data was generated from.
    pub fn botocore_version(&self) -> &str {
        &self.data.botocore
    }

    /// Number of services modelled.
    pub fn service_count(&self) -> usize {
        self.data.services.len()
    }

    /// Number of operations modelled, over all services.
    pub fn operation_count(&self) -> usize {
        self.data.services.iter().map(|s| s.ops.len()).sum()
    }

    /// Every modelled service: (botocore name, signing name, IAM prefix,
    /// whether hand-checked resource rules exist for it).
    pub fn services(&self) -> impl Iterator<Item = ServiceInfo<'_>> {
        self.data.services.iter().map(|s| ServiceInfo {
            name: &s.name,
            signing_name: &s.signing[0],
            iam_prefix: &s.iam_prefix,
            protocols: &s.protocols,
            operations: s.ops.len(),
            hand_rules: s.rules.is_hand_checked(),
            arn_members: s.ops.iter().filter(|o| !o.arns.is_empty()).count(),
        })
    }

    /// Classify one request. See the crate documentation.
    pub fn classify<'c>(&'c self, req: &RequestView<'_>) -> Outcome<'c> {
        classify::classify(self, req)
    }
}

/// A summary of one modelled service.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInfo<'c> {
    /// botocore's service name (`s3`, `dynamodb`, `elbv2`, ...).
    pub name: &'c str,
    /// The SigV4 signing name (credential scope service).
    pub signing_name: &'c str,
    /// The IAM action prefix.
    pub iam_prefix: &'c str,
    /// Protocols the service speaks.
    pub protocols: &'c [Protocol],
    /// Number of operations.
    pub operations: usize,
    /// Whether hand-checked action and resource rules exist.
    pub hand_rules: bool,
    /// Operations with at least one `*Arn` input member (generic resources).
    pub arn_members: usize,
}

/// The result of classifying a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'c> {
    /// The request calls a modelled operation.
    Known(Classification<'c>),
    /// The request matches no operation (or matches ambiguously): deny.
    Unknown(Unknown),
}

impl<'c> Outcome<'c> {
    /// The classification, if known.
    pub fn known(&self) -> Option<&Classification<'c>> {
        match self {
            Outcome::Known(c) => Some(c),
            Outcome::Unknown(_) => None,
        }
    }
}

/// What a request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification<'c> {
    /// botocore's service name (`s3`, `dynamodb`, `elbv2`, ...).
    pub service: &'c str,
    /// The operation name as in the service model (`GetObject`).
    pub operation: &'c str,
    /// The protocol the request was recognised by.
    pub protocol: Protocol,
    /// The IAM actions the call needs, each on its resources. Most calls
    /// need one; `CopyObject` needs `s3:PutObject` on the target and
    /// `s3:GetObject` on the source, a DynamoDB transaction one action per
    /// item kind, and so on. All of them must be allowed.
    pub actions: Vec<Action<'c>>,
    /// Request condition keys (service-specific; the gateway adds the
    /// global ones), in a stable order.
    pub condition_keys: Vec<ConditionKey>,
    /// Some resources or keys were read from a body prefix, not the whole
    /// body (see [`RequestView::body_complete`]); a policy engine may choose
    /// to deny rather than trust them.
    pub partial: bool,
}

impl Classification<'_> {
    /// Every resource ARN over all actions, deduplicated, in order.
    pub fn resources(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for a in &self.actions {
            for r in &a.resources {
                if !out.contains(&r.as_str()) {
                    out.push(r);
                }
            }
        }
        out
    }
}

/// One IAM action and the resources it is evaluated on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action<'c> {
    /// `prefix:Action`, e.g. `s3:GetObject`.
    pub name: Cow<'c, str>,
    /// Resource ARNs, or `["*"]` when the action has no resource or it
    /// cannot be named from the request.
    pub resources: Vec<String>,
}

/// A request condition key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionKey {
    /// Key name, e.g. `s3:prefix`.
    pub key: Cow<'static, str>,
    /// Value as sent.
    pub value: String,
}

/// Why a request could not be classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// The credential scope names no modelled service.
    UnknownService,
    /// No operation of the scope's services matches the request.
    NoMatchingOperation,
    /// The request names its operation or a resource twice with different
    /// values (a repeated `Action`, `X-Amz-Target` or body member).
    Ambiguous,
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unknown::UnknownService => "unknown service",
            Unknown::NoMatchingOperation => "no matching operation",
            Unknown::Ambiguous => "ambiguous request",
        })
    }
}

/// Fuzzing entry point: interpret `data` as request parts and classify it.
/// Must never panic. Shared by the cargo-fuzz target and the corpus replay
/// test.
#[doc(hidden)]
pub fn fuzz_classify(data: &[u8]) {
    let catalog = Catalog::global();
    // Raw HTTP/1.1 form first.
    if let Ok(req) = parse_http_request(data) {
        let _ = req.classify(catalog);
    }
    // Then as '\n'-separated parts: method, host, path, query, service,
    // header lines ("name: value") up to an empty line, body.
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("");
    let host = lines.next().unwrap_or("");
    let path = lines.next().unwrap_or("");
    let query = lines.next().unwrap_or("");
    let service = lines.next().unwrap_or("");
    let mut headers = Vec::new();
    for l in lines.by_ref() {
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n, v));
        }
    }
    let body: Vec<&str> = lines.collect();
    let body = body.join("\n");
    let view = RequestView {
        method,
        host,
        path,
        query,
        headers: &headers,
        body: body.as_bytes(),
        body_complete: data.first().is_none_or(|b| b & 1 == 0),
        service,
        region: "us-east-1",
        account: "123456789012",
    };
    let _ = catalog.classify(&view);
}
