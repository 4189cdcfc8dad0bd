//! IAM identity-policy documents: the JSON grammar and its validation.

use serde_json::{Map, Value};

use crate::error::{PolicyError, PolicyErrors};

/// The policy language version, which decides how `${...}` is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17`: `${...}` is a policy variable.
    V2012_10_17,
    /// `2008-10-17` (also what a document without `Version` gets): `${...}`
    /// is literal text.
    V2008_10_17,
}

impl PolicyVersion {
    /// Whether `${...}` is a policy variable in this version.
    pub fn has_variables(self) -> bool {
        self == PolicyVersion::V2012_10_17
    }
}

/// Whether a statement allows or denies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `"Effect": "Allow"`
    Allow,
    /// `"Effect": "Deny"`
    Deny,
}

/// An `Action` / `NotAction` or `Resource` / `NotResource` element.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatternList {
    /// `true` for `NotAction` / `NotResource`: the statement applies to
    /// everything the patterns do *not* match.
    pub negated: bool,
    /// The patterns as written.
    pub patterns: Vec<String>,
}

/// One `operator: { key: values }` entry of a `Condition` block. Values are
/// kept as text (JSON numbers and booleans in their JSON spelling).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConditionEntry {
    /// Operator as written, e.g. `ForAnyValue:StringLike`.
    pub operator: String,
    /// Condition key as written, e.g. `aws:SourceIp`.
    pub key: String,
    /// Values, ORed (NORed for negated operators).
    pub values: Vec<String>,
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statement {
    /// `Sid`, if any.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Action` or `NotAction`.
    pub action: PatternList,
    /// `Resource` or `NotResource`.
    pub resource: PatternList,
    /// `Condition` entries, all of which must hold.
    pub conditions: Vec<ConditionEntry>,
}

/// A parsed and validated identity-policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyDocument {
    /// `Version`.
    pub version: PolicyVersion,
    /// `Id`, if any.
    pub id: Option<String>,
    /// `Statement`, always as a list.
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    /// Parses and validates a policy document, reporting every error found
    /// (each naming the JSON path of the offending element and why).
    pub fn parse(json: &str) -> Result<PolicyDocument, PolicyErrors> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| PolicyErrors(vec![PolicyError::new("$", format!("invalid JSON: {e}"))]))?;
        Self::from_value(&value)
    }

    /// Like [`PolicyDocument::parse`], from an already parsed JSON value.
    pub fn from_value(value: &Value) -> Result<PolicyDocument, PolicyErrors> {
        let mut errors = Vec::new();
        let doc = parse_document(value, &mut errors);
        match doc {
            Some(doc) if errors.is_empty() => Ok(doc),
            _ => Err(PolicyErrors(errors)),
        }
    }
}

/// JSON path of a member: `base.Name`, or `base["odd:name"]`.
pub(crate) fn member_path(base: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{base}.{key}")
    } else {
        format!("{base}[{}]", Value::String(key.to_owned()))
    }
}

fn parse_document(value: &Value, errors: &mut Vec<PolicyError>) -> Option<PolicyDocument> {
    let Some(obj) = value.as_object() else {
        errors.push(PolicyError::new(
            "$",
            "a policy document must be a JSON object",
        ));
        return None;
    };
    let mut version = PolicyVersion::V2008_10_17;
    let mut id = None;
    let mut statement = None;
    for (key, v) in obj {
        let path = member_path("$", key);
        match key.as_str() {
            "Version" => match v.as_str() {
                Some("2012-10-17") => version = PolicyVersion::V2012_10_17,
                Some("2008-10-17") => version = PolicyVersion::V2008_10_17,
                _ => errors.push(PolicyError::new(
                    path,
                    "Version must be \"2012-10-17\" or \"2008-10-17\"",
                )),
            },
            "Id" => match v.as_str() {
                Some(s) => id = Some(s.to_owned()),
                None => errors.push(PolicyError::new(path, "Id must be a string")),
            },
            "Statement" => statement = Some(v),
            _ => errors.push(PolicyError::new(
                path,
                format!("unknown policy element {key:?}"),
            )),
        }
    }
    let Some(statement) = statement else {
        errors.push(PolicyError::new("$", "missing required element Statement"));
        return None;
    };
    let mut statements = Vec::new();
    match statement {
        Value::Object(o) => {
            statements.extend(parse_statement(o, "$.Statement", version, errors));
        }
        Value::Array(items) => {
            if items.is_empty() {
                errors.push(PolicyError::new(
                    "$.Statement",
                    "a policy needs at least one statement",
                ));
            }
            for (i, item) in items.iter().enumerate() {
                let path = format!("$.Statement[{i}]");
                match item.as_object() {
                    Some(o) => statements.extend(parse_statement(o, &path, version, errors)),
                    None => {
                        errors.push(PolicyError::new(path, "a statement must be a JSON object"))
                    }
                }
            }
        }
        _ => errors.push(PolicyError::new(
            "$.Statement",
            "Statement must be an object or an array of objects",
        )),
    }
    let mut seen = std::collections::HashSet::new();
    for (i, s) in statements.iter().enumerate() {
        if let Some(sid) = &s.sid {
            if !seen.insert(sid.as_str()) {
                errors.push(PolicyError::new(
                    format!("$.Statement[{i}].Sid"),
                    format!("duplicate Sid {sid:?}: statement ids must be unique within a policy"),
                ));
            }
        }
    }
    Some(PolicyDocument {
        version,
        id,
        statements,
    })
}

/// Reads a string-or-array-of-strings element.
fn string_list(value: &Value, path: &str, errors: &mut Vec<PolicyError>) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => {
            if items.is_empty() {
                errors.push(PolicyError::new(path, "must not be an empty list"));
                return None;
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) => out.push(s.to_owned()),
                    None => {
                        errors.push(PolicyError::new(format!("{path}[{i}]"), "must be a string"))
                    }
                }
            }
            (out.len() == items.len()).then_some(out)
        }
        _ => {
            errors.push(PolicyError::new(
                path,
                "must be a string or an array of strings",
            ));
            None
        }
    }
}

/// A condition value as text: JSON strings, numbers and booleans.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_statement(
    obj: &Map<String, Value>,
    path: &str,
    version: PolicyVersion,
    errors: &mut Vec<PolicyError>,
) -> Option<Statement> {
    let before = errors.len();
    let mut sid = None;
    let mut effect = None;
    let mut action: Option<PatternList> = None;
    let mut resource: Option<PatternList> = None;
    let mut conditions = Vec::new();
    for (key, v) in obj {
        let field = member_path(path, key);
        match key.as_str() {
            "Sid" => match v.as_str() {
                Some(s) if s.chars().all(|c| c.is_ascii_alphanumeric()) => sid = Some(s.to_owned()),
                Some(_) => errors.push(PolicyError::new(
                    field,
                    "Sid may contain only ASCII letters and digits",
                )),
                None => errors.push(PolicyError::new(field, "Sid must be a string")),
            },
            "Effect" => match v.as_str() {
                Some("Allow") => effect = Some(Effect::Allow),
                Some("Deny") => effect = Some(Effect::Deny),
                _ => errors.push(PolicyError::new(
                    field,
                    "Effect must be \"Allow\" or \"Deny\"",
                )),
            },
            "Action" | "NotAction" => {
                if obj.contains_key("Action") && obj.contains_key("NotAction") {
                    if key == "NotAction" {
                        errors.push(PolicyError::new(
                            field,
                            "a statement takes Action or NotAction, not both",
                        ));
                    }
                    continue;
                }
                if let Some(list) = string_list(v, &field, errors) {
                    for (i, p) in list.iter().enumerate() {
                        let valid = p == "*"
                            || p.split_once(':')
                                .is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty());
                        if !valid {
                            let at = if v.is_array() {
                                format!("{field}[{i}]")
                            } else {
                                field.clone()
                            };
                            errors.push(PolicyError::new(
                                at,
                                format!("action {p:?} must be \"*\" or \"service:action\""),
                            ));
                        }
                    }
                    action = Some(PatternList {
                        negated: key == "NotAction",
                        patterns: list,
                    });
                }
            }
            "Resource" | "NotResource" => {
                if obj.contains_key("Resource") && obj.contains_key("NotResource") {
                    if key == "NotResource" {
                        errors.push(PolicyError::new(
                            field,
                            "a statement takes Resource or NotResource, not both",
                        ));
                    }
                    continue;
                }
                if let Some(list) = string_list(v, &field, errors) {
                    for (i, p) in list.iter().enumerate() {
                        let at = || {
                            if v.is_array() {
                                format!("{field}[{i}]")
                            } else {
                                field.clone()
                            }
                        };
                        if p != "*" && !p.starts_with("arn:") {
                            errors.push(PolicyError::new(
                                at(),
                                format!("resource {p:?} must be an ARN or \"*\""),
                            ));
                        } else if let Err(reason) = crate::compiled::check_resource(p, version) {
                            errors.push(PolicyError::new(at(), reason));
                        }
                    }
                    resource = Some(PatternList {
                        negated: key == "NotResource",
                        patterns: list,
                    });
                }
            }
            "Condition" => conditions = parse_condition_block(v, &field, version, errors),
            "Principal" | "NotPrincipal" => errors.push(PolicyError::new(
                field,
                format!("{key} is not allowed in an identity policy"),
            )),
            _ => errors.push(PolicyError::new(
                field,
                format!("unknown statement element {key:?}"),
            )),
        }
    }
    if effect.is_none() && !obj.contains_key("Effect") {
        errors.push(PolicyError::new(path, "missing required element Effect"));
    }
    if action.is_none() && !obj.contains_key("Action") && !obj.contains_key("NotAction") {
        errors.push(PolicyError::new(
            path,
            "a statement needs Action or NotAction",
        ));
    }
    if resource.is_none() && !obj.contains_key("Resource") && !obj.contains_key("NotResource") {
        errors.push(PolicyError::new(
            path,
            "a statement needs Resource or NotResource",
        ));
    }
    if errors.len() != before {
        return None;
    }
    Some(Statement {
        sid,
        effect: effect?,
        action: action?,
        resource: resource?,
        conditions,
    })
}

fn parse_condition_block(
    value: &Value,
    path: &str,
    version: PolicyVersion,
    errors: &mut Vec<PolicyError>,
) -> Vec<ConditionEntry> {
    let mut out = Vec::new();
    let Some(block) = value.as_object() else {
        errors.push(PolicyError::new(
            path,
            "Condition must be an object of operators",
        ));
        return out;
    };
    for (operator, keys) in block {
        let op_path = member_path(path, operator);
        if let Err(reason) = crate::condition::check_operator(operator) {
            errors.push(PolicyError::new(op_path, reason));
            continue;
        }
        let Some(keys) = keys.as_object() else {
            errors.push(PolicyError::new(
                op_path,
                "an operator must map condition keys to values",
            ));
            continue;
        };
        if keys.is_empty() {
            errors.push(PolicyError::new(
                op_path.clone(),
                "an operator needs at least one condition key",
            ));
        }
        for (key, raw) in keys {
            let key_path = member_path(&op_path, key);
            let values: Option<Vec<String>> = match raw {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let text = scalar_text(item);
                        if text.is_none() {
                            errors.push(PolicyError::new(
                                format!("{key_path}[{i}]"),
                                "a condition value must be a string, number or boolean",
                            ));
                        }
                        text
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect(),
                other => match scalar_text(other) {
                    Some(t) => Some(vec![t]),
                    None => {
                        errors.push(PolicyError::new(
                            key_path.clone(),
                            "a condition value must be a string, number, boolean or an array of them",
                        ));
                        None
                    }
                },
            };
            let Some(values) = values else { continue };
            match crate::condition::compile_condition(
                operator,
                key,
                &values,
                version.has_variables(),
            ) {
                Ok(_) => out.push(ConditionEntry {
                    operator: operator.clone(),
                    key: key.clone(),
                    values,
                }),
                Err(reason) => errors.push(PolicyError::new(key_path, reason)),
            }
        }
    }
    out
}
