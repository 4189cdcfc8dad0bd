//! The compiled form of an identity's effective policy, and its evaluator.
//!
//! Statements are indexed by the service prefix of their actions, then by
//! effect, then by exact action name, so evaluating a request looks at the
//! handful of statements that can possibly apply instead of all of them.
//! Within an index, statements are kept in document order (policy order,
//! then statement order): the first match in that order is the deciding
//! statement, which makes decisions deterministic and easy to explain.

use std::cmp::Ordering;
use std::fmt;

use crate::condition::{compile_condition, Condition};
use crate::context::RequestContext;
use crate::document::{member_path, Effect, PolicyDocument, PolicyVersion};
use crate::error::{CompileError, PolicyError, PolicyErrors};
use crate::pattern::{tokenize, Glob, StrPattern, Syntax};

/// The outcome of an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every `(action, resource)` pair is allowed by some statement and no
    /// statement denies any of them.
    Allow,
    /// A `Deny` statement matches one of the pairs.
    ExplicitDeny,
    /// No `Deny` matches, but some pair is not allowed by any statement.
    ImplicitDeny,
}

impl Outcome {
    /// `allow`, `explicit_deny` or `implicit_deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::ExplicitDeny => "explicit_deny",
            Outcome::ImplicitDeny => "implicit_deny",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Refers to one statement of a [`CompiledPolicy`]; resolve it to names
/// with [`CompiledPolicy::describe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatementRef {
    policy: u32,
    statement: u32,
}

impl StatementRef {
    /// Position of the policy in the set given to [`CompiledPolicy::compile`].
    pub fn policy_index(self) -> usize {
        self.policy as usize
    }
    /// Position of the statement in its policy's `Statement` list.
    pub fn statement_index(self) -> usize {
        self.statement as usize
    }
}

/// What an evaluation decided and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Allow, explicit deny or implicit deny.
    pub outcome: Outcome,
    /// The statement that decided: the first matching `Deny` for an explicit
    /// deny, the first matching `Allow` of the first pair for an allow,
    /// `None` for an implicit deny.
    pub deciding: Option<StatementRef>,
    /// Index of the `(action, resource)` pair the decision is about: the
    /// denied pair for a deny, the first pair for an allow; `None` when
    /// the request had no pairs.
    pub request: Option<usize>,
}

impl Decision {
    /// Whether the request may proceed.
    #[inline]
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}

/// A statement's human-readable identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatementLabel<'a> {
    /// The policy's name in the set.
    pub policy: &'a str,
    /// The statement's `Sid`, if it has one.
    pub sid: Option<&'a str>,
    /// The statement's position in its policy.
    pub index: usize,
}

impl fmt::Display for StatementLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sid {
            Some(sid) if !sid.is_empty() => write!(f, "{}/{}", self.policy, sid),
            _ => write!(f, "{}/Statement[{}]", self.policy, self.index),
        }
    }
}

struct PolicyInfo {
    name: Box<str>,
    sids: Vec<Option<Box<str>>>,
}

struct CompiledStatement {
    reference: StatementRef,
    resource_negated: bool,
    resources: Box<[StrPattern]>,
    conditions: Box<[Condition]>,
}

/// A statement's action element, as the index builder needs it.
struct StatementActions {
    effect: Effect,
    filter: ResourceFilter,
    /// `NotAction`.
    negated: bool,
    /// Each pattern with its literal service prefix (lower-cased), if any.
    patterns: Vec<(Option<Box<str>>, Glob)>,
}

/// A necessary condition for a statement's `Resource` to match, checked
/// inline in the candidate lists before the statement itself is touched:
/// the last (up to) eight bytes of the literal prefix every pattern of the
/// statement shares. With hundreds of statements naming the same action,
/// this keeps the scan to one short compare per statement instead of a
/// chain of pointer loads.
#[derive(Clone, Copy, Debug, Default)]
struct ResourceFilter {
    /// Length of the shared literal prefix (0: admits everything).
    prefix_len: u32,
    tail_len: u8,
    tail: [u8; 8],
}

impl ResourceFilter {
    fn new(prefix: &[u8]) -> ResourceFilter {
        let tail_len = prefix.len().min(8);
        let mut tail = [0; 8];
        tail[..tail_len].copy_from_slice(&prefix[prefix.len() - tail_len..]);
        ResourceFilter {
            prefix_len: u32::try_from(prefix.len()).unwrap_or(0),
            tail_len: tail_len as u8,
            tail,
        }
    }

    #[inline(always)]
    fn admits(&self, resource: &[u8]) -> bool {
        let end = self.prefix_len as usize;
        let start = end - self.tail_len as usize;
        resource.len() >= end && resource[start..end] == self.tail[..self.tail_len as usize]
    }
}

/// A statement named by a literal action.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    statement: u32,
    filter: ResourceFilter,
}

/// Statements whose action element names a pattern, not a literal action.
struct PatternEntry {
    statement: u32,
    filter: ResourceFilter,
    /// `NotAction`: the statement applies when no pattern matches.
    negated: bool,
    /// The statement's action patterns that can match this service.
    actions: Box<[Glob]>,
}

/// Statements of one effect that may apply to actions of one service.
#[derive(Default)]
struct ActionIndex {
    /// Lower-cased literal action -> every statement whose action element
    /// matches it (literally, by wildcard or by `NotAction`), in order.
    exact: Vec<(Box<str>, Vec<Candidate>)>,
    /// Statements with wildcard actions or `NotAction`, in order: the
    /// candidates for actions no statement names literally.
    patterns: Vec<PatternEntry>,
}

#[derive(Default)]
struct ServiceIndex {
    deny: ActionIndex,
    allow: ActionIndex,
}

/// The compiled effective policy of one identity: build it once with
/// [`CompiledPolicy::compile`], evaluate it per request with
/// [`CompiledPolicy::evaluate`]. It is immutable and `Send + Sync`, so one
/// value can serve every thread.
pub struct CompiledPolicy {
    policies: Vec<PolicyInfo>,
    statements: Vec<CompiledStatement>,
    /// Sorted by lower-cased service prefix.
    services: Vec<(Box<str>, ServiceIndex)>,
    /// For actions of any service no statement names literally.
    other_services: ServiceIndex,
}

impl fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledPolicy")
            .field(
                "policies",
                &self.policies.iter().map(|p| &*p.name).collect::<Vec<_>>(),
            )
            .field("statements", &self.statements.len())
            .finish()
    }
}

/// Checks a `Resource` pattern's policy-variable syntax.
pub(crate) fn check_resource(pattern: &str, version: PolicyVersion) -> Result<(), String> {
    tokenize(pattern, resource_syntax(version)).map(drop)
}

fn resource_syntax(version: PolicyVersion) -> Syntax {
    Syntax {
        wildcards: true,
        variables: version.has_variables(),
    }
}

/// The service part of an action pattern, if it is literal.
fn literal_service(pattern: &str) -> Option<&str> {
    let (service, _) = pattern.split_once(':')?;
    (!service.contains(['*', '?'])).then_some(service)
}

/// Compares a lower-cased key with text, folding the text's ASCII case.
#[inline]
fn cmp_folded(key: &str, text: &str) -> Ordering {
    key.bytes()
        .cmp(text.bytes().map(|b| b.to_ascii_lowercase()))
}

impl CompiledPolicy {
    /// Compiles the named policies that make up one identity's effective
    /// policy. Names must be unique; they are what decisions report.
    pub fn compile<'a, I>(policies: I) -> Result<CompiledPolicy, CompileError>
    where
        I: IntoIterator<Item = (&'a str, &'a PolicyDocument)>,
    {
        let mut infos: Vec<PolicyInfo> = Vec::new();
        let mut statements = Vec::new();
        let mut actions: Vec<StatementActions> = Vec::new();
        for (policy_index, (name, doc)) in policies.into_iter().enumerate() {
            if infos.iter().any(|p| &*p.name == name) {
                return Err(CompileError::DuplicateName(name.to_owned()));
            }
            let mut errors = Vec::new();
            let variables = doc.version.has_variables();
            for (index, st) in doc.statements.iter().enumerate() {
                let path = format!("$.Statement[{index}]");
                let reference = StatementRef {
                    policy: u32::try_from(policy_index)
                        .map_err(|_| CompileError::TooManyStatements(policy_index))?,
                    statement: u32::try_from(index)
                        .map_err(|_| CompileError::TooManyStatements(index))?,
                };
                let patterns = st
                    .action
                    .patterns
                    .iter()
                    .map(|p| {
                        let tokens = tokenize(
                            p,
                            Syntax {
                                wildcards: true,
                                variables: false,
                            },
                        )
                        .expect("tokenizing without variables cannot fail");
                        let service =
                            literal_service(p).map(|s| s.to_ascii_lowercase().into_boxed_str());
                        (service, Glob::from_tokens(&tokens, true))
                    })
                    .collect();
                let mut resources = Vec::with_capacity(st.resource.patterns.len());
                for p in &st.resource.patterns {
                    match tokenize(p, resource_syntax(doc.version)) {
                        Ok(tokens) => resources.push(StrPattern::from_tokens(tokens, false)),
                        Err(reason) => {
                            errors.push(PolicyError::new(format!("{path}.Resource"), reason))
                        }
                    }
                }
                let mut conditions = Vec::with_capacity(st.conditions.len());
                for c in &st.conditions {
                    match compile_condition(&c.operator, &c.key, &c.values, variables) {
                        Ok(cond) => conditions.push(cond),
                        Err(reason) => errors.push(PolicyError::new(
                            member_path(
                                &member_path(&format!("{path}.Condition"), &c.operator),
                                &c.key,
                            ),
                            reason,
                        )),
                    }
                }
                let filter = if st.resource.negated {
                    ResourceFilter::default()
                } else {
                    ResourceFilter::new(shared_prefix(&resources))
                };
                actions.push(StatementActions {
                    effect: st.effect,
                    filter,
                    negated: st.action.negated,
                    patterns,
                });
                statements.push(CompiledStatement {
                    reference,
                    resource_negated: st.resource.negated,
                    resources: resources.into_boxed_slice(),
                    conditions: conditions.into_boxed_slice(),
                });
            }
            if !errors.is_empty() {
                return Err(CompileError::InvalidPolicy {
                    policy: name.to_owned(),
                    errors: PolicyErrors(errors),
                });
            }
            infos.push(PolicyInfo {
                name: name.into(),
                sids: doc
                    .statements
                    .iter()
                    .map(|s| s.sid.as_deref().map(Box::from))
                    .collect(),
            });
        }
        if u32::try_from(statements.len()).is_err() {
            return Err(CompileError::TooManyStatements(statements.len()));
        }

        let mut service_names: Vec<Box<str>> = actions
            .iter()
            .flat_map(|a| a.patterns.iter().filter_map(|(s, _)| s.clone()))
            .collect();
        service_names.sort_unstable();
        service_names.dedup();
        let services = service_names
            .into_iter()
            .map(|name| {
                let index = build_service_index(&actions, Some(&name));
                (name, index)
            })
            .collect();
        let other_services = build_service_index(&actions, None);
        Ok(CompiledPolicy {
            policies: infos,
            statements,
            services,
            other_services,
        })
    }

    /// Number of statements across all policies.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Names the statement a decision refers to.
    pub fn describe(&self, statement: StatementRef) -> StatementLabel<'_> {
        let policy = &self.policies[statement.policy_index()];
        StatementLabel {
            policy: &policy.name,
            sid: policy.sids[statement.statement_index()].as_deref(),
            index: statement.statement_index(),
        }
    }

    /// Decides a request: any matching `Deny` wins; otherwise every pair
    /// needs a matching `Allow`; otherwise the request is implicitly
    /// denied. A request with no pairs is implicitly denied.
    pub fn evaluate(&self, ctx: &RequestContext<'_>) -> Decision {
        let mut first_allow: Option<u32> = None;
        let mut not_allowed: Option<usize> = None;
        for (i, pair) in ctx.requests().iter().enumerate() {
            let index = self.service_index(&pair.action);
            if let Some(s) = self.first_match(&index.deny, &pair.action, &pair.resource, ctx) {
                return Decision {
                    outcome: Outcome::ExplicitDeny,
                    deciding: Some(self.statements[s as usize].reference),
                    request: Some(i),
                };
            }
            // Once a pair is not allowed only a Deny can change the outcome.
            if not_allowed.is_none() {
                match self.first_match(&index.allow, &pair.action, &pair.resource, ctx) {
                    Some(s) => {
                        first_allow.get_or_insert(s);
                    }
                    None => not_allowed = Some(i),
                }
            }
        }
        match (not_allowed, first_allow) {
            (None, Some(s)) => Decision {
                outcome: Outcome::Allow,
                deciding: Some(self.statements[s as usize].reference),
                request: Some(0),
            },
            (pair, _) => Decision {
                outcome: Outcome::ImplicitDeny,
                deciding: None,
                request: pair,
            },
        }
    }

    #[inline]
    fn service_index(&self, action: &str) -> &ServiceIndex {
        let Some((service, _)) = action.split_once(':') else {
            return &self.other_services;
        };
        match self
            .services
            .binary_search_by(|(name, _)| cmp_folded(name, service))
        {
            Ok(i) => &self.services[i].1,
            Err(_) => &self.other_services,
        }
    }

    /// The first statement (in document order) of `index` that applies.
    #[inline]
    fn first_match(
        &self,
        index: &ActionIndex,
        action: &str,
        resource: &str,
        ctx: &RequestContext<'_>,
    ) -> Option<u32> {
        let bytes = resource.as_bytes();
        match index
            .exact
            .binary_search_by(|(name, _)| cmp_folded(name, action))
        {
            // A literal action some statement names: its candidates were
            // resolved at compile time, wildcard and NotAction ones included.
            Ok(i) => index.exact[i]
                .1
                .iter()
                .find(|c| c.filter.admits(bytes) && self.applies(c.statement, resource, ctx))
                .map(|c| c.statement),
            Err(_) => index
                .patterns
                .iter()
                .find(|entry| {
                    entry.filter.admits(bytes)
                        && entry.actions.iter().any(|g| g.matches(action, true)) != entry.negated
                        && self.applies(entry.statement, resource, ctx)
                })
                .map(|entry| entry.statement),
        }
    }

    /// Whether a statement whose action matched applies to the resource and
    /// satisfies its conditions.
    #[inline]
    fn applies(&self, statement: u32, resource: &str, ctx: &RequestContext<'_>) -> bool {
        let st = &self.statements[statement as usize];
        let named = st.resources.iter().any(|p| p.matches(resource, ctx));
        named != st.resource_negated && st.conditions.iter().all(|c| c.evaluate(ctx))
    }
}

/// The longest literal prefix shared by every pattern of a statement.
fn shared_prefix(patterns: &[StrPattern]) -> &[u8] {
    let mut iter = patterns.iter().map(|p| p.literal_prefix().as_bytes());
    let Some(mut prefix) = iter.next() else {
        return &[];
    };
    for next in iter {
        let common = prefix.iter().zip(next).take_while(|(a, b)| a == b).count();
        prefix = &prefix[..common];
    }
    prefix
}

/// Builds the index of statements that can apply to actions of `service`
/// (`None`: a service no statement names literally).
fn build_service_index(actions: &[StatementActions], service: Option<&str>) -> ServiceIndex {
    let mut index = ServiceIndex::default();
    for (
        statement,
        StatementActions {
            effect,
            filter,
            negated,
            patterns,
        },
    ) in actions.iter().enumerate()
    {
        let statement = statement as u32;
        let filter = *filter;
        let target = match effect {
            Effect::Deny => &mut index.deny,
            Effect::Allow => &mut index.allow,
        };
        let applicable: Vec<&Glob> = patterns
            .iter()
            .filter(|(s, _)| s.is_none() || s.as_deref() == service)
            .map(|(_, g)| g)
            .collect();
        if *negated {
            target.patterns.push(PatternEntry {
                statement,
                filter,
                negated: true,
                actions: applicable.into_iter().cloned().collect(),
            });
            continue;
        }
        let mut wild = Vec::new();
        for glob in applicable {
            match glob.as_exact() {
                Some(name) => match target.exact.binary_search_by(|(n, _)| (**n).cmp(name)) {
                    Ok(i) => {
                        let list = &mut target.exact[i].1;
                        if list.last().is_none_or(|c| c.statement != statement) {
                            list.push(Candidate { statement, filter });
                        }
                    }
                    Err(i) => target
                        .exact
                        .insert(i, (name.into(), vec![Candidate { statement, filter }])),
                },
                None => wild.push(glob.clone()),
            }
        }
        if !wild.is_empty() {
            target.patterns.push(PatternEntry {
                statement,
                filter,
                negated: false,
                actions: wild.into_boxed_slice(),
            });
        }
    }
    // Fold into each literal action's list the pattern statements that match
    // it, so evaluating a named action scans one list and matches no glob.
    for target in [&mut index.deny, &mut index.allow] {
        let ActionIndex { exact, patterns } = target;
        for (name, list) in exact.iter_mut() {
            let matching = patterns.iter().filter(|entry| {
                entry.actions.iter().any(|g| g.matches(name, true)) != entry.negated
            });
            let mut merged: Vec<Candidate> = list
                .iter()
                .copied()
                .chain(matching.map(|entry| Candidate {
                    statement: entry.statement,
                    filter: entry.filter,
                }))
                .collect();
            merged.sort_by_key(|c| c.statement);
            merged.dedup_by_key(|c| c.statement);
            *list = merged;
        }
    }
    index
}
