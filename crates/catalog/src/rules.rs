//! IAM actions, resource ARNs and condition keys: hand-checked rules for the
//! services workloads use most, and a generic rule for the rest.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};

use serde_json::Value;

use crate::model::{Loc, Op, Protocol, Service};
use crate::request::{
    cbor_text_members, decode, json_members, pair_value, split_pairs, xml_elements, CborMembers,
    JsonMember, RequestView,
};
use crate::{Action, Classification, ConditionKey, Outcome, Unknown};

/// Which hand rules apply to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleSet {
    Generic,
    S3,
    DynamoDb,
    Sts,
    Iam,
    Kms,
    Lambda,
    Sqs,
    Sns,
    SecretsManager,
    Ssm,
    Logs,
    Events,
    Kinesis,
    Ecr,
    StepFunctions,
    ApiGateway,
}

impl RuleSet {
    pub(crate) fn for_service(name: &str) -> RuleSet {
        match name {
            "s3" => RuleSet::S3,
            "dynamodb" => RuleSet::DynamoDb,
            "sts" => RuleSet::Sts,
            "iam" => RuleSet::Iam,
            "kms" => RuleSet::Kms,
            "lambda" => RuleSet::Lambda,
            "sqs" => RuleSet::Sqs,
            "sns" => RuleSet::Sns,
            "secretsmanager" => RuleSet::SecretsManager,
            "ssm" => RuleSet::Ssm,
            "logs" => RuleSet::Logs,
            "events" => RuleSet::Events,
            "kinesis" => RuleSet::Kinesis,
            "ecr" => RuleSet::Ecr,
            "stepfunctions" => RuleSet::StepFunctions,
            "apigateway" | "apigatewayv2" => RuleSet::ApiGateway,
            _ => RuleSet::Generic,
        }
    }

    pub(crate) fn is_hand_checked(self) -> bool {
        self != RuleSet::Generic
    }
}

/// The IAM action of an operation when it is not `{prefix}:{Operation}`;
/// applied once at load.
pub(crate) fn action_override(service: &str, op: &str) -> Option<&'static str> {
    match service {
        "s3" => s3_action(op),
        "lambda" => match op {
            "Invoke" | "InvokeWithResponseStream" => Some("lambda:InvokeFunction"),
            _ => None,
        },
        "sqs" => match op {
            "SendMessageBatch" => Some("sqs:SendMessage"),
            "DeleteMessageBatch" => Some("sqs:DeleteMessage"),
            "ChangeMessageVisibilityBatch" => Some("sqs:ChangeMessageVisibility"),
            _ => None,
        },
        "sns" => match op {
            "PublishBatch" => Some("sns:Publish"),
            _ => None,
        },
        _ => None,
    }
}

fn is_arnish(name: &str) -> bool {
    name.ends_with("Arn") || name.ends_with("ARN") || name.ends_with("arn")
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// Per-request state the rules read from.
pub(crate) struct Ctx<'c, 'r> {
    svc: &'c Service,
    op: &'c Op,
    proto: Protocol,
    req: RequestView<'r>,
    query: Vec<(&'r str, &'r str)>,
    form: Vec<(&'r str, &'r str)>,
    labels: Vec<(&'c str, Cow<'r, str>)>,
    json: OnceCell<(Vec<JsonMember<'r>>, bool)>,
    cbor: OnceCell<CborMembers<'r>>,
    part: &'static str,
    partial: Cell<bool>,
    conflict: Cell<bool>,
    actions: Vec<Action<'c>>,
    conds: Vec<ConditionKey>,
}

impl<'c, 'r> Ctx<'c, 'r> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        svc: &'c Service,
        op: &'c Op,
        proto: Protocol,
        req: &RequestView<'r>,
        query: Vec<(&'r str, &'r str)>,
        labels: Vec<(&'c str, Cow<'r, str>)>,
        params: Option<Vec<(&'r str, &'r str)>>,
    ) -> Self {
        let form = if let Some(p) = params {
            p
        } else if matches!(proto, Protocol::Query | Protocol::Ec2) {
            let is_form = req.method == "POST"
                && req.header("content-type").is_some_and(|c| {
                    c.to_ascii_lowercase()
                        .starts_with("application/x-www-form-urlencoded")
                });
            if is_form {
                split_pairs(std::str::from_utf8(req.body).unwrap_or(""))
            } else {
                query.clone()
            }
        } else {
            Vec::new()
        };
        Ctx {
            svc,
            op,
            proto,
            req: *req,
            query,
            form,
            labels,
            json: OnceCell::new(),
            cbor: OnceCell::new(),
            part: partition(req.region),
            partial: Cell::new(false),
            conflict: Cell::new(false),
            actions: Vec::with_capacity(1),
            conds: Vec::new(),
        }
    }

    fn body_used(&self) {
        if !self.req.body_complete {
            self.partial.set(true);
        }
    }

    fn json(&self) -> &(Vec<JsonMember<'r>>, bool) {
        self.json.get_or_init(|| json_members(self.req.body))
    }

    fn json_member(&self, name: &str) -> Option<&JsonMember<'r>> {
        let (members, _) = self.json();
        let mut it = members.iter().filter(|m| m.key == name);
        let first = it.next()?;
        if it.next().is_some() {
            self.conflict.set(true);
        }
        self.body_used();
        Some(first)
    }

    /// A body member parsed as a JSON value (for lists and maps).
    fn json_value(&self, name: &str) -> Option<Value> {
        if !matches!(self.proto, Protocol::Json | Protocol::RestJson) {
            return None;
        }
        serde_json::from_str(self.json_member(name)?.raw).ok()
    }

    /// The string value of input member `member`, wherever the protocol puts it.
    fn get(&self, member: &str) -> Option<Cow<'r, str>> {
        if let Some(l) = self.op.located.iter().find(|l| l.member == member) {
            return match l.loc {
                Loc::Uri => self.label(&l.name),
                Loc::Query => self.qparam(&l.name),
                Loc::Header => self.header(&l.name).map(Cow::Borrowed),
            };
        }
        match self.proto {
            Protocol::Json | Protocol::RestJson => self.json_member(member)?.as_str(),
            Protocol::Query | Protocol::Ec2 => match pair_value(&self.form, member) {
                Ok(v) => v.map(|v| {
                    self.body_used();
                    decode(v, true)
                }),
                Err(()) => {
                    self.conflict.set(true);
                    None
                }
            },
            Protocol::Cbor => {
                let (members, _) = self.cbor.get_or_init(|| cbor_text_members(self.req.body));
                let mut it = members.iter().filter(|(k, _)| k == member);
                let first = it.next()?;
                if it.next().is_some() {
                    self.conflict.set(true);
                }
                self.body_used();
                Some(first.1.clone())
            }
            Protocol::RestXml => None,
        }
    }

    /// Query-protocol list members: `Name.member.1`, `Name.member.2`, ...
    /// (also `Name.1` for EC2), or a JSON array of strings.
    fn get_list(&self, member: &str) -> Vec<String> {
        match self.proto {
            Protocol::Json | Protocol::RestJson => match self.json_value(member) {
                Some(Value::Array(a)) => a
                    .into_iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            },
            Protocol::Query | Protocol::Ec2 => {
                let mut out = Vec::new();
                for i in 1..=1000 {
                    let k1 = format!("{member}.member.{i}");
                    let k2 = format!("{member}.{i}");
                    match pair_value(&self.form, &k1)
                        .ok()
                        .flatten()
                        .or_else(|| pair_value(&self.form, &k2).ok().flatten())
                    {
                        Some(v) => out.push(decode(v, true).into_owned()),
                        None => break,
                    }
                }
                out
            }
            _ => Vec::new(),
        }
    }

    fn label(&self, name: &str) -> Option<Cow<'r, str>> {
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    fn qparam(&self, name: &str) -> Option<Cow<'r, str>> {
        match pair_value(&self.query, name) {
            Ok(v) => v.map(|v| decode(v, true)),
            Err(()) => {
                self.conflict.set(true);
                None
            }
        }
    }

    fn header(&self, name: &str) -> Option<&'r str> {
        if self.req.header_count(name) > 1 {
            self.conflict.set(true);
        }
        self.req.header(name)
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{}:{}:{}:{}",
            self.part, service, self.req.region, self.req.account, resource
        )
    }

    fn default_action(&self) -> Cow<'c, str> {
        Cow::Borrowed(&self.op.action)
    }

    fn push(&mut self, name: Cow<'c, str>, resources: Vec<String>) {
        let resources = if resources.is_empty() {
            vec!["*".to_string()]
        } else {
            resources
        };
        self.actions.push(Action { name, resources });
    }

    fn push_default(&mut self, resources: Vec<String>) {
        let a = self.default_action();
        self.push(a, resources);
    }

    fn cond(&mut self, key: &'static str, value: impl Into<String>) {
        self.conds.push(ConditionKey {
            key: Cow::Borrowed(key),
            value: value.into(),
        });
    }

    fn cond_member(&mut self, key: &'static str, member: &str) {
        if let Some(v) = self.get(member) {
            let v = v.into_owned();
            self.cond(key, v);
        }
    }

    /// ARNs named by `*Arn` members of the request.
    fn generic_arns(&self) -> Vec<String> {
        let mut out = Vec::new();
        for l in &self.op.located {
            if is_arnish(&l.member) {
                if let Some(v) = self.get(&l.member) {
                    if v.starts_with("arn:") {
                        out.push(v.into_owned());
                    }
                }
            }
        }
        for m in &self.op.arns {
            if let Some(v) = self.get(m) {
                if v.starts_with("arn:") && !out.iter().any(|o| *o == v) {
                    out.push(v.into_owned());
                }
            }
        }
        out
    }

    pub(crate) fn run(mut self) -> Outcome<'c> {
        match self.svc.rules {
            RuleSet::Generic => {}
            RuleSet::S3 => s3(&mut self),
            RuleSet::DynamoDb => dynamodb(&mut self),
            RuleSet::Sts => sts(&mut self),
            RuleSet::Iam => iam(&mut self),
            RuleSet::Kms => kms(&mut self),
            RuleSet::Lambda => lambda(&mut self),
            RuleSet::Sqs => sqs(&mut self),
            RuleSet::Sns => sns(&mut self),
            RuleSet::SecretsManager => secretsmanager(&mut self),
            RuleSet::Ssm => ssm(&mut self),
            RuleSet::Logs => logs(&mut self),
            RuleSet::Events => events(&mut self),
            RuleSet::Kinesis => kinesis(&mut self),
            RuleSet::Ecr => ecr(&mut self),
            RuleSet::StepFunctions => stepfunctions(&mut self),
            RuleSet::ApiGateway => apigateway(&mut self),
        }
        if self.actions.is_empty() {
            let arns = self.generic_arns();
            self.push_default(arns);
        }
        if self.conflict.get() {
            return Outcome::Unknown(Unknown::Ambiguous);
        }
        Outcome::Known(Classification {
            service: &self.svc.name,
            operation: &self.op.name,
            protocol: self.proto,
            actions: self.actions,
            condition_keys: self.conds,
            partial: self.partial.get(),
        })
    }
}

// ---------------------------------------------------------------- S3

/// S3 operation -> IAM action, where they differ.
const S3_ACTIONS: &[(&str, &str)] = &[
    ("ListObjects", "s3:ListBucket"),
    ("ListObjectsV2", "s3:ListBucket"),
    ("HeadBucket", "s3:ListBucket"),
    ("ListObjectVersions", "s3:ListBucketVersions"),
    ("HeadObject", "s3:GetObject"),
    ("GetObject", "s3:GetObject"),
    ("SelectObjectContent", "s3:GetObject"),
    ("CreateMultipartUpload", "s3:PutObject"),
    ("UploadPart", "s3:PutObject"),
    ("UploadPartCopy", "s3:PutObject"),
    ("CompleteMultipartUpload", "s3:PutObject"),
    ("CopyObject", "s3:PutObject"),
    ("ListParts", "s3:ListMultipartUploadParts"),
    ("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
    ("ListBuckets", "s3:ListAllMyBuckets"),
    (
        "ListDirectoryBuckets",
        "s3express:ListAllMyDirectoryBuckets",
    ),
    ("CreateSession", "s3express:CreateSession"),
    ("DeleteObjects", "s3:DeleteObject"),
    ("GetBucketCors", "s3:GetBucketCORS"),
    ("PutBucketCors", "s3:PutBucketCORS"),
    ("DeleteBucketCors", "s3:PutBucketCORS"),
    ("GetBucketLifecycle", "s3:GetLifecycleConfiguration"),
    (
        "GetBucketLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    ),
    ("PutBucketLifecycle", "s3:PutLifecycleConfiguration"),
    (
        "PutBucketLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    ),
    ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    ("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("DeleteBucketTagging", "s3:PutBucketTagging"),
    ("DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
    ("GetBucketNotification", "s3:GetBucketNotification"),
    (
        "GetBucketNotificationConfiguration",
        "s3:GetBucketNotification",
    ),
    ("PutBucketNotification", "s3:PutBucketNotification"),
    (
        "PutBucketNotificationConfiguration",
        "s3:PutBucketNotification",
    ),
    ("GetBucketReplication", "s3:GetReplicationConfiguration"),
    ("PutBucketReplication", "s3:PutReplicationConfiguration"),
    ("DeleteBucketReplication", "s3:PutReplicationConfiguration"),
    ("DeleteBucketWebsite", "s3:DeleteBucketWebsite"),
    ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
    ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    (
        "DeleteBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    ),
    (
        "GetObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
    ),
    (
        "PutObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
    ),
    (
        "GetBucketAccelerateConfiguration",
        "s3:GetAccelerateConfiguration",
    ),
    (
        "PutBucketAccelerateConfiguration",
        "s3:PutAccelerateConfiguration",
    ),
    (
        "GetBucketAnalyticsConfiguration",
        "s3:GetAnalyticsConfiguration",
    ),
    (
        "ListBucketAnalyticsConfigurations",
        "s3:GetAnalyticsConfiguration",
    ),
    (
        "PutBucketAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
    ),
    (
        "DeleteBucketAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
    ),
    (
        "GetBucketInventoryConfiguration",
        "s3:GetInventoryConfiguration",
    ),
    (
        "ListBucketInventoryConfigurations",
        "s3:GetInventoryConfiguration",
    ),
    (
        "PutBucketInventoryConfiguration",
        "s3:PutInventoryConfiguration",
    ),
    (
        "DeleteBucketInventoryConfiguration",
        "s3:PutInventoryConfiguration",
    ),
    (
        "GetBucketMetricsConfiguration",
        "s3:GetMetricsConfiguration",
    ),
    (
        "ListBucketMetricsConfigurations",
        "s3:GetMetricsConfiguration",
    ),
    (
        "PutBucketMetricsConfiguration",
        "s3:PutMetricsConfiguration",
    ),
    (
        "DeleteBucketMetricsConfiguration",
        "s3:PutMetricsConfiguration",
    ),
    (
        "GetBucketIntelligentTieringConfiguration",
        "s3:GetIntelligentTieringConfiguration",
    ),
    (
        "ListBucketIntelligentTieringConfigurations",
        "s3:GetIntelligentTieringConfiguration",
    ),
    (
        "PutBucketIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration",
    ),
    (
        "DeleteBucketIntelligentTieringConfiguration",
        "s3:PutIntelligentTieringConfiguration",
    ),
    (
        "GetBucketMetadataTableConfiguration",
        "s3:GetBucketMetadataTableConfiguration",
    ),
    ("GetObjectAttributes", "s3:GetObjectAttributes"),
];

/// S3 operations whose action changes when a `versionId` is given.
const S3_VERSIONED: &[(&str, &str)] = &[
    ("s3:GetObject", "s3:GetObjectVersion"),
    ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    ("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
];

fn s3_action(op: &str) -> Option<&'static str> {
    S3_ACTIONS.iter().find(|(o, _)| *o == op).map(|(_, a)| *a)
}

fn s3_versioned(action: &str) -> Option<&'static str> {
    S3_VERSIONED
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, v)| *v)
}

/// The ARN of a bucket (or access point given as an ARN) and of an object in it.
fn s3_bucket_arn(part: &str, bucket: &str) -> String {
    if bucket.starts_with("arn:") {
        bucket.to_string()
    } else {
        format!("arn:{part}:s3:::{bucket}")
    }
}

fn s3_object_arn(part: &str, bucket: &str, key: &str) -> String {
    if bucket.starts_with("arn:") {
        format!("{bucket}/object/{key}")
    } else {
        format!("arn:{part}:s3:::{bucket}/{key}")
    }
}

/// `x-amz-copy-source`: `bucket/key[?versionId=v]`, URL-encoded, optional
/// leading slash, or an access point ARN `arn:…:accesspoint/ap/object/key`.
fn s3_copy_source(part: &str, raw: &str) -> (String, bool) {
    let (path, version) = match raw.split_once("?versionId=") {
        Some((p, v)) => (p, !v.is_empty()),
        None => (raw, false),
    };
    let path = decode(path, false);
    let path = path.strip_prefix('/').unwrap_or(&path);
    if path.starts_with("arn:") {
        return (path.to_string(), version);
    }
    match path.split_once('/') {
        Some((b, k)) => (format!("arn:{part}:s3:::{b}/{k}"), version),
        None => (format!("arn:{part}:s3:::{path}"), version),
    }
}

fn s3(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    let bucket = cx.label("Bucket");
    let key = cx.label("Key");
    let versioned = cx.qparam("versionId").is_some();
    let mut action = cx.default_action();
    if versioned {
        if let Some(v) = s3_versioned(&action) {
            action = Cow::Borrowed(v);
        }
        if let Some(v) = cx.qparam("versionId") {
            let v = v.into_owned();
            cx.cond("s3:versionid", v);
        }
    }
    let part = cx.part;
    let resource = match (&bucket, &key) {
        (Some(b), Some(k)) => vec![s3_object_arn(part, b, k)],
        (Some(b), None) => vec![s3_bucket_arn(part, b)],
        _ => vec![],
    };
    match op {
        "ListObjects" | "ListObjectsV2" | "ListObjectVersions" => {
            for (q, c) in [
                ("prefix", "s3:prefix"),
                ("delimiter", "s3:delimiter"),
                ("max-keys", "s3:max-keys"),
            ] {
                if let Some(v) = cx.qparam(q) {
                    let v = v.into_owned();
                    cx.cond(c, v);
                }
            }
        }
        "DeleteObjects" => {
            let b = bucket.clone().unwrap_or_default();
            let body = String::from_utf8_lossy(cx.req.body);
            cx.body_used();
            let mut plain = Vec::new();
            let mut versions = Vec::new();
            let mut rest = body.as_ref();
            while let Some(p) = rest.find("<Object>") {
                let after = &rest[p + 8..];
                let end = after.find("</Object>").unwrap_or(after.len());
                let obj = &after[..end];
                if let Some(k) = xml_elements(obj, "Key").into_iter().next() {
                    let arn = s3_object_arn(part, &b, &k);
                    if xml_elements(obj, "VersionId").is_empty() {
                        plain.push(arn);
                    } else {
                        versions.push(arn);
                    }
                }
                rest = &after[end..];
            }
            if plain.is_empty() && versions.is_empty() {
                // Keys unknown (no or truncated body): every object.
                plain.push(s3_object_arn(part, &b, "*"));
            }
            if !plain.is_empty() {
                cx.push(Cow::Borrowed("s3:DeleteObject"), plain);
            }
            if !versions.is_empty() {
                cx.push(Cow::Borrowed("s3:DeleteObjectVersion"), versions);
            }
            return;
        }
        "CopyObject" | "UploadPartCopy" => {
            cx.push(action, resource);
            if let Some(src) = cx.header("x-amz-copy-source") {
                cx.cond("s3:x-amz-copy-source", src);
                let (arn, version) = s3_copy_source(part, src);
                let a = if version {
                    "s3:GetObjectVersion"
                } else {
                    "s3:GetObject"
                };
                cx.push(Cow::Borrowed(a), vec![arn]);
            }
            s3_put_conditions(cx);
            return;
        }
        "PutObject" | "CreateMultipartUpload" => {
            cx.push(action, resource.clone());
            if cx.header("x-amz-acl").is_some() || cx.header("x-amz-grant-full-control").is_some() {
                cx.push(Cow::Borrowed("s3:PutObjectAcl"), resource.clone());
            }
            if cx.header("x-amz-tagging").is_some() {
                cx.push(Cow::Borrowed("s3:PutObjectTagging"), resource);
            }
            s3_put_conditions(cx);
            return;
        }
        _ => {}
    }
    cx.push(action, resource);
}

fn s3_put_conditions(cx: &mut Ctx<'_, '_>) {
    for (h, c) in [
        ("x-amz-acl", "s3:x-amz-acl"),
        (
            "x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption",
        ),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        ),
        ("x-amz-storage-class", "s3:x-amz-storage-class"),
        ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
        ("x-amz-object-lock-mode", "s3:object-lock-mode"),
    ] {
        if let Some(v) = cx.header(h) {
            cx.cond(c, v);
        }
    }
}

/// Rewrite bucket ARNs for a request addressed to an access point's host
/// (`{name}-{account}.s3-accesspoint.{region}.amazonaws.com`).
pub(crate) fn s3_access_point_rewrite(
    c: &mut Classification<'_>,
    alias: &str,
    region: &str,
    req: &RequestView<'_>,
) {
    let Some((name, account)) = alias.rsplit_once('-') else {
        return;
    };
    let ap = format!(
        "arn:{}:s3:{region}:{account}:accesspoint/{name}",
        partition(region)
    );
    let plain = format!("arn:{}:s3:::{alias}", partition(region));
    let _ = req;
    for a in &mut c.actions {
        for r in &mut a.resources {
            if let Some(rest) = r.strip_prefix(&plain) {
                *r = match rest.strip_prefix('/') {
                    Some(key) => format!("{ap}/object/{key}"),
                    None => ap.clone(),
                };
            }
        }
    }
}

// ---------------------------------------------------------------- DynamoDB

fn ddb_table(cx: &Ctx<'_, '_>, t: &str) -> String {
    if t.starts_with("arn:") {
        t.to_string()
    } else {
        cx.arn("dynamodb", &format!("table/{t}"))
    }
}

/// Parse the head of a PartiQL statement: (action, table, index).
fn partiql(stmt: &str) -> Option<(&'static str, String, Option<String>)> {
    let toks = partiql_tokens(stmt);
    let kw = |i: usize| toks.get(i).map(|t| t.to_ascii_uppercase());
    let first = kw(0)?;
    let (action, at) = match first.as_str() {
        "SELECT" | "EXISTS" => {
            let at = (0..toks.len()).find(|&i| kw(i).as_deref() == Some("FROM"))? + 1;
            ("dynamodb:PartiQLSelect", at)
        }
        "INSERT" => (
            ("dynamodb:PartiQLInsert"),
            if kw(1).as_deref() == Some("INTO") {
                2
            } else {
                1
            },
        ),
        "UPDATE" => ("dynamodb:PartiQLUpdate", 1),
        "DELETE" => (
            "dynamodb:PartiQLDelete",
            if kw(1).as_deref() == Some("FROM") {
                2
            } else {
                1
            },
        ),
        _ => return None,
    };
    let name = toks.get(at)?;
    let (table, index) = match name.split_once("\".\"") {
        Some((t, i)) => (
            t.trim_matches('"').to_string(),
            Some(i.trim_matches('"').to_string()),
        ),
        None => (name.trim_matches('"').to_string(), None),
    };
    Some((action, table, index))
}

fn partiql_tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().take(4096).collect();
    let mut i = 0;
    while i < b.len() && out.len() < 64 {
        if b[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if b[i] == '"' {
            i += 1;
            while i < b.len() {
                if b[i] == '"' {
                    // "table"."index" stays one token
                    if b.get(i + 1) == Some(&'.') && b.get(i + 2) == Some(&'"') {
                        i += 3;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else {
            while i < b.len() && !b[i].is_whitespace() && b[i] != '"' {
                i += 1;
            }
        }
        out.push(b[start..i].iter().collect());
    }
    out
}

fn dynamodb(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    for (m, k) in [
        ("Select", "dynamodb:Select"),
        ("ReturnValues", "dynamodb:ReturnValues"),
        ("ReturnConsumedCapacity", "dynamodb:ReturnConsumedCapacity"),
    ] {
        cx.cond_member(k, m);
    }
    match op {
        "BatchGetItem" | "BatchWriteItem" => {
            let tables = match cx.json_value("RequestItems") {
                Some(Value::Object(m)) => m.keys().map(|t| ddb_table(cx, t)).collect(),
                _ => vec![],
            };
            cx.push_default(tables);
        }
        "TransactGetItems" | "TransactWriteItems" => {
            let mut per: Vec<(&'static str, Vec<String>)> = Vec::new();
            if let Some(Value::Array(items)) = cx.json_value("TransactItems") {
                for item in items {
                    let Value::Object(item) = item else { continue };
                    for (kind, inner) in item {
                        let action = match kind.as_str() {
                            "Get" => "dynamodb:GetItem",
                            "Put" => "dynamodb:PutItem",
                            "Update" => "dynamodb:UpdateItem",
                            "Delete" => "dynamodb:DeleteItem",
                            "ConditionCheck" => "dynamodb:ConditionCheckItem",
                            _ => continue,
                        };
                        let t = inner
                            .get("TableName")
                            .and_then(Value::as_str)
                            .map(|t| ddb_table(cx, t));
                        let t = t.unwrap_or_else(|| "*".into());
                        match per.iter_mut().find(|(a, _)| *a == action) {
                            Some((_, v)) => {
                                if !v.contains(&t) {
                                    v.push(t)
                                }
                            }
                            None => per.push((action, vec![t])),
                        }
                    }
                }
            }
            if per.is_empty() {
                cx.push_default(vec![]);
            }
            for (a, r) in per {
                cx.push(Cow::Borrowed(a), r);
            }
        }
        "ExecuteStatement" | "BatchExecuteStatement" | "ExecuteTransaction" => {
            let stmts: Vec<String> = match op {
                "ExecuteStatement" => cx
                    .get("Statement")
                    .map(|s| vec![s.into_owned()])
                    .unwrap_or_default(),
                _ => {
                    let list = if op == "BatchExecuteStatement" {
                        "Statements"
                    } else {
                        "TransactStatements"
                    };
                    match cx.json_value(list) {
                        Some(Value::Array(a)) => a
                            .iter()
                            .filter_map(|s| {
                                s.get("Statement")
                                    .and_then(Value::as_str)
                                    .map(str::to_string)
                            })
                            .collect(),
                        _ => vec![],
                    }
                }
            };
            let mut per: Vec<(&'static str, Vec<String>)> = Vec::new();
            for s in &stmts {
                let (a, r) = match partiql(s) {
                    Some((a, t, i)) => {
                        let mut arn = ddb_table(cx, &t);
                        if let Some(i) = i {
                            arn = format!("{arn}/index/{i}");
                        }
                        (a, arn)
                    }
                    None => ("dynamodb:PartiQLSelect", "*".into()),
                };
                match per.iter_mut().find(|(x, _)| *x == a) {
                    Some((_, v)) => {
                        if !v.contains(&r) {
                            v.push(r)
                        }
                    }
                    None => per.push((a, vec![r])),
                }
            }
            if per.is_empty() {
                cx.push(Cow::Borrowed("dynamodb:PartiQLSelect"), vec![]);
            }
            for (a, r) in per {
                cx.push(Cow::Borrowed(a), r);
            }
        }
        _ => {
            let table = cx.get("TableName");
            if let Some(t) = table {
                let mut arn = ddb_table(cx, &t);
                if let Some(i) = cx.get("IndexName") {
                    arn = format!("{arn}/index/{i}");
                }
                cx.push_default(vec![arn]);
            }
        }
    }
}

// ---------------------------------------------------------------- STS, IAM

fn sts(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    match op {
        "AssumeRole" | "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity" => {
            let role: Vec<String> = cx
                .get("RoleArn")
                .map(|r| vec![r.into_owned()])
                .unwrap_or_default();
            cx.push_default(role.clone());
            let tagged = cx.get("Tags.member.1.Key").is_some()
                || cx.get("TransitiveTagKeys.member.1").is_some()
                || cx.json_value("Tags").is_some();
            if tagged {
                cx.push(Cow::Borrowed("sts:TagSession"), role.clone());
            }
            if cx.get("SourceIdentity").is_some() {
                cx.push(Cow::Borrowed("sts:SetSourceIdentity"), role);
            }
            cx.cond_member("sts:ExternalId", "ExternalId");
            cx.cond_member("sts:RoleSessionName", "RoleSessionName");
            cx.cond_member("sts:SourceIdentity", "SourceIdentity");
        }
        "GetFederationToken" => {
            let r = cx
                .get("Name")
                .map(|n| {
                    vec![format!(
                        "arn:{}:sts::{}:federated-user/{n}",
                        cx.part, cx.req.account
                    )]
                })
                .unwrap_or_default();
            cx.push_default(r);
        }
        _ => cx.push_default(vec![]),
    }
}

const IAM_NAMES: &[(&str, &str)] = &[
    ("InstanceProfileName", "instance-profile"),
    ("GroupName", "group"),
    ("RoleName", "role"),
    ("UserName", "user"),
    ("ServerCertificateName", "server-certificate"),
    ("VirtualMFADeviceName", "mfa"),
];

fn iam(cx: &mut Ctx<'_, '_>) {
    let mut res = Vec::new();
    for (m, kind) in IAM_NAMES {
        if let Some(n) = cx.get(m) {
            res.push(format!(
                "arn:{}:iam::{}:{kind}/{n}",
                cx.part, cx.req.account
            ));
            break;
        }
    }
    if res.is_empty() {
        res = cx.generic_arns();
        if res.is_empty() {
            if let Some(s) = cx.get("SerialNumber").filter(|s| s.starts_with("arn:")) {
                res.push(s.into_owned());
            }
        }
    }
    let op = cx.op.name.as_str();
    if (op.starts_with("Attach") || op.starts_with("Detach")) && op.ends_with("Policy") {
        cx.cond_member("iam:PolicyARN", "PolicyArn");
    }
    cx.cond_member("iam:PermissionsBoundary", "PermissionsBoundary");
    cx.cond_member("iam:AWSServiceName", "AWSServiceName");
    cx.push_default(res);
}

// ---------------------------------------------------------------- KMS

fn kms_key(cx: &mut Ctx<'_, '_>, id: &str) -> String {
    if id.starts_with("arn:") {
        if let Some(p) = id.find(":alias/") {
            cx.cond("kms:RequestAlias", &id[p + 1..]);
        }
        id.to_string()
    } else if id.starts_with("alias/") {
        cx.cond("kms:RequestAlias", id);
        cx.arn("kms", id)
    } else {
        cx.arn("kms", &format!("key/{id}"))
    }
}

fn kms(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    for (m, k) in [
        ("EncryptionAlgorithm", "kms:EncryptionAlgorithm"),
        ("SigningAlgorithm", "kms:SigningAlgorithm"),
        ("MacAlgorithm", "kms:MacAlgorithm"),
        ("KeySpec", "kms:KeySpec"),
        ("KeyUsage", "kms:KeyUsage"),
        ("Origin", "kms:KeyOrigin"),
    ] {
        cx.cond_member(k, m);
    }
    if let Some(Value::Object(ctx)) = cx.json_value("EncryptionContext") {
        for k in ctx.keys() {
            cx.cond("kms:EncryptionContextKeys", k.clone());
        }
    }
    match op {
        "CreateAlias" | "UpdateAlias" | "DeleteAlias" => {
            let mut r = Vec::new();
            if let Some(a) = cx.get("AliasName") {
                r.push(if a.starts_with("arn:") {
                    a.into_owned()
                } else {
                    cx.arn("kms", &a)
                });
            }
            if let Some(k) = cx.get("TargetKeyId") {
                let k = k.into_owned();
                r.push(kms_key(cx, &k));
            }
            cx.push_default(r);
        }
        "ReEncrypt" => {
            let from = cx.get("SourceKeyId").map(|k| k.into_owned());
            let from = from.map(|k| vec![kms_key(cx, &k)]).unwrap_or_default();
            let to = cx.get("DestinationKeyId").map(|k| k.into_owned());
            let to = to.map(|k| vec![kms_key(cx, &k)]).unwrap_or_default();
            cx.push(Cow::Borrowed("kms:ReEncryptFrom"), from);
            cx.push(Cow::Borrowed("kms:ReEncryptTo"), to);
        }
        _ => {
            let k = cx.get("KeyId").map(|k| k.into_owned());
            let r = k.map(|k| vec![kms_key(cx, &k)]).unwrap_or_default();
            cx.push_default(r);
        }
    }
}

// ---------------------------------------------------------------- Lambda

fn lambda_function(cx: &Ctx<'_, '_>, name: &str, qualifier: Option<&str>) -> String {
    let (base, q) = if name.starts_with("arn:") {
        // arn:aws:lambda:region:acct:function:name[:qualifier]
        let parts: Vec<&str> = name.splitn(8, ':').collect();
        if parts.len() == 8 {
            (parts[..7].join(":"), Some(parts[7].to_string()))
        } else {
            (name.to_string(), None)
        }
    } else {
        let parts: Vec<&str> = name.split(':').collect();
        match parts.as_slice() {
            [acct, "function", n] => (
                format!(
                    "arn:{}:lambda:{}:{acct}:function:{n}",
                    cx.part, cx.req.region
                ),
                None,
            ),
            [acct, "function", n, q] => (
                format!(
                    "arn:{}:lambda:{}:{acct}:function:{n}",
                    cx.part, cx.req.region
                ),
                Some(q.to_string()),
            ),
            [n, q] => (
                cx.arn("lambda", &format!("function:{n}")),
                Some(q.to_string()),
            ),
            _ => (cx.arn("lambda", &format!("function:{name}")), None),
        }
    };
    match qualifier.map(str::to_string).or(q) {
        Some(q) if !q.is_empty() => format!("{base}:{q}"),
        _ => base,
    }
}

fn lambda(cx: &mut Ctx<'_, '_>) {
    let action = cx.default_action();
    let mut r = Vec::new();
    if let Some(f) = cx.get("FunctionName") {
        let q = cx.get("Qualifier");
        r.push(lambda_function(cx, &f, q.as_deref()));
    } else if let Some(l) = cx.get("LayerName") {
        let base = if l.starts_with("arn:") {
            l.to_string()
        } else {
            cx.arn("lambda", &format!("layer:{l}"))
        };
        r.push(match cx.get("VersionNumber") {
            Some(v) => format!("{base}:{v}"),
            None => base,
        });
    } else if let Some(u) = cx.get("UUID") {
        r.push(cx.arn("lambda", &format!("event-source-mapping:{u}")));
    } else if let Some(a) = cx.get("Resource").filter(|a| a.starts_with("arn:")) {
        r.push(a.into_owned());
    } else {
        r = cx.generic_arns();
    }
    cx.push(action, r);
}

// ---------------------------------------------------------------- SQS, SNS

/// `https://sqs.{region}.amazonaws.com/{account}/{name}` (and the legacy
/// `queue.amazonaws.com` forms, or any host) -> queue ARN.
fn sqs_queue_arn(cx: &Ctx<'_, '_>, url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, p),
        None => return None,
    };
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    let acct = segs.next()?;
    let name = segs.next()?;
    if segs.next().is_some() {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let region = match labels.as_slice() {
        ["sqs", r, ..] if *r != "amazonaws" => r.to_string(),
        [r, "queue", ..] => r.to_string(),
        ["queue", ..] => "us-east-1".to_string(),
        _ => cx.req.region.to_string(),
    };
    Some(format!(
        "arn:{}:sqs:{region}:{acct}:{name}",
        partition(&region)
    ))
}

fn sqs(cx: &mut Ctx<'_, '_>) {
    let action = cx.default_action();
    let mut r = Vec::new();
    if let Some(url) = cx.get("QueueUrl") {
        if let Some(a) = sqs_queue_arn(cx, &url) {
            r.push(a);
        }
    } else if let Some(name) = cx.get("QueueName") {
        let acct = cx.get("QueueOwnerAWSAccountId").map(|a| a.into_owned());
        let acct = acct.unwrap_or_else(|| cx.req.account.to_string());
        r.push(format!(
            "arn:{}:sqs:{}:{acct}:{name}",
            cx.part, cx.req.region
        ));
    } else if cx.req.path.len() > 1 {
        // Legacy query calls addressed to the queue URL's path.
        let url = format!("https://{}{}", cx.req.host, cx.req.path);
        if let Some(a) = sqs_queue_arn(cx, &url) {
            r.push(a);
        }
    }
    if r.is_empty() {
        r = cx.generic_arns();
    }
    cx.push(action, r);
}

fn sns(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    let action = cx.default_action();
    let mut r = Vec::new();
    if let Some(t) = cx.get("TopicArn").or_else(|| cx.get("TargetArn")) {
        r.push(t.into_owned());
    } else if let Some(s) = cx.get("SubscriptionArn") {
        // arn:aws:sns:region:acct:topic:subscription-id -> the topic
        let parts: Vec<&str> = s.split(':').collect();
        r.push(if parts.len() == 7 {
            parts[..6].join(":")
        } else {
            s.into_owned()
        });
    } else if op == "CreateTopic" {
        if let Some(n) = cx.get("Name") {
            r.push(cx.arn("sns", &n));
        }
    } else {
        r = cx.generic_arns();
    }
    cx.cond_member("sns:Protocol", "Protocol");
    cx.cond_member("sns:Endpoint", "Endpoint");
    cx.push(action, r);
}

// ---------------------------------------------------------------- Secrets Manager, SSM

fn secret_arn(cx: &Ctx<'_, '_>, id: &str) -> String {
    if id.starts_with("arn:") {
        id.to_string()
    } else {
        cx.arn("secretsmanager", &format!("secret:{id}"))
    }
}

fn secretsmanager(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    cx.cond_member("secretsmanager:SecretId", "SecretId");
    cx.cond_member("secretsmanager:VersionStage", "VersionStage");
    cx.cond_member("secretsmanager:KmsKeyId", "KmsKeyId");
    match op {
        "CreateSecret" => {
            cx.cond_member("secretsmanager:Name", "Name");
            let r = cx
                .get("Name")
                .map(|n| vec![secret_arn(cx, &n)])
                .unwrap_or_default();
            cx.push_default(r);
        }
        "BatchGetSecretValue" => {
            let ids = cx.get_list("SecretIdList");
            let r: Vec<String> = ids.iter().map(|i| secret_arn(cx, i)).collect();
            cx.push_default(vec![]);
            if !r.is_empty() {
                cx.push(Cow::Borrowed("secretsmanager:GetSecretValue"), r);
            }
        }
        _ => {
            let r = cx
                .get("SecretId")
                .map(|n| vec![secret_arn(cx, &n)])
                .unwrap_or_default();
            let r = if r.is_empty() { cx.generic_arns() } else { r };
            cx.push_default(r);
        }
    }
}

fn ssm_param(cx: &Ctx<'_, '_>, name: &str) -> String {
    if name.starts_with("arn:") {
        name.to_string()
    } else if let Some(n) = name.strip_prefix('/') {
        cx.arn("ssm", &format!("parameter/{n}"))
    } else {
        cx.arn("ssm", &format!("parameter/{name}"))
    }
}

fn ssm_document(cx: &Ctx<'_, '_>, name: &str) -> String {
    if name.starts_with("arn:") {
        name.to_string()
    } else {
        cx.arn("ssm", &format!("document/{name}"))
    }
}

fn ssm_target(cx: &Ctx<'_, '_>, id: &str) -> String {
    if id.starts_with("arn:") {
        id.to_string()
    } else if id.starts_with("mi-") {
        cx.arn("ssm", &format!("managed-instance/{id}"))
    } else {
        cx.arn("ec2", &format!("instance/{id}"))
    }
}

fn ssm(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    let r = match op {
        "GetParameter"
        | "PutParameter"
        | "DeleteParameter"
        | "GetParameterHistory"
        | "LabelParameterVersion"
        | "UnlabelParameterVersion" => cx
            .get("Name")
            .map(|n| vec![ssm_param(cx, &n)])
            .unwrap_or_default(),
        "GetParameters" | "DeleteParameters" => cx
            .get_list("Names")
            .iter()
            .map(|n| ssm_param(cx, n))
            .collect(),
        "GetParametersByPath" => {
            if let Some(m) = cx.json_member("Recursive") {
                let v = m.raw.to_string();
                cx.cond("ssm:Recursive", v);
            }
            cx.get("Path")
                .map(|n| vec![ssm_param(cx, &n)])
                .unwrap_or_default()
        }
        "SendCommand" => {
            let mut r: Vec<String> = cx
                .get("DocumentName")
                .map(|d| vec![ssm_document(cx, &d)])
                .unwrap_or_default();
            r.extend(cx.get_list("InstanceIds").iter().map(|i| ssm_target(cx, i)));
            r
        }
        "StartSession" => {
            let mut r: Vec<String> = cx
                .get("Target")
                .map(|t| vec![ssm_target(cx, &t)])
                .unwrap_or_default();
            if let Some(d) = cx.get("DocumentName") {
                r.push(ssm_document(cx, &d));
            }
            r
        }
        "GetDocument"
        | "DescribeDocument"
        | "UpdateDocument"
        | "DeleteDocument"
        | "CreateDocument"
        | "DescribeDocumentPermission"
        | "ModifyDocumentPermission"
        | "UpdateDocumentDefaultVersion" => cx
            .get("Name")
            .map(|n| vec![ssm_document(cx, &n)])
            .unwrap_or_default(),
        _ => cx.generic_arns(),
    };
    cx.push_default(r);
}

// ---------------------------------------------------------------- Logs, EventBridge, Kinesis, ECR, Step Functions, API Gateway

fn logs(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    let group = cx
        .get("logGroupName")
        .or_else(|| cx.get("logGroupIdentifier"));
    let mut r = Vec::new();
    if let Some(g) = group {
        let base = if g.starts_with("arn:") {
            g.strip_suffix(":*").unwrap_or(&g).to_string()
        } else {
            cx.arn("logs", &format!("log-group:{g}"))
        };
        let stream_level = matches!(
            op,
            "PutLogEvents" | "CreateLogStream" | "DeleteLogStream" | "GetLogEvents"
        );
        match cx.get("logStreamName") {
            Some(s) if stream_level => r.push(format!("{base}:log-stream:{s}")),
            _ => r.push(base),
        }
    } else {
        r = cx.generic_arns();
    }
    cx.push_default(r);
}

fn events(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    let bus_arn = |cx: &Ctx<'_, '_>, b: &str| {
        if b.starts_with("arn:") {
            b.to_string()
        } else {
            cx.arn("events", &format!("event-bus/{b}"))
        }
    };
    let r = match op {
        "PutEvents" => {
            let mut buses = Vec::new();
            if let Some(Value::Array(entries)) = cx.json_value("Entries") {
                for e in &entries {
                    let b = e
                        .get("EventBusName")
                        .and_then(Value::as_str)
                        .unwrap_or("default");
                    let arn = bus_arn(cx, b);
                    if !buses.contains(&arn) {
                        buses.push(arn);
                    }
                    if let Some(s) = e.get("Source").and_then(Value::as_str) {
                        cx.cond("events:source", s);
                    }
                    if let Some(s) = e.get("DetailType").and_then(Value::as_str) {
                        cx.cond("events:detail-type", s);
                    }
                }
            }
            buses
        }
        "PutRule" | "DeleteRule" | "DescribeRule" | "EnableRule" | "DisableRule" | "PutTargets"
        | "RemoveTargets" | "ListTargetsByRule" => {
            let name = cx.get("Name").or_else(|| cx.get("Rule"));
            let bus = cx.get("EventBusName");
            match name {
                Some(n) if n.starts_with("arn:") => vec![n.into_owned()],
                Some(n) => {
                    let bus = bus.map(|b| b.rsplit('/').next().unwrap_or(&b).to_string());
                    match bus.as_deref() {
                        None | Some("default") => vec![cx.arn("events", &format!("rule/{n}"))],
                        Some(b) => vec![cx.arn("events", &format!("rule/{b}/{n}"))],
                    }
                }
                None => vec![],
            }
        }
        "CreateEventBus" | "DeleteEventBus" | "DescribeEventBus" | "UpdateEventBus" => cx
            .get("Name")
            .map(|n| vec![bus_arn(cx, &n)])
            .unwrap_or_else(|| vec![bus_arn(cx, "default")]),
        "PutPermission" | "RemovePermission" => {
            let b = cx
                .get("EventBusName")
                .map(|b| b.into_owned())
                .unwrap_or_else(|| "default".into());
            vec![bus_arn(cx, &b)]
        }
        "CreateArchive" | "DeleteArchive" | "DescribeArchive" | "UpdateArchive" => cx
            .get("ArchiveName")
            .map(|n| vec![cx.arn("events", &format!("archive/{n}"))])
            .unwrap_or_default(),
        _ => cx.generic_arns(),
    };
    cx.push_default(r);
}

fn kinesis(cx: &mut Ctx<'_, '_>) {
    let mut r = cx.generic_arns();
    if r.is_empty() {
        if let Some(s) = cx.get("StreamName") {
            r.push(cx.arn("kinesis", &format!("stream/{s}")));
        }
    }
    cx.push_default(r);
}

fn ecr(cx: &mut Ctx<'_, '_>) {
    let mut r = Vec::new();
    if let Some(repo) = cx.get("repositoryName") {
        let acct = cx
            .get("registryId")
            .map(|a| a.into_owned())
            .unwrap_or_else(|| cx.req.account.to_string());
        r.push(format!(
            "arn:{}:ecr:{}:{acct}:repository/{repo}",
            cx.part, cx.req.region
        ));
    } else {
        r = cx.generic_arns();
    }
    cx.push_default(r);
}

fn stepfunctions(cx: &mut Ctx<'_, '_>) {
    let op = cx.op.name.as_str();
    let mut r = cx.generic_arns();
    if r.is_empty() {
        if let Some(n) = cx.get("name") {
            match op {
                "CreateStateMachine" => r.push(cx.arn("states", &format!("stateMachine:{n}"))),
                "CreateActivity" => r.push(cx.arn("states", &format!("activity:{n}"))),
                _ => {}
            }
        }
    }
    cx.push_default(r);
}

fn apigateway(cx: &mut Ctx<'_, '_>) {
    let action = match cx.req.method {
        "GET" | "HEAD" => "apigateway:GET",
        "POST" => "apigateway:POST",
        "PUT" => "apigateway:PUT",
        "PATCH" => "apigateway:PATCH",
        "DELETE" => "apigateway:DELETE",
        _ => return,
    };
    let path = decode(cx.req.path, false).into_owned();
    let r = format!("arn:{}:apigateway:{}::{path}", cx.part, cx.req.region);
    cx.push(Cow::Borrowed(action), vec![r]);
}
