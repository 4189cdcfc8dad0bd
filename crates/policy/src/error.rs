//! Errors: every problem names where it is (a JSON path) and why.

use std::fmt;

/// One problem in a policy document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct PolicyError {
    /// JSON path of the offending element, e.g.
    /// `$.Statement[1].Condition.StringEquals["aws:username"]`.
    pub path: String,
    /// Why it is rejected.
    pub reason: String,
}

impl PolicyError {
    pub(crate) fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        PolicyError {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Every problem found in one document (never empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Why a set of policies could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A document failed validation (possible when its public fields were
    /// edited after parsing).
    #[error("policy {policy:?}: {errors}")]
    InvalidPolicy {
        /// Name the policy was given in the set.
        policy: String,
        /// What is wrong with it.
        errors: PolicyErrors,
    },
    /// Two policies in the set have the same name, so a decision could not
    /// say which one decided.
    #[error("duplicate policy name {0:?}")]
    DuplicateName(String),
    /// More statements than a decision can refer to.
    #[error("too many statements ({0})")]
    TooManyStatements(usize),
}
