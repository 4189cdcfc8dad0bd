//! The view of a request as received, and the signed-header list.

/// A request exactly as it arrived, borrowed from the caller.
///
/// Nothing here is normalised: verification must see what the client signed.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The path exactly as on the wire, before any decoding or normalisation.
    pub path: &'a str,
    /// The raw query string without the leading `?` (empty when absent).
    pub query: &'a str,
    /// Headers in arrival order; repeated names are kept as separate entries.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The authority the client addressed when there is no `Host` header
    /// (HTTP/2 `:authority`, or the absolute-form request target).
    pub authority: Option<&'a str>,
    /// SHA-256 of the whole body, when the caller has it. Needed only when
    /// the client makes no payload-hash claim (see
    /// [`crate::Verifier::needs_body_hash`]).
    pub body_sha256: Option<[u8; 32]>,
}

impl<'a> RequestView<'a> {
    /// Splits a request target (`/path?query`) into path and query.
    pub fn split_target(target: &str) -> (&str, &str) {
        match target.find('?') {
            Some(i) => (&target[..i], &target[i + 1..]),
            None => (target, ""),
        }
    }

    /// All values of the header `name` (ASCII case-insensitive), in order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| header_eq(n, name))
            .map(|(_, v)| *v)
    }

    /// The single value of `name`; `Err(())` when it is repeated.
    pub(crate) fn unique_header(&self, name: &str) -> Result<Option<&'a [u8]>, ()> {
        let mut values = self.header_values(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(());
        }
        Ok(first)
    }
}

/// ASCII case-insensitive comparison of header names.
#[inline]
pub(crate) fn header_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A `;`-separated list of signed header names, as found in an
/// `Authorization` header (`;`) or a presigned URL (`;` or `%3B`).
#[derive(Clone, Copy, Debug)]
pub struct SignedHeaders<'a> {
    raw: &'a str,
    /// The names' byte ranges in `raw`, found once so that the many lookups
    /// verification makes do not split the list again; `count` is
    /// `SPANS_OVERFLOW` when the list is too long for the array (it is then
    /// split on every iteration).
    spans: [(u16, u16); MAX_SPANS],
    count: u8,
}

const MAX_SPANS: usize = 20;
const SPANS_OVERFLOW: u8 = u8::MAX;

/// Bytes allowed in a signed header name: lower-case `tchar`s (RFC 9110).
const NAME_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

impl<'a> SignedHeaders<'a> {
    /// Wraps a list and checks it: non-empty, lower-case token names,
    /// strictly ascending (so sorted and unique).
    pub(crate) fn parse(raw: &'a str) -> Result<Self, SignedHeadersError> {
        if raw.is_empty() {
            return Err(SignedHeadersError::Empty);
        }
        if raw.ends_with(';') {
            return Err(SignedHeadersError::BadName);
        }
        if raw.as_bytes().contains(&b'%') {
            // Presigned lists may spell `;` as `%3B`: split generically.
            let list = Self::new(raw);
            let mut previous: Option<&str> = None;
            for name in list.iter() {
                if name.is_empty() || !name.bytes().all(|b| NAME_BYTE[b as usize]) {
                    return Err(SignedHeadersError::BadName);
                }
                if let Some(p) = previous {
                    if p >= name {
                        return Err(SignedHeadersError::NotSorted);
                    }
                }
                previous = Some(name);
            }
            return Ok(list);
        }
        // The common case, in one pass: validate, check the order, record spans.
        let bytes = raw.as_bytes();
        let mut spans = [(0u16, 0u16); MAX_SPANS];
        let mut count = 0u8;
        let mut previous: &[u8] = &[];
        let mut start = 0;
        for i in 0..=bytes.len() {
            if i < bytes.len() && bytes[i] != b';' {
                if !NAME_BYTE[bytes[i] as usize] {
                    return Err(SignedHeadersError::BadName);
                }
                continue;
            }
            let name = &bytes[start..i];
            if name.is_empty() {
                return Err(SignedHeadersError::BadName);
            }
            if start > 0 && previous >= name {
                return Err(SignedHeadersError::NotSorted);
            }
            if count != SPANS_OVERFLOW {
                if usize::from(count) < MAX_SPANS && i < usize::from(u16::MAX) {
                    spans[usize::from(count)] = (start as u16, i as u16);
                    count += 1;
                } else {
                    count = SPANS_OVERFLOW;
                }
            }
            previous = name;
            start = i + 1;
        }
        Ok(Self { raw, spans, count })
    }

    fn new(raw: &'a str) -> Self {
        let mut spans = [(0u16, 0u16); MAX_SPANS];
        let mut count = 0u8;
        if raw.len() < usize::from(u16::MAX) {
            for name in SplitNames::new(raw) {
                if usize::from(count) == MAX_SPANS {
                    count = SPANS_OVERFLOW;
                    break;
                }
                let start = name.as_ptr() as usize - raw.as_ptr() as usize;
                spans[usize::from(count)] = (start as u16, (start + name.len()) as u16);
                count += 1;
            }
        } else {
            count = SPANS_OVERFLOW;
        }
        Self { raw, spans, count }
    }

    /// A list the signer built itself (already sorted and unique).
    pub(crate) fn trusted(raw: &'a str) -> Self {
        Self::new(raw)
    }

    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + Clone {
        if self.count == SPANS_OVERFLOW {
            Names::Split(SplitNames::new(self.raw))
        } else {
            Names::Spans {
                raw: self.raw,
                spans: self.spans,
                next: 0,
                count: self.count,
            }
        }
    }

    /// The names, in order, borrowing the list (no copy of the spans): what
    /// the hot path iterates.
    pub(crate) fn names<'s>(&'s self) -> NamesRef<'s, 'a> {
        if self.count == SPANS_OVERFLOW {
            NamesRef::Split(SplitNames::new(self.raw))
        } else {
            NamesRef::Spans {
                raw: self.raw,
                spans: self.spans[..usize::from(self.count)].iter(),
            }
        }
    }

    /// Whether `name` (lower-case) is in the list.
    pub fn contains(&self, name: &str) -> bool {
        self.names().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The list as received.
    pub fn as_raw(&self) -> &'a str {
        self.raw
    }
}

#[derive(Clone)]
enum Names<'a> {
    Spans {
        raw: &'a str,
        spans: [(u16, u16); MAX_SPANS],
        next: u8,
        count: u8,
    },
    Split(SplitNames<'a>),
}

impl<'a> Iterator for Names<'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        match self {
            Names::Spans {
                raw,
                spans,
                next,
                count,
            } => {
                if *next >= *count {
                    return None;
                }
                let (s, e) = spans[usize::from(*next)];
                *next += 1;
                raw.get(usize::from(s)..usize::from(e))
            }
            Names::Split(split) => split.next(),
        }
    }
}

/// Iterator of [`SignedHeaders::names`].
#[derive(Clone)]
pub(crate) enum NamesRef<'s, 'a> {
    Spans {
        raw: &'a str,
        spans: std::slice::Iter<'s, (u16, u16)>,
    },
    Split(SplitNames<'a>),
}

impl<'a> Iterator for NamesRef<'_, 'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        match self {
            NamesRef::Spans { raw, spans } => {
                let &(s, e) = spans.next()?;
                raw.get(usize::from(s)..usize::from(e))
            }
            NamesRef::Split(split) => split.next(),
        }
    }
}

/// Splits a list on `;` (and on `%3B` when the list has a `%`).
#[derive(Clone)]
pub(crate) struct SplitNames<'a> {
    rest: &'a str,
    encoded: bool,
}

impl<'a> SplitNames<'a> {
    fn new(raw: &'a str) -> Self {
        Self {
            rest: raw,
            encoded: raw.as_bytes().contains(&b'%'),
        }
    }
}

impl<'a> Iterator for SplitNames<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        if !self.encoded {
            let (name, rest) = self.rest.split_once(';').unwrap_or((self.rest, ""));
            self.rest = rest;
            return Some(name);
        }
        let bytes = self.rest.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b';' {
                let name = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                return Some(name);
            }
            if bytes[i] == b'%'
                && bytes.len() >= i + 3
                && bytes[i + 1..i + 3].eq_ignore_ascii_case(b"3b")
            {
                let name = &self.rest[..i];
                self.rest = &self.rest[i + 3..];
                return Some(name);
            }
            i += 1;
        }
        let name = self.rest;
        self.rest = "";
        Some(name)
    }
}

/// Why a signed-header list was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignedHeadersError {
    Empty,
    BadName,
    NotSorted,
}
