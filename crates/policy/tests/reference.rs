//! Property test: the compiled evaluator agrees with a straightforward
//! reference interpreter, written here separately from the crate's code,
//! on randomly generated policies and requests.
//!
//! The reference walks every statement of every policy in order for every
//! pair, re-reads every pattern and value on every call, expands policy
//! variables into text first and then matches with a recursive glob. It
//! shares nothing with the compiled evaluator but the parsed document.

use std::collections::HashMap;
use std::net::IpAddr;

use countersign_policy::{
    CompiledPolicy, Effect, Outcome, PolicyDocument, PolicyVersion, RequestContext,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Reference interpreter
// ---------------------------------------------------------------------------

/// A request as the reference sees it: lower-cased keys -> (values, multi).
struct Request {
    pairs: Vec<(String, String)>,
    keys: HashMap<String, (Vec<String>, bool)>,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Pat {
    Ch(char),
    Star,
    One,
}

fn glob(p: &[Pat], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some(Pat::Star) => (0..=t.len()).any(|i| glob(&p[1..], &t[i..])),
        Some(Pat::One) => !t.is_empty() && glob(&p[1..], &t[1..]),
        Some(Pat::Ch(c)) => t.first() == Some(c) && glob(&p[1..], &t[1..]),
    }
}

/// Expands a policy string into pattern elements, substituting variables.
/// `None` when a variable has no value and no default.
fn expand(s: &str, wildcards: bool, variables: bool, req: &Request) -> Option<Vec<Pat>> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if variables && chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            let close = chars[i..].iter().position(|&c| c == '}').unwrap() + i;
            let inner: String = chars[i + 2..close].iter().collect();
            i = close + 1;
            if inner == "*" || inner == "?" || inner == "$" {
                out.push(Pat::Ch(inner.chars().next().unwrap()));
                continue;
            }
            let (key, default) = match inner.find(',') {
                Some(c) => {
                    let d = inner[c + 1..].trim();
                    (
                        inner[..c].trim().to_lowercase(),
                        Some(d[1..d.len() - 1].to_string()),
                    )
                }
                None => (inner.trim().to_lowercase(), None),
            };
            let value = match req.keys.get(&key) {
                Some((vs, false)) => Some(vs[0].clone()),
                _ => default,
            }?;
            out.extend(value.chars().map(Pat::Ch));
            continue;
        }
        out.push(match chars[i] {
            '*' if wildcards => Pat::Star,
            '?' if wildcards => Pat::One,
            c => Pat::Ch(c),
        });
        i += 1;
    }
    Some(out)
}

fn text(p: &[Pat]) -> String {
    p.iter()
        .map(|x| match x {
            Pat::Ch(c) => *c,
            Pat::Star => '*',
            Pat::One => '?',
        })
        .collect()
}

fn ref_number(s: &str) -> Option<f64> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        && s.chars().filter(|c| c.is_ascii_digit()).count() > 0;
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// Seconds since the epoch, by counting days year by year.
fn ref_date(s: &str) -> Option<i64> {
    if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
        return s.parse().ok();
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [y, m, d] = parts[..] else { return None };
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    let mut days = 0;
    for year in 1970..y {
        days += if leap(year) { 366 } else { 365 };
    }
    days += month_days[..(m - 1) as usize].iter().sum::<i64>() + d - 1;
    let mut secs = days * 86400;
    if let Some(t) = time {
        let (clock, offset) = if let Some(c) = t.strip_suffix('Z') {
            (c, 0)
        } else {
            let at = t.rfind(['+', '-'])?;
            let (h, m) = t[at + 1..].split_once(':')?;
            let off = h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60;
            (&t[..at], if &t[at..at + 1] == "+" { off } else { -off })
        };
        let hms: Vec<i64> = clock
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        secs += hms[0] * 3600 + hms[1] * 60 + hms.get(2).copied().unwrap_or(0) - offset;
    }
    Some(secs)
}

fn ref_cidr(policy: &str, ip: &str) -> Option<bool> {
    let ip: IpAddr = ip.parse().ok()?;
    let (net, bits) = match policy.split_once('/') {
        Some((n, b)) => (n.parse::<IpAddr>().unwrap(), b.parse::<u32>().unwrap()),
        None => {
            let n: IpAddr = policy.parse().unwrap();
            (n, if n.is_ipv4() { 32 } else { 128 })
        }
    };
    Some(match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            bits == 0 || (u32::from(n) >> (32 - bits)) == (u32::from(a) >> (32 - bits))
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            bits == 0 || (u128::from(n) >> (128 - bits)) == (u128::from(a) >> (128 - bits))
        }
        _ => false,
    })
}

fn ref_arn(policy: &str, value: &str, variables: bool, req: &Request) -> bool {
    let Some(expanded) = expand(policy, true, variables, req) else {
        return false;
    };
    let pattern = text(&expanded);
    let pattern_parts: Vec<&str> = pattern.splitn(6, ':').collect();
    if pattern_parts.len() < 6 {
        let v: Vec<char> = value.chars().collect();
        return glob(&expanded, &v);
    }
    let value_parts: Vec<&str> = value.splitn(6, ':').collect();
    value_parts.len() == 6
        && pattern_parts.iter().zip(&value_parts).all(|(p, v)| {
            let p = expand(p, true, false, req).unwrap();
            glob(&p, &v.chars().collect::<Vec<_>>())
        })
}

/// Whether one request value matches one policy value, for the operator's
/// base name without `Not`; `None` if the request value is not of the type.
fn ref_positive(
    base: &str,
    policy: &str,
    value: &str,
    variables: bool,
    req: &Request,
) -> Option<bool> {
    let cmp = |a: f64, b: f64| -> bool {
        if base.ends_with("LessThanEquals") {
            a <= b
        } else if base.ends_with("LessThan") {
            a < b
        } else if base.ends_with("GreaterThanEquals") {
            a >= b
        } else if base.ends_with("GreaterThan") {
            a > b
        } else {
            a == b
        }
    };
    Some(match base {
        "StringEquals" => expand(policy, false, variables, req).is_some_and(|p| text(&p) == value),
        "StringEqualsIgnoreCase" => expand(policy, false, variables, req)
            .is_some_and(|p| text(&p).to_lowercase() == value.to_lowercase()),
        "StringLike" => expand(policy, true, variables, req)
            .is_some_and(|p| glob(&p, &value.chars().collect::<Vec<_>>())),
        b if b.starts_with("Numeric") => cmp(ref_number(value)?, ref_number(policy).unwrap()),
        b if b.starts_with("Date") => {
            cmp(ref_date(value)? as f64, ref_date(policy).unwrap() as f64)
        }
        "Bool" => {
            let v = value.to_lowercase();
            if v != "true" && v != "false" {
                return None;
            }
            v == policy.to_lowercase()
        }
        "BinaryEquals" => {
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
            {
                return None;
            }
            value.trim_end_matches('=') == policy.trim_end_matches('=')
        }
        "IpAddress" => ref_cidr(policy, value)?,
        "ArnLike" | "ArnEquals" => ref_arn(policy, value, variables, req),
        other => panic!("reference does not know {other}"),
    })
}

fn ref_condition(
    operator: &str,
    key: &str,
    policy_values: &[String],
    variables: bool,
    req: &Request,
) -> bool {
    let (qualifier, rest) = match operator.split_once(':') {
        Some((q, r)) => (q, r),
        None => ("", operator),
    };
    let (name, if_exists) = match rest.strip_suffix("IfExists") {
        Some(n) => (n, true),
        None => (rest, false),
    };
    let values: Option<&Vec<String>> = req
        .keys
        .get(&key.to_lowercase())
        .map(|(v, _)| v)
        .filter(|v| !v.is_empty());
    if name == "Null" {
        return policy_values
            .iter()
            .any(|p| (p == "true") == values.is_none());
    }
    let (negated, base) = match name {
        "NotIpAddress" => (true, "IpAddress".to_string()),
        n if n.contains("Not") => (true, n.replacen("Not", "", 1)),
        n => (false, n.to_string()),
    };
    let Some(values) = values else {
        return match qualifier {
            "ForAllValues" => true,
            "ForAnyValue" => false,
            _ => if_exists || negated,
        };
    };
    let passes = |v: &String| {
        let results: Vec<Option<bool>> = policy_values
            .iter()
            .map(|p| ref_positive(&base, p, v, variables, req))
            .collect();
        if results.iter().any(Option::is_none) {
            return false;
        }
        let hit = results.contains(&Some(true));
        hit != negated
    };
    match qualifier {
        "ForAllValues" => values.iter().all(passes),
        "ForAnyValue" => values.iter().any(passes),
        _ if negated => values.iter().all(passes),
        _ => values.iter().any(passes),
    }
}

type RefDecision = (Outcome, Option<(usize, usize)>, Option<usize>);

fn ref_evaluate(docs: &[PolicyDocument], req: &Request) -> RefDecision {
    let applies =
        |doc: &PolicyDocument, s: &countersign_policy::Statement, action: &str, resource: &str| {
            let vars = doc.version == PolicyVersion::V2012_10_17;
            let action_chars: Vec<char> = action.to_lowercase().chars().collect();
            let action_hit = s.action.patterns.iter().any(|p| {
                let pat = expand(&p.to_lowercase(), true, false, req).unwrap();
                glob(&pat, &action_chars)
            });
            let resource_chars: Vec<char> = resource.chars().collect();
            let resource_hit =
                s.resource.patterns.iter().any(|p| {
                    expand(p, true, vars, req).is_some_and(|pat| glob(&pat, &resource_chars))
                });
            action_hit != s.action.negated
                && resource_hit != s.resource.negated
                && s.conditions
                    .iter()
                    .all(|c| ref_condition(&c.operator, &c.key, &c.values, vars, req))
        };
    let mut first_allow = None;
    let mut not_allowed = None;
    for (i, (action, resource)) in req.pairs.iter().enumerate() {
        let mut allow = None;
        for (p, doc) in docs.iter().enumerate() {
            for (s, st) in doc.statements.iter().enumerate() {
                if applies(doc, st, action, resource) {
                    match st.effect {
                        Effect::Deny => return (Outcome::ExplicitDeny, Some((p, s)), Some(i)),
                        Effect::Allow => {
                            allow.get_or_insert((p, s));
                        }
                    }
                }
            }
        }
        match allow {
            Some(a) => {
                first_allow.get_or_insert(a);
            }
            None => {
                not_allowed.get_or_insert(i);
            }
        }
    }
    match (not_allowed, first_allow) {
        (None, Some(a)) => (Outcome::Allow, Some(a), Some(0)),
        (pair, _) => (Outcome::ImplicitDeny, None, pair),
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

const ACTIONS: &[&str] = &[
    "*",
    "s3:*",
    "s3:GetObject",
    "s3:Get*",
    "s3:*Object",
    "ec2:Describe*",
    "ec2:RunInstances",
    "*:Get*",
    "s?:GetObject",
    "S3:getobject",
    "iam:*",
    "sqs:Send*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/${aws:username}/*",
    "arn:aws:s3:::b/${aws:username, 'anon'}/*",
    "arn:aws:s3:::?/*",
    "arn:aws:s3:::b*",
    "arn:aws:ec2:*",
    "arn:aws:s3:::b/${*}",
    "arn:aws:s3:::b/a?c",
    "arn:aws:s3:::b/${k1}",
];
const REQUEST_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "S3:GETOBJECT",
    "s3:PutObject",
    "ec2:DescribeInstances",
    "ec2:RunInstances",
    "iam:GetUser",
    "sqs:SendMessage",
    "sts:GetCallerIdentity",
    "nocolon",
];
const REQUEST_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b/alice/x",
    "arn:aws:s3:::b/anon/x",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/abc",
    "arn:aws:s3:::c/x",
    "arn:aws:ec2:us-east-1:1:instance/i",
    "arn:aws:s3:::b/a",
    "*",
];

/// (operator base name, policy value pool)
const OPERATORS: &[(&str, &[&str])] = &[
    (
        "StringEquals",
        &[
            "a",
            "A",
            "b",
            "a*",
            "${aws:username}",
            "x${aws:username, 'd'}",
            "${k1}",
        ],
    ),
    ("StringNotEquals", &["a", "b", "${aws:username}"]),
    ("StringEqualsIgnoreCase", &["a", "B", "${aws:username}"]),
    ("StringNotEqualsIgnoreCase", &["A", "b"]),
    (
        "StringLike",
        &["a*", "?", "*", "al*", "${aws:username}*", "${*}"],
    ),
    ("StringNotLike", &["a*", "b?"]),
    ("NumericEquals", &["1", "2.5", "-3", "10"]),
    ("NumericNotEquals", &["1", "10"]),
    ("NumericLessThan", &["2", "10"]),
    ("NumericLessThanEquals", &["2.5", "10"]),
    ("NumericGreaterThan", &["1", "-3"]),
    ("NumericGreaterThanEquals", &["10"]),
    (
        "DateEquals",
        &["2024-01-01T00:00:00Z", "2024-01-01", "1704067200"],
    ),
    ("DateNotEquals", &["2024-01-01T00:00:00Z"]),
    (
        "DateLessThan",
        &["2024-01-01T00:00:00Z", "2023-06-01T12:00:00+02:00"],
    ),
    ("DateLessThanEquals", &["1704067200"]),
    (
        "DateGreaterThan",
        &["2023-06-01T12:00:00+02:00", "2024-01-01"],
    ),
    ("DateGreaterThanEquals", &["2024-01-01T00:00:00Z"]),
    ("Bool", &["true", "false"]),
    ("BinaryEquals", &["QQ==", "Qg=="]),
    (
        "IpAddress",
        &["10.0.0.0/8", "10.1.2.3", "::/0", "2001:db8::/32"],
    ),
    ("NotIpAddress", &["10.0.0.0/8", "2001:db8::/32"]),
    (
        "ArnLike",
        &[
            "arn:aws:s3:::b/*",
            "arn:aws:*:*:*:*",
            "arn:aws:s3:::${aws:username}",
            "arn:*",
        ],
    ),
    ("ArnEquals", &["arn:aws:s3:::alice"]),
    ("ArnNotLike", &["arn:aws:s3:::b/*"]),
    ("ArnNotEquals", &["arn:aws:s3:::alice"]),
    ("Null", &["true", "false"]),
];
const KEYS: &[&str] = &["k1", "K2", "aws:username"];
const REQUEST_VALUES: &[&str] = &[
    "a",
    "A",
    "b",
    "alice",
    "1",
    "10",
    "2.5",
    "-3",
    "2024-01-01T00:00:00Z",
    "1704067199",
    "2023-06-01T10:00:00Z",
    "10.1.2.3",
    "2001:db8::1",
    "true",
    "FALSE",
    "QQ==",
    "QQ",
    "arn:aws:s3:::b/x",
    "arn:aws:s3:::alice",
    "",
    "a*",
    "*",
    "d",
];

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(pool)
}

fn json_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
    format!("[{}]", quoted.join(","))
}

fn condition() -> impl Strategy<Value = String> {
    (
        0..OPERATORS.len(),
        0..3usize,
        any::<bool>(),
        pick(KEYS),
        prop::collection::vec(0..8usize, 1..3),
    )
        .prop_map(|(op, qualifier, if_exists, key, values)| {
            let (base, pool) = OPERATORS[op];
            let (qualifier, if_exists) = if base == "Null" {
                ("", "")
            } else {
                (
                    ["", "ForAnyValue:", "ForAllValues:"][qualifier],
                    if if_exists { "IfExists" } else { "" },
                )
            };
            let values: Vec<&str> = values.iter().map(|&i| pool[i % pool.len()]).collect();
            format!(
                r#""{qualifier}{base}{if_exists}":{{"{key}":{}}}"#,
                json_list(&values)
            )
        })
}

fn statement() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(pick(ACTIONS), 1..3),
        any::<bool>(),
        prop::collection::vec(pick(RESOURCES), 1..3),
        prop::collection::vec(condition(), 0..3),
    )
        .prop_map(
            |(deny, not_action, actions, not_resource, resources, conditions)| {
                // Distinct operators only: JSON objects keep one value per key.
                let mut seen = std::collections::HashSet::new();
                let conditions: Vec<String> = conditions
                    .into_iter()
                    .filter(|c| seen.insert(c.split(':').next().unwrap().to_owned()))
                    .collect();
                format!(
                    r#"{{"Effect":"{}","{}":{},"{}":{},"Condition":{{{}}}}}"#,
                    if deny { "Deny" } else { "Allow" },
                    if not_action { "NotAction" } else { "Action" },
                    json_list(&actions),
                    if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    },
                    json_list(&resources),
                    conditions.join(",")
                )
            },
        )
}

fn policy() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec((statement(), any::<bool>()), 1..5),
    )
        .prop_map(|(v2008, statements)| {
            let version = if v2008 { "2008-10-17" } else { "2012-10-17" };
            let statements: Vec<String> = statements
                .into_iter()
                .enumerate()
                .map(|(i, (s, sid))| {
                    if sid {
                        s.replacen('{', &format!(r#"{{"Sid":"S{i}","#), 1)
                    } else {
                        s
                    }
                })
                .collect();
            format!(
                r#"{{"Version":"{version}","Statement":[{}]}}"#,
                statements.join(",")
            )
        })
}

#[derive(Debug, Clone)]
enum KeyState {
    Missing,
    Single(&'static str),
    Multi(Vec<&'static str>),
}

fn key_state() -> impl Strategy<Value = KeyState> {
    prop_oneof![
        Just(KeyState::Missing),
        pick(REQUEST_VALUES).prop_map(KeyState::Single),
        prop::collection::vec(pick(REQUEST_VALUES), 0..3).prop_map(KeyState::Multi),
    ]
}

fn username() -> impl Strategy<Value = KeyState> {
    prop_oneof![
        Just(KeyState::Missing),
        pick(&["alice", "*", "b", "anon", "a", "A"]).prop_map(KeyState::Single),
        Just(KeyState::Multi(vec!["alice"])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn compiled_evaluator_agrees_with_reference(
        policies in prop::collection::vec(policy(), 1..3),
        pairs in prop::collection::vec((pick(REQUEST_ACTIONS), pick(REQUEST_RESOURCES)), 0..3),
        k1 in key_state(),
        k2 in key_state(),
        user in username(),
    ) {
        let docs: Vec<PolicyDocument> = policies
            .iter()
            .map(|p| PolicyDocument::parse(p).unwrap_or_else(|e| panic!("{e}\n{p}")))
            .collect();
        let names: Vec<String> = (0..docs.len()).map(|i| format!("p{i}")).collect();
        let compiled = CompiledPolicy::compile(names.iter().map(String::as_str).zip(docs.iter())).unwrap();

        let mut ctx = RequestContext::new();
        let mut req = Request { pairs: Vec::new(), keys: HashMap::new() };
        for &(a, r) in &pairs {
            ctx.add_request(a, r);
            req.pairs.push((a.to_owned(), r.to_owned()));
        }
        // The request spells keys in its own case; policies spell them in theirs.
        for (key, state) in [("K1", &k1), ("k2", &k2), ("aws:username", &user)] {
            match state {
                KeyState::Missing => {}
                KeyState::Single(v) => {
                    ctx.set(key, *v);
                    req.keys.insert(key.to_lowercase(), (vec![v.to_string()], false));
                }
                KeyState::Multi(vs) => {
                    ctx.set_multi(key, vs.iter().copied());
                    req.keys.insert(key.to_lowercase(), (vs.iter().map(|v| v.to_string()).collect(), true));
                }
            }
        }

        let got = compiled.evaluate(&ctx);
        let want = ref_evaluate(&docs, &req);
        let got_tuple = (
            got.outcome,
            got.deciding.map(|s| (s.policy_index(), s.statement_index())),
            got.request,
        );
        prop_assert_eq!(got_tuple, want, "policies: {:?}\nrequest: {:?} {:?}", policies, req.pairs, req.keys);
    }
}
