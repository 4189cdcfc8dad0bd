//! The request side of an evaluation: what is being done, to what, and the
//! condition keys that describe the call.

use std::borrow::Cow;

/// The values of one condition key in a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextValue<'a> {
    /// A single-valued key such as `aws:SourceIp` or `aws:CurrentTime`.
    Single(Cow<'a, str>),
    /// A multi-valued key such as `aws:TagKeys`; may be empty.
    Multi(Vec<Cow<'a, str>>),
}

impl<'a> ContextValue<'a> {
    /// The values as a slice (one element for a single-valued key).
    #[inline]
    pub fn values(&self) -> &[Cow<'a, str>] {
        match self {
            ContextValue::Single(v) => std::slice::from_ref(v),
            ContextValue::Multi(vs) => vs,
        }
    }
}

/// One `(action, resource)` pair a call needs. A call is allowed only if
/// every one of its pairs is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionResource<'a> {
    /// IAM action, `service:Name` (matched case-insensitively).
    pub action: Cow<'a, str>,
    /// Resource ARN (matched case-sensitively), or `*` for actions that
    /// take no resource.
    pub resource: Cow<'a, str>,
}

/// Everything the evaluator needs to know about one call.
///
/// Built per request by the caller; borrowing lets the caller avoid copying
/// strings it already holds. Condition key names are compared
/// ASCII-case-insensitively, as IAM does. The current time for
/// `aws:CurrentTime` / `aws:EpochTime` is an ordinary key the caller sets:
/// this crate never reads a clock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestContext<'a> {
    requests: Vec<ActionResource<'a>>,
    keys: Vec<(Cow<'a, str>, ContextValue<'a>)>,
}

impl<'a> RequestContext<'a> {
    /// An empty context: no pairs (which evaluates to an implicit deny) and
    /// no condition keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context for one `(action, resource)` pair.
    pub fn for_request(action: impl Into<Cow<'a, str>>, resource: impl Into<Cow<'a, str>>) -> Self {
        let mut ctx = Self::new();
        ctx.add_request(action, resource);
        ctx
    }

    /// Adds an `(action, resource)` pair the call needs.
    pub fn add_request(
        &mut self,
        action: impl Into<Cow<'a, str>>,
        resource: impl Into<Cow<'a, str>>,
    ) -> &mut Self {
        self.requests.push(ActionResource {
            action: action.into(),
            resource: resource.into(),
        });
        self
    }

    /// Sets a single-valued condition key, replacing any earlier value.
    pub fn set(
        &mut self,
        key: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> &mut Self {
        self.set_value(key.into(), ContextValue::Single(value.into()))
    }

    /// Sets a multi-valued condition key (possibly empty), replacing any
    /// earlier value.
    pub fn set_multi<V: Into<Cow<'a, str>>>(
        &mut self,
        key: impl Into<Cow<'a, str>>,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        let values = values.into_iter().map(Into::into).collect();
        self.set_value(key.into(), ContextValue::Multi(values))
    }

    fn set_value(&mut self, key: Cow<'a, str>, value: ContextValue<'a>) -> &mut Self {
        match self
            .keys
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            Some(slot) => slot.1 = value,
            None => self.keys.push((key, value)),
        }
        self
    }

    /// The `(action, resource)` pairs, in the order they were added.
    pub fn requests(&self) -> &[ActionResource<'a>] {
        &self.requests
    }

    /// Looks a condition key up, ignoring ASCII case.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&ContextValue<'a>> {
        self.keys
            .iter()
            .find(|(k, _)| k.len() == key.len() && k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// The value a policy variable `${key}` takes: only single-valued keys
    /// can be substituted.
    #[inline]
    pub(crate) fn variable(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            ContextValue::Single(v) => Some(v),
            ContextValue::Multi(_) => None,
        }
    }
}
