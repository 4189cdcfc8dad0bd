//! Condition operators: parsing their names, compiling their values, and
//! evaluating them against a request.
//!
//! The rules, from IAM's documentation:
//! - operators in a block are ANDed, keys within an operator are ANDed, the
//!   values of one key are ORed; a negated operator (`StringNotEquals`,
//!   `NotIpAddress`, ...) is true when the request value matches *none* of
//!   them;
//! - a key absent from the request makes a positive operator false and a
//!   negated one true; `...IfExists` makes an absent key true;
//! - `ForAllValues:` is true when every request value passes (so an absent
//!   or empty key is vacuously true); `ForAnyValue:` is true when at least
//!   one does (so an absent or empty key is false, `IfExists` or not);
//! - `Null` tests presence: `true` means the key must be absent.

use std::borrow::Cow;

use crate::context::RequestContext;
use crate::pattern::{tokenize, StrPattern, Syntax, Token};
use crate::scalar::{decode_base64, parse_bool, parse_date, parse_ip, parse_number, Cidr};

/// Set qualifier in front of an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetQualifier {
    /// No qualifier: the operator tests the key's value(s) directly.
    None,
    /// `ForAnyValue:`
    AnyValue,
    /// `ForAllValues:`
    AllValues,
}

/// Comparison used by the numeric and date families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    #[inline]
    fn test<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// An operator family with its comparison, before values are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    BinaryEquals,
    IpAddress,
    Arn,
    Null,
}

/// A parsed operator name such as `ForAnyValue:StringNotLikeIfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Operator {
    qualifier: SetQualifier,
    family: Family,
    negated: bool,
    if_exists: bool,
}

/// Checks an operator name, without values.
pub(crate) fn check_operator(name: &str) -> Result<(), String> {
    parse_operator(name).map(drop)
}

fn parse_operator(name: &str) -> Result<Operator, String> {
    let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (SetQualifier::AnyValue, r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (SetQualifier::AllValues, r)
    } else {
        (SetQualifier::None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    use Cmp::*;
    use Family::*;
    let (family, negated) = match base {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        "NumericEquals" => (Numeric(Eq), false),
        "NumericNotEquals" => (Numeric(Eq), true),
        "NumericLessThan" => (Numeric(Lt), false),
        "NumericLessThanEquals" => (Numeric(Le), false),
        "NumericGreaterThan" => (Numeric(Gt), false),
        "NumericGreaterThanEquals" => (Numeric(Ge), false),
        "DateEquals" => (Date(Eq), false),
        "DateNotEquals" => (Date(Eq), true),
        "DateLessThan" => (Date(Lt), false),
        "DateLessThanEquals" => (Date(Le), false),
        "DateGreaterThan" => (Date(Gt), false),
        "DateGreaterThanEquals" => (Date(Ge), false),
        "Bool" => (Bool, false),
        "BinaryEquals" => (BinaryEquals, false),
        "IpAddress" => (IpAddress, false),
        "NotIpAddress" => (IpAddress, true),
        "ArnEquals" | "ArnLike" => (Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Arn, true),
        "Null" => (Null, false),
        _ => return Err(format!("unknown condition operator {name:?}")),
    };
    if family == Null && (if_exists || qualifier != SetQualifier::None) {
        return Err(format!(
            "{name:?}: Null takes neither a set qualifier nor IfExists"
        ));
    }
    Ok(Operator {
        qualifier,
        family,
        negated,
        if_exists,
    })
}

/// An `Arn*` condition value: six colon-separated parts matched one by one,
/// as IAM documents for `ArnLike`, or the whole value when the pattern is
/// not shaped like an ARN.
#[derive(Clone, Debug)]
enum ArnPattern {
    Parts(Box<[StrPattern]>),
    Whole(StrPattern),
}

impl ArnPattern {
    fn compile(tokens: Vec<Token>) -> ArnPattern {
        // Split literal text at the first five colons; a variable's value
        // stays inside the part it appears in.
        let mut parts: Vec<Vec<Token>> = vec![Vec::new()];
        for token in tokens {
            match token {
                Token::Lit(s) if parts.len() < 6 && s.contains(':') => {
                    let mut rest: &str = &s;
                    while parts.len() < 6 {
                        let Some((head, tail)) = rest.split_once(':') else {
                            break;
                        };
                        if !head.is_empty() {
                            parts.last_mut().unwrap().push(Token::Lit(head.into()));
                        }
                        parts.push(Vec::new());
                        rest = tail;
                    }
                    if !rest.is_empty() {
                        parts.last_mut().unwrap().push(Token::Lit(rest.into()));
                    }
                }
                other => parts.last_mut().unwrap().push(other),
            }
        }
        if parts.len() == 6 {
            ArnPattern::Parts(
                parts
                    .into_iter()
                    .map(|p| StrPattern::from_tokens(merge_literals(p), false))
                    .collect(),
            )
        } else {
            ArnPattern::Whole(StrPattern::from_tokens(
                merge_literals(parts.into_iter().flatten().collect()),
                false,
            ))
        }
    }

    #[inline]
    fn matches(&self, value: &str, ctx: &RequestContext<'_>) -> bool {
        match self {
            ArnPattern::Whole(p) => p.matches(value, ctx),
            ArnPattern::Parts(parts) => {
                let mut pieces = value.splitn(6, ':');
                parts
                    .iter()
                    .all(|p| pieces.next().is_some_and(|piece| p.matches(piece, ctx)))
            }
        }
    }
}

/// Joins adjacent literal tokens so fast paths recognise the shape.
fn merge_literals(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    for t in tokens {
        match (out.last_mut(), t) {
            (Some(Token::Lit(prev)), Token::Lit(s)) => {
                *prev = format!("{prev}{s}").into_boxed_str();
            }
            (_, t) => out.push(t),
        }
    }
    out
}

/// The compiled values of one condition key, typed by operator family.
#[derive(Clone, Debug)]
enum Test {
    StringEquals(Box<[StrPattern]>),
    StringEqualsIgnoreCase(Box<[StrPattern]>),
    StringLike(Box<[StrPattern]>),
    Numeric(Cmp, Box<[f64]>),
    Date(Cmp, Box<[i64]>),
    Bool(Box<[bool]>),
    Binary(Box<[Box<[u8]>]>),
    Ip(Box<[Cidr]>),
    Arn(Box<[ArnPattern]>),
    Null(Box<[bool]>),
}

/// One `operator: { key: values }` entry, ready to evaluate.
#[derive(Clone, Debug)]
pub(crate) struct Condition {
    /// Lower-cased condition key name.
    key: Box<str>,
    qualifier: SetQualifier,
    negated: bool,
    if_exists: bool,
    test: Test,
}

/// Compiles one condition entry. `variables` is whether `${...}` is a
/// policy variable (policy version 2012-10-17).
pub(crate) fn compile_condition(
    operator: &str,
    key: &str,
    values: &[String],
    variables: bool,
) -> Result<Condition, String> {
    let op = parse_operator(operator)?;
    if key.is_empty() {
        return Err("empty condition key".into());
    }
    if values.is_empty() {
        return Err("a condition key needs at least one value".into());
    }
    let each = |f: &dyn Fn(&str) -> Option<()>, what: &str| -> Result<(), String> {
        match values.iter().find(|v| f(v).is_none()) {
            Some(bad) => Err(format!("{bad:?} is not a valid {what} for {operator}")),
            None => Ok(()),
        }
    };
    let strings = |wildcards: bool| -> Result<Box<[StrPattern]>, String> {
        values
            .iter()
            .map(|v| {
                tokenize(
                    v,
                    Syntax {
                        wildcards,
                        variables,
                    },
                )
                .map(|t| StrPattern::from_tokens(t, false))
            })
            .collect()
    };
    let test = match op.family {
        Family::StringEquals => Test::StringEquals(strings(false)?),
        Family::StringEqualsIgnoreCase => Test::StringEqualsIgnoreCase(strings(false)?),
        Family::StringLike => Test::StringLike(strings(true)?),
        Family::Numeric(cmp) => {
            each(&|v| parse_number(v).map(drop), "number")?;
            Test::Numeric(cmp, values.iter().filter_map(|v| parse_number(v)).collect())
        }
        Family::Date(cmp) => {
            each(&|v| parse_date(v).map(drop), "date")?;
            Test::Date(cmp, values.iter().filter_map(|v| parse_date(v)).collect())
        }
        Family::Bool => {
            each(&|v| parse_bool(v).map(drop), "boolean")?;
            Test::Bool(values.iter().filter_map(|v| parse_bool(v)).collect())
        }
        Family::BinaryEquals => {
            each(&|v| decode_base64(v).map(drop), "base64 value")?;
            Test::Binary(
                values
                    .iter()
                    .filter_map(|v| decode_base64(v).map(Vec::into_boxed_slice))
                    .collect(),
            )
        }
        Family::IpAddress => {
            each(&|v| Cidr::parse(v).map(drop), "IP address or CIDR")?;
            Test::Ip(values.iter().filter_map(|v| Cidr::parse(v)).collect())
        }
        Family::Arn => Test::Arn(
            values
                .iter()
                .map(|v| {
                    tokenize(
                        v,
                        Syntax {
                            wildcards: true,
                            variables,
                        },
                    )
                    .map(ArnPattern::compile)
                })
                .collect::<Result<_, _>>()?,
        ),
        Family::Null => {
            each(&|v| parse_bool(v).map(drop), "boolean")?;
            Test::Null(values.iter().filter_map(|v| parse_bool(v)).collect())
        }
    };
    Ok(Condition {
        key: key.to_ascii_lowercase().into_boxed_str(),
        qualifier: op.qualifier,
        negated: op.negated,
        if_exists: op.if_exists,
        test,
    })
}

/// Unicode case-insensitive equality without allocating.
#[inline]
fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

impl Condition {
    /// Whether this condition holds for the request.
    #[inline]
    pub(crate) fn evaluate(&self, ctx: &RequestContext<'_>) -> bool {
        let present = ctx
            .get(&self.key)
            .map(|v| v.values())
            .filter(|v| !v.is_empty());
        if let Test::Null(expected) = &self.test {
            let absent = present.is_none();
            return expected.contains(&absent);
        }
        let Some(values) = present else {
            return match self.qualifier {
                SetQualifier::AllValues => true,
                SetQualifier::AnyValue => false,
                SetQualifier::None => self.if_exists || self.negated,
            };
        };
        let passes = |v: &Cow<'_, str>| match self.positive(v, ctx) {
            Some(hit) => hit != self.negated,
            // A request value of the wrong type satisfies nothing.
            None => false,
        };
        match self.qualifier {
            SetQualifier::AllValues => values.iter().all(passes),
            SetQualifier::AnyValue => values.iter().any(passes),
            // Without a qualifier a negated operator must hold for every
            // value (no value matches), a positive one for any value.
            SetQualifier::None if self.negated => values.iter().all(passes),
            SetQualifier::None => values.iter().any(passes),
        }
    }

    /// Whether one request value matches any policy value, ignoring
    /// negation; `None` when the request value is not of the operator's
    /// type.
    #[inline]
    fn positive(&self, value: &str, ctx: &RequestContext<'_>) -> Option<bool> {
        Some(match &self.test {
            Test::StringEquals(ps) => ps.iter().any(|p| match p {
                StrPattern::Static(g) => g.as_exact() == Some(value),
                dynamic => dynamic.resolve_literal(ctx).is_some_and(|s| s == value),
            }),
            Test::StringEqualsIgnoreCase(ps) => ps.iter().any(|p| {
                p.resolve_literal(ctx)
                    .is_some_and(|s| eq_ignore_case(&s, value))
            }),
            Test::StringLike(ps) => ps.iter().any(|p| p.matches(value, ctx)),
            Test::Numeric(cmp, ns) => {
                let n = parse_number(value)?;
                ns.iter().any(|&p| cmp.test(n, p))
            }
            Test::Date(cmp, ds) => {
                let d = parse_date(value)?;
                ds.iter().any(|&p| cmp.test(d, p))
            }
            Test::Bool(bs) => {
                let b = parse_bool(value)?;
                bs.contains(&b)
            }
            Test::Binary(bins) => {
                let bytes = decode_base64(value)?;
                bins.iter().any(|b| **b == *bytes)
            }
            Test::Ip(nets) => {
                let ip = parse_ip(value)?;
                nets.iter().any(|n| n.contains(ip))
            }
            Test::Arn(ps) => ps.iter().any(|p| p.matches(value, ctx)),
            Test::Null(_) => unreachable!("Null is handled before per-value tests"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names() {
        let op = parse_operator("ForAnyValue:StringNotLikeIfExists").unwrap();
        assert_eq!(op.qualifier, SetQualifier::AnyValue);
        assert_eq!(op.family, Family::StringLike);
        assert!(op.negated && op.if_exists);
        assert!(parse_operator("stringequals").is_err());
        assert!(parse_operator("NullIfExists").is_err());
        assert!(parse_operator("ForAllValues:Null").is_err());
        assert!(parse_operator("BinaryEqualsIfExists").is_ok());
    }

    #[test]
    fn arn_parts_keep_colons_in_resource() {
        let c = compile_condition(
            "ArnLike",
            "aws:SourceArn",
            &["arn:aws:s3:::b/*".into()],
            true,
        )
        .unwrap();
        let mut ctx = RequestContext::new();
        ctx.set("aws:SourceArn", "arn:aws:s3:::b/x:y");
        assert!(c.evaluate(&ctx));
        ctx.set("aws:SourceArn", "arn:aws:s3:::c/x");
        assert!(!c.evaluate(&ctx));
    }
}
