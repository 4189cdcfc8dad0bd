//! The authorization decision for one classified call, shared by the
//! pipeline's Authorize stage and `countersign explain`.

use std::sync::Arc;

use countersign_identity::authority::EffectivePolicy;
use countersign_identity::directory::PrincipalKind;
use countersign_identity::{Authority, Principal, Session};
use countersign_policy::{Outcome, RequestContext};

use crate::ClientInfo;

/// What the decision needs to know about a call besides the caller.
#[derive(Debug)]
pub struct CallFacts<'a> {
    /// (IAM action, resource ARNs) pairs; all must be allowed.
    pub actions: &'a [(String, Vec<String>)],
    /// Service condition keys from the request.
    pub condition_keys: &'a [(String, String)],
    /// The client connection, when there is one.
    pub client: Option<ClientInfo>,
    /// Region of the signature's scope.
    pub region: &'a str,
    /// Unix seconds.
    pub now: u64,
}

/// The decision and what it rests on.
#[derive(Debug)]
pub struct Evaluation {
    /// Allowed or denied.
    pub outcome: Outcome,
    /// The deciding statement (`policy/Sid`), if one decided.
    pub statement: Option<String>,
    /// The grant the deciding statement came from, if any.
    pub grant: Option<String>,
    /// The first (action, resource) not allowed, when denied.
    pub denied: Option<(String, String)>,
    /// Grants in force that the session carried.
    pub grants_in_force: Vec<String>,
}

impl Evaluation {
    /// Whether the call may go ahead.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// `aws:CurrentTime` and `aws:EpochTime` for `now`, formatted once per
/// second per thread rather than per request.
fn clock_strings(now: u64) -> (Arc<str>, Arc<str>) {
    use std::cell::RefCell;
    type Clock = Option<(u64, Arc<str>, Arc<str>)>;
    thread_local! {
        static CLOCK: RefCell<Clock> = const { RefCell::new(None) };
    }
    CLOCK.with(|cell| {
        let mut cached = cell.borrow_mut();
        match &*cached {
            Some((at, time, epoch)) if *at == now => (time.clone(), epoch.clone()),
            _ => {
                let time: Arc<str> = crate::audit::rfc3339_secs(now).into();
                let epoch: Arc<str> = now.to_string().into();
                *cached = Some((now, time.clone(), epoch.clone()));
                (time, epoch)
            }
        }
    })
}

/// Evaluates `principal`'s effective policy (standing plus the grants in
/// force among `grants`) for a call, with the global condition keys the
/// gateway knows: source IP, TLS, time, region, user name, principal type
/// and tags.
pub fn evaluate_call(
    authority: &Authority,
    principal: &Arc<Principal>,
    grants: &[String],
    facts: &CallFacts<'_>,
) -> Evaluation {
    let effective = authority.effective_policy(principal, grants, facts.now);
    evaluate_with(&effective, principal, facts)
}

/// [`evaluate_call`] for an opened session: its effective policy comes from
/// the session's memo when nothing changed since the last request
/// ([`Authority::session_policy`]).
pub fn evaluate_session(
    authority: &Authority,
    session: &Session,
    facts: &CallFacts<'_>,
) -> Evaluation {
    let effective = authority.session_policy(session, facts.now);
    evaluate_with(&effective, &session.principal, facts)
}

fn evaluate_with(
    effective: &EffectivePolicy,
    principal: &Principal,
    facts: &CallFacts<'_>,
) -> Evaluation {
    let (current_time, epoch_time) = clock_strings(facts.now);
    let mut context = RequestContext::new();
    for (action, resources) in facts.actions {
        if resources.is_empty() {
            context.add_request(action.as_str(), "*");
        }
        for resource in resources {
            context.add_request(action.as_str(), resource.as_str());
        }
    }
    for (key, value) in facts.condition_keys {
        context.set(key.as_str(), value.as_str());
    }
    if let Some(info) = facts.client {
        context.set("aws:SourceIp", info.addr.ip().to_string());
        context.set(
            "aws:SecureTransport",
            if info.tls { "true" } else { "false" },
        );
    }
    context.set("aws:CurrentTime", &*current_time);
    context.set("aws:EpochTime", &*epoch_time);
    context.set("aws:RequestedRegion", facts.region);
    context.set("aws:username", principal.name.as_ref());
    context.set("aws:userid", principal.name.as_ref());
    context.set(
        "aws:PrincipalType",
        match principal.kind {
            PrincipalKind::Person => "User",
            PrincipalKind::Workload => "AssumedRole",
        },
    );
    for (key, value) in &principal.tags {
        context.set(format!("aws:PrincipalTag/{key}"), value.as_str());
    }
    let decision = effective.policy.evaluate(&context);
    let statement = decision
        .deciding
        .map(|s| effective.policy.describe(s).to_string());
    let grant = decision
        .deciding
        .and_then(|s| effective.grant_of(s))
        .map(str::to_owned);
    let denied = (!decision.is_allowed()).then(|| {
        decision
            .request
            .and_then(|i| context.requests().get(i))
            .map_or(("?".to_owned(), "?".to_owned()), |p| {
                (p.action.to_string(), p.resource.to_string())
            })
    });
    Evaluation {
        outcome: decision.outcome,
        statement,
        grant,
        denied,
        grants_in_force: effective.grants.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use countersign_identity::authority::AuthorityOptions;
    use countersign_identity::directory::{PrincipalKind, PrincipalSpec};
    use countersign_identity::{Directory, KeyRing, KeyState};
    use countersign_policy::PolicyDocument;

    use super::*;

    fn authority() -> Authority {
        let doc = PolicyDocument::parse(
            r#"{"Version":"2012-10-17","Statement":[
              {"Sid":"TeamPrefix","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/${aws:PrincipalTag/team}/*"},
              {"Sid":"OnlyTls","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
              {"Sid":"People","Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalType":"User","aws:username":"alice"}}}
            ]}"#,
        )
        .unwrap();
        let directory = Directory::new(
            vec![PrincipalSpec {
                name: "alice".into(),
                kind: PrincipalKind::Person,
                tags: BTreeMap::from([("team".to_owned(), "blue".to_owned())]),
                groups: vec![],
                policies: vec![("standing".into(), doc)],
            }],
            vec![],
            vec![],
        )
        .unwrap();
        Authority::new(
            KeyRing::from_keys([(1, KeyState::Active, &[3u8; 32][..])]).unwrap(),
            Arc::new(directory),
            AuthorityOptions::default(),
        )
    }

    fn decide(a: &Authority, action: &str, resource: &str, tls: bool) -> Evaluation {
        let principal = a.directory().principal("alice").unwrap().clone();
        let actions = [(action.to_owned(), vec![resource.to_owned()])];
        evaluate_call(
            a,
            &principal,
            &[],
            &CallFacts {
                actions: &actions,
                condition_keys: &[],
                client: Some(ClientInfo {
                    addr: "10.0.0.7:5555".parse().unwrap(),
                    tls,
                }),
                region: "us-east-1",
                now: 1_800_000_000,
            },
        )
    }

    #[test]
    fn principal_tags_type_and_transport_reach_the_policy() {
        let a = authority();
        let e = decide(&a, "s3:GetObject", "arn:aws:s3:::data/blue/x", true);
        assert!(e.is_allowed(), "{e:?}");
        assert_eq!(e.statement.as_deref(), Some("standing/TeamPrefix"));
        assert_eq!(e.grant, None);
        let e = decide(&a, "s3:GetObject", "arn:aws:s3:::data/red/x", true);
        assert_eq!(e.outcome, Outcome::ImplicitDeny);
        assert_eq!(
            e.denied,
            Some(("s3:GetObject".into(), "arn:aws:s3:::data/red/x".into()))
        );
        let e = decide(&a, "s3:GetObject", "arn:aws:s3:::data/blue/x", false);
        assert_eq!(e.outcome, Outcome::ExplicitDeny);
        assert_eq!(e.statement.as_deref(), Some("standing/OnlyTls"));
        assert!(decide(&a, "sts:GetCallerIdentity", "*", true).is_allowed());
    }
}
