//! Wildcard patterns and policy-variable templates.
//!
//! Every string a policy matches against (actions, resources, `String*` and
//! `Arn*` condition values) is parsed once into [`Token`]s. Patterns without
//! policy variables are then compiled into a [`Glob`] whose common shapes
//! (literal, `prefix*`, `*suffix`, `*infix*`, bare `*`) match with a single
//! slice comparison; the rest go through a chunked matcher that never
//! backtracks more than one `*` at a time and never allocates.

use crate::context::RequestContext;

/// One element of a parsed pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// Literal text, including characters written with the `${*}`, `${?}`
    /// and `${$}` escapes.
    Lit(Box<str>),
    /// `*`: any run of characters, `:` and `/` included.
    Star,
    /// `?`: exactly one character.
    AnyChar,
    /// `${key}` or `${key, 'default'}`.
    Var(Variable),
}

/// A policy variable located at parse time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Variable {
    /// Condition key name, lower-cased (key names are case-insensitive).
    pub(crate) key: Box<str>,
    /// Value used when the key is absent from the request.
    pub(crate) default: Option<Box<str>>,
}

/// How a string is read when it is tokenized.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (Resource, `StringLike`, `ArnLike`, ...).
    pub(crate) wildcards: bool,
    /// `${...}` is a policy variable (policy version `2012-10-17`).
    pub(crate) variables: bool,
}

/// Splits `input` into tokens. Errors are human-readable reasons.
pub(crate) fn tokenize(input: &str, syntax: Syntax) -> Result<Vec<Token>, String> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, tokens: &mut Vec<Token>| {
        if !lit.is_empty() {
            tokens.push(Token::Lit(std::mem::take(lit).into_boxed_str()));
        }
    };
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        if syntax.variables && rest.starts_with("${") {
            let Some(end) = rest.find('}') else {
                return Err(format!("unterminated policy variable in {input:?}"));
            };
            let inner = &rest[2..end];
            rest = &rest[end + 1..];
            match inner {
                "*" | "?" | "$" => lit.push_str(inner),
                _ => {
                    let variable = parse_variable(inner)
                        .ok_or_else(|| format!("invalid policy variable ${{{inner}}}"))?;
                    flush(&mut lit, &mut tokens);
                    tokens.push(Token::Var(variable));
                }
            }
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '*' if syntax.wildcards => {
                flush(&mut lit, &mut tokens);
                // Consecutive stars mean the same as one.
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            '?' if syntax.wildcards => {
                flush(&mut lit, &mut tokens);
                tokens.push(Token::AnyChar);
            }
            _ => lit.push(c),
        }
    }
    flush(&mut lit, &mut tokens);
    Ok(tokens)
}

/// Parses the inside of `${...}`: `key` or `key, 'default'`.
fn parse_variable(inner: &str) -> Option<Variable> {
    let (key, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))?;
            (key.trim(), Some(quoted.into()))
        }
    };
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '$' | '{' | '}' | '\'' | ','));
    valid.then(|| Variable {
        key: key.to_ascii_lowercase().into_boxed_str(),
        default,
    })
}

/// A pattern element with its literal text borrowed or owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Atom<S> {
    Lit(S),
    Star,
    AnyChar,
}

/// A compiled wildcard pattern without policy variables.
#[derive(Clone, Debug)]
pub(crate) enum Glob {
    /// `*`
    Any,
    /// No wildcard at all.
    Exact(Box<str>),
    /// `literal*`
    Prefix(Box<str>),
    /// `*literal`
    Suffix(Box<str>),
    /// `*literal*`
    Contains(Box<str>),
    /// Anything else.
    General(Box<[Atom<Box<str>>]>),
}

impl Glob {
    /// Compiles variable-free tokens. `fold_case` lower-cases literals so
    /// the pattern can later be matched ASCII-case-insensitively.
    pub(crate) fn from_tokens(tokens: &[Token], fold_case: bool) -> Glob {
        let lit = |s: &str| -> Box<str> {
            if fold_case {
                s.to_ascii_lowercase().into_boxed_str()
            } else {
                s.into()
            }
        };
        match tokens {
            [] => Glob::Exact("".into()),
            [Token::Star] => Glob::Any,
            [Token::Lit(s)] => Glob::Exact(lit(s)),
            [Token::Lit(s), Token::Star] => Glob::Prefix(lit(s)),
            [Token::Star, Token::Lit(s)] => Glob::Suffix(lit(s)),
            [Token::Star, Token::Lit(s), Token::Star] => Glob::Contains(lit(s)),
            _ => Glob::General(
                tokens
                    .iter()
                    .map(|t| match t {
                        Token::Lit(s) => Atom::Lit(lit(s)),
                        Token::Star => Atom::Star,
                        Token::AnyChar => Atom::AnyChar,
                        Token::Var(_) => unreachable!("variables are resolved at evaluation"),
                    })
                    .collect(),
            ),
        }
    }

    /// Whether `text` matches; `fold_case` compares ASCII letters
    /// case-insensitively (the pattern must have been compiled folded).
    #[inline]
    pub(crate) fn matches(&self, text: &str, fold_case: bool) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(p) => lit_eq(text.as_bytes(), p.as_bytes(), fold_case),
            Glob::Prefix(p) => {
                text.len() >= p.len()
                    && lit_eq(&text.as_bytes()[..p.len()], p.as_bytes(), fold_case)
            }
            Glob::Suffix(p) => {
                text.len() >= p.len()
                    && lit_eq(
                        &text.as_bytes()[text.len() - p.len()..],
                        p.as_bytes(),
                        fold_case,
                    )
            }
            Glob::Contains(p) => {
                if fold_case {
                    text.as_bytes()
                        .windows(p.len().max(1))
                        .any(|w| w.eq_ignore_ascii_case(p.as_bytes()))
                        || p.is_empty()
                } else {
                    text.contains(&**p)
                }
            }
            Glob::General(atoms) => match_atoms(atoms, text, fold_case),
        }
    }

    /// The literal text when the pattern has no wildcard.
    pub(crate) fn as_exact(&self) -> Option<&str> {
        match self {
            Glob::Exact(s) => Some(s),
            _ => None,
        }
    }
}

#[inline]
fn lit_eq(a: &[u8], b: &[u8], fold_case: bool) -> bool {
    if fold_case {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Matches a literal at byte `pos`, returning the end position.
#[inline]
fn lit_at(text: &str, pos: usize, lit: &str, fold_case: bool) -> Option<usize> {
    let end = pos + lit.len();
    // Equal bytes (modulo ASCII case) to a valid UTF-8 literal means `end`
    // falls on a character boundary.
    (end <= text.len() && lit_eq(&text.as_bytes()[pos..end], lit.as_bytes(), fold_case))
        .then_some(end)
}

/// Matches a star-free run of atoms at byte `pos`, returning the end.
fn chunk_at<S: AsRef<str>>(
    chunk: &[Atom<S>],
    text: &str,
    mut pos: usize,
    fold_case: bool,
) -> Option<usize> {
    for atom in chunk {
        match atom {
            Atom::Lit(s) => pos = lit_at(text, pos, s.as_ref(), fold_case)?,
            Atom::AnyChar => pos += text[pos..].chars().next()?.len_utf8(),
            Atom::Star => unreachable!("chunks are split at stars"),
        }
    }
    Some(pos)
}

/// Number of characters a star-free chunk consumes.
fn chunk_chars<S: AsRef<str>>(chunk: &[Atom<S>]) -> usize {
    chunk
        .iter()
        .map(|a| match a {
            Atom::Lit(s) => s.as_ref().chars().count(),
            _ => 1,
        })
        .sum()
}

/// Glob match of `text` against atoms. `*` matches any run of characters
/// and `?` exactly one. The pattern is cut at its stars into fixed-length
/// chunks: the first is anchored at the start, the last at the end, and
/// each middle chunk is taken at its leftmost occurrence, which is optimal
/// because every chunk consumes a fixed number of characters.
pub(crate) fn match_atoms<S: AsRef<str>>(atoms: &[Atom<S>], text: &str, fold_case: bool) -> bool {
    let mut chunks = atoms.split(|a| matches!(a, Atom::Star));
    let first = chunks.next().unwrap_or(&[]);
    let Some(mut pos) = chunk_at(first, text, 0, fold_case) else {
        return false;
    };
    let Some(mut last) = chunks.next() else {
        return pos == text.len();
    };
    for next in chunks {
        // `last` is a middle chunk: find its leftmost occurrence.
        let mut start = pos;
        loop {
            if let Some(end) = chunk_at(last, text, start, fold_case) {
                pos = end;
                break;
            }
            match text[start..].chars().next() {
                Some(c) => start += c.len_utf8(),
                None => return false,
            }
        }
        last = next;
    }
    let need = chunk_chars(last);
    let start = if need == 0 {
        text.len()
    } else {
        match text.char_indices().rev().nth(need - 1) {
            Some((i, _)) => i,
            None => return false,
        }
    };
    start >= pos && chunk_at(last, text, start, fold_case) == Some(text.len())
}

/// A string pattern as compiled for evaluation.
#[derive(Clone, Debug)]
pub(crate) enum StrPattern {
    /// No policy variable: compiled once.
    Static(Glob),
    /// Contains policy variables, resolved against each request.
    Dynamic(Box<[Token]>),
}

impl StrPattern {
    /// Compiles tokens; `fold_case` as for [`Glob::from_tokens`].
    pub(crate) fn from_tokens(tokens: Vec<Token>, fold_case: bool) -> StrPattern {
        if tokens.iter().any(|t| matches!(t, Token::Var(_))) {
            StrPattern::Dynamic(tokens.into_boxed_slice())
        } else {
            StrPattern::Static(Glob::from_tokens(&tokens, fold_case))
        }
    }

    /// The literal text every match must start with.
    pub(crate) fn literal_prefix(&self) -> &str {
        match self {
            StrPattern::Static(Glob::Exact(s) | Glob::Prefix(s)) => s,
            StrPattern::Static(Glob::General(atoms)) => match atoms.first() {
                Some(Atom::Lit(s)) => s,
                _ => "",
            },
            StrPattern::Static(_) => "",
            StrPattern::Dynamic(tokens) => match tokens.first() {
                Some(Token::Lit(s)) => s,
                _ => "",
            },
        }
    }

    /// Glob match (case-sensitive); an unresolved variable never matches.
    #[inline]
    pub(crate) fn matches(&self, text: &str, ctx: &RequestContext<'_>) -> bool {
        match self {
            StrPattern::Static(glob) => glob.matches(text, false),
            StrPattern::Dynamic(tokens) => match resolve(tokens, ctx) {
                Some(atoms) => match_atoms(&atoms, text, false),
                None => false,
            },
        }
    }

    /// The pattern with variables substituted, as plain text (for equality
    /// operators, where `*` and `?` are literal). `None` if a variable is
    /// unresolved.
    pub(crate) fn resolve_literal<'s>(
        &'s self,
        ctx: &'s RequestContext<'_>,
    ) -> Option<std::borrow::Cow<'s, str>> {
        match self {
            StrPattern::Static(Glob::Exact(s)) => Some(std::borrow::Cow::Borrowed(s)),
            StrPattern::Static(_) => None,
            StrPattern::Dynamic(tokens) => {
                let mut out = String::new();
                for atom in resolve(tokens, ctx)? {
                    match atom {
                        Atom::Lit(s) => out.push_str(s),
                        // Equality operators are tokenized without wildcards.
                        Atom::Star => out.push('*'),
                        Atom::AnyChar => out.push('?'),
                    }
                }
                Some(std::borrow::Cow::Owned(out))
            }
        }
    }
}

/// Substitutes policy variables. A variable's value is literal text: a `*`
/// in a user name is not a wildcard.
pub(crate) fn resolve<'s>(
    tokens: &'s [Token],
    ctx: &'s RequestContext<'_>,
) -> Option<Vec<Atom<&'s str>>> {
    tokens
        .iter()
        .map(|t| {
            Some(match t {
                Token::Lit(s) => Atom::Lit(&**s),
                Token::Star => Atom::Star,
                Token::AnyChar => Atom::AnyChar,
                Token::Var(v) => Atom::Lit(ctx.variable(&v.key).or(v.default.as_deref())?),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOB: Syntax = Syntax {
        wildcards: true,
        variables: true,
    };

    fn glob(p: &str) -> Glob {
        Glob::from_tokens(&tokenize(p, GLOB).unwrap(), false)
    }

    #[test]
    fn fast_paths_agree_with_general_matcher() {
        let cases = [
            ("*", "anything:at/all", true),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("ab*", "abc", true),
            ("ab*", "a", false),
            ("*bc", "abc", true),
            ("*b*", "abc", true),
            ("*x*", "abc", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("*a*a", "aa", true),
            ("*a*a", "a", false),
            ("?*", "", false),
            ("é?", "éü", true),
            ("a**b", "ab", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob(p).matches(t, false), want, "{p} vs {t}");
            let tokens = tokenize(p, GLOB).unwrap();
            let atoms: Vec<Atom<&str>> = tokens
                .iter()
                .map(|t| match t {
                    Token::Lit(s) => Atom::Lit(&**s),
                    Token::Star => Atom::Star,
                    Token::AnyChar => Atom::AnyChar,
                    Token::Var(_) => unreachable!(),
                })
                .collect();
            assert_eq!(match_atoms(&atoms, t, false), want, "general {p} vs {t}");
        }
    }

    #[test]
    fn escapes_and_variables() {
        let t = tokenize("a${*}b${?}${$}${aws:username, 'x y'}", GLOB).unwrap();
        assert_eq!(
            t,
            vec![
                Token::Lit("a*b?$".into()),
                Token::Var(Variable {
                    key: "aws:username".into(),
                    default: Some("x y".into())
                })
            ]
        );
        assert!(tokenize("${unterminated", GLOB).is_err());
        assert!(tokenize("${a, unquoted}", GLOB).is_err());
        let literal = tokenize(
            "${aws:username}",
            Syntax {
                wildcards: true,
                variables: false,
            },
        )
        .unwrap();
        assert_eq!(literal, vec![Token::Lit("${aws:username}".into())]);
    }
}
