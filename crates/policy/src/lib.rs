//! Countersign's IAM identity-policy engine: IAM JSON in, a decision and the
//! statement that made it out.
//!
//! # What it is
//!
//! A sans-IO library in three steps:
//!
//! 1. [`PolicyDocument::parse`] reads an identity-policy document with IAM's
//!    grammar and rejects what IAM rejects, reporting every problem with the
//!    JSON path of the offending element ([`PolicyErrors`]).
//! 2. [`CompiledPolicy::compile`] turns the set of policies that make up one
//!    identity's effective policy into a structure built for evaluation:
//!    actions lower-cased and indexed by service prefix and exact name, glob
//!    patterns pre-split with fast paths, CIDRs, dates and numbers parsed,
//!    policy variables located.
//! 3. [`CompiledPolicy::evaluate`] decides a [`RequestContext`] (the
//!    `(action, resource)` pairs a call needs and its condition keys) to
//!    [`Outcome::Allow`], [`Outcome::ExplicitDeny`] or
//!    [`Outcome::ImplicitDeny`], naming the deciding statement. It does not
//!    allocate unless a pattern uses policy variables or a condition uses
//!    `BinaryEquals` or a case-insensitive comparison with a variable.
//!
//! ```
//! use countersign_policy::{CompiledPolicy, Outcome, PolicyDocument, RequestContext};
//!
//! let doc = PolicyDocument::parse(r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{
//!         "Sid": "ReadOwnPrefix",
//!         "Effect": "Allow",
//!         "Action": ["s3:GetObject", "s3:List*"],
//!         "Resource": "arn:aws:s3:::team-bucket/${aws:username}/*",
//!         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
//!     }]
//! }"#).unwrap();
//! let policy = CompiledPolicy::compile([("team-read", &doc)]).unwrap();
//!
//! let mut ctx = RequestContext::for_request("s3:GetObject", "arn:aws:s3:::team-bucket/alice/notes.txt");
//! ctx.set("aws:username", "alice").set("aws:SourceIp", "10.1.2.3");
//! let decision = policy.evaluate(&ctx);
//! assert_eq!(decision.outcome, Outcome::Allow);
//! assert_eq!(policy.describe(decision.deciding.unwrap()).to_string(), "team-read/ReadOwnPrefix");
//! ```
//!
//! # Semantics
//!
//! IAM's evaluation logic for identity policies: any matching `Deny` wins;
//! otherwise a matching `Allow` allows; otherwise the request is implicitly
//! denied; a call with several pairs is allowed only if every pair is.
//! Actions match case-insensitively, ARNs case-sensitively; `*` matches any
//! run of characters (including `:` and `/`) and `?` exactly one. Condition
//! operators, set qualifiers, `IfExists`, `Null` and policy variables follow
//! IAM's documentation; see the `condition` module source for the rules and
//! the choices made where the documentation is silent.
//!
//! # What it is not
//!
//! It does no I/O and reads no clock: `aws:CurrentTime` and every other
//! condition key come from the caller. It evaluates identity policies only:
//! no resource policies, permission boundaries, session policies, SCPs or
//! `Principal` matching. It does not know which condition keys or actions
//! exist; classifying a call into actions, resources and keys is the
//! catalog's job.

mod compiled;
mod condition;
mod context;
mod document;
mod error;
mod pattern;
mod scalar;

pub use compiled::{CompiledPolicy, Decision, Outcome, StatementLabel, StatementRef};
pub use context::{ActionResource, ContextValue, RequestContext};
pub use document::{ConditionEntry, Effect, PatternList, PolicyDocument, PolicyVersion, Statement};
pub use error::{CompileError, PolicyError, PolicyErrors};

/// Parses, compiles and evaluates arbitrary bytes, checking that the same
/// input always gives the same decision. The fuzz target
/// `policy_evaluate` and the corpus replay test both call this.
///
/// Input: one or more policy documents separated by lines `---`, then an
/// optional line `===` followed by request lines: `action resource` adds a
/// pair, `key=value` sets a single-valued key and `key=[a,b]` a
/// multi-valued one. Without `===` a fixed set of requests is used.
#[doc(hidden)]
pub fn fuzz_policy(data: &[u8]) -> Option<Decision> {
    let text = std::str::from_utf8(data).ok()?;
    let (policies, request) = match text.split_once("\n===\n") {
        Some((p, r)) => (p, Some(r)),
        None => (text, None),
    };
    let docs: Vec<PolicyDocument> = policies
        .split("\n---\n")
        .filter_map(|json| PolicyDocument::parse(json).ok())
        .collect();
    let names: Vec<String> = (0..docs.len()).map(|i| format!("p{i}")).collect();
    let set = || names.iter().map(String::as_str).zip(docs.iter());
    let compiled = CompiledPolicy::compile(set()).ok()?;
    let recompiled = CompiledPolicy::compile(set()).ok()?;

    let mut ctx = RequestContext::new();
    match request {
        Some(lines) => {
            for line in lines.lines() {
                if let Some((key, value)) = line.split_once('=') {
                    match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                        Some(list) => {
                            ctx.set_multi(key, list.split(',').filter(|v| !v.is_empty()));
                        }
                        None => {
                            ctx.set(key, value);
                        }
                    }
                } else if let Some((action, resource)) = line.split_once(' ') {
                    ctx.add_request(action, resource);
                }
            }
        }
        None => {
            ctx.add_request("s3:GetObject", "arn:aws:s3:::bucket/key")
                .add_request("ec2:RunInstances", "*");
            ctx.set("aws:username", "alice")
                .set("aws:SourceIp", "10.0.0.1")
                .set("aws:CurrentTime", "2024-01-01T00:00:00Z")
                .set_multi("aws:TagKeys", ["team", "env"]);
        }
    }
    let decision = compiled.evaluate(&ctx);
    assert_eq!(
        decision,
        compiled.evaluate(&ctx),
        "evaluation is not deterministic"
    );
    assert_eq!(
        decision,
        recompiled.evaluate(&ctx),
        "compilation is not deterministic"
    );
    if let Some(s) = decision.deciding {
        let _ = compiled.describe(s).to_string();
    }
    Some(decision)
}
