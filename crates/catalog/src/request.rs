//! The request view and the small, allocation-light parsers the classifier
//! needs: query strings, form bodies, top-level JSON and CBOR members, XML.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// A request as the gateway received it, borrowed: nothing here is
/// normalised, and nothing is read from a socket.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// HTTP method, upper case (`GET`, `PUT`, ...).
    pub method: &'a str,
    /// The `Host` the client used (or the CONNECT host), with or without port.
    pub host: &'a str,
    /// The raw path, still percent-encoded, without the query.
    pub path: &'a str,
    /// The raw query string without the leading `?` (empty if none).
    pub query: &'a str,
    /// Header (name, value) pairs as received; names are matched
    /// case-insensitively.
    pub headers: &'a [(&'a str, &'a str)],
    /// A bounded prefix of the body (the gateway decides the bound).
    pub body: &'a [u8],
    /// Whether `body` is the whole body. When it is not, members read from
    /// the body are taken from the prefix and the classification is marked
    /// [`partial`](crate::Classification::partial).
    pub body_complete: bool,
    /// The verified SigV4 credential scope's service (signing name).
    pub service: &'a str,
    /// The verified SigV4 credential scope's region.
    pub region: &'a str,
    /// The account that owns the resources (the upstream account), used in
    /// ARNs the request does not spell out.
    pub account: &'a str,
}

impl<'a> RequestView<'a> {
    /// The value of the only header called `name` (case-insensitive), or
    /// `None` if it is absent. A header sent twice is ambiguous: see
    /// [`header_count`](Self::header_count).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// How many times the header `name` occurs.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

/// Percent-decode (and `+` to space when `plus` is set, for form bodies).
pub(crate) fn decode(s: &str, plus: bool) -> Cow<'_, str> {
    if plus && s.contains('+') {
        let replaced = s.replace('+', " ");
        return Cow::Owned(
            percent_decode_str(&replaced)
                .decode_utf8_lossy()
                .into_owned(),
        );
    }
    percent_decode_str(s).decode_utf8_lossy()
}

/// Split `a=b&c&d=e` into raw (key, value) pairs; a key without `=` has an
/// empty value.
pub(crate) fn split_pairs(q: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for kv in q.split('&') {
        if kv.is_empty() {
            continue;
        }
        match kv.split_once('=') {
            Some((k, v)) => out.push((k, v)),
            None => out.push((kv, "")),
        }
    }
    out
}

/// The only value of `key` among raw pairs (compared after decoding when
/// the raw key has escapes). `Err(())` when the key occurs twice with
/// different values.
pub(crate) fn pair_value<'q>(
    pairs: &[(&'q str, &'q str)],
    key: &str,
) -> Result<Option<&'q str>, ()> {
    let mut found: Option<&'q str> = None;
    for &(k, v) in pairs {
        let matches = if k.contains('%') || k.contains('+') {
            decode(k, true) == key
        } else {
            k == key
        };
        if matches {
            if let Some(prev) = found {
                if prev != v {
                    return Err(());
                }
            }
            found = Some(v);
        }
    }
    Ok(found)
}

/// One top-level member of a JSON object: key and raw value text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonMember<'a> {
    pub key: &'a str,
    /// Raw value (a string keeps its quotes).
    pub raw: &'a str,
}

impl<'a> JsonMember<'a> {
    /// The value as a string, unescaped, if it is a JSON string.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        let inner = self.raw.strip_prefix('"')?.strip_suffix('"')?;
        if !inner.contains('\\') {
            return Some(Cow::Borrowed(inner));
        }
        serde_json::from_str::<String>(self.raw)
            .ok()
            .map(Cow::Owned)
    }
}

/// Scan the top level of a JSON object; returns its members (keys still
/// escaped, which AWS member names never need) and whether the object was
/// complete. Never panics, bounded by the input length.
pub(crate) fn json_members(body: &[u8]) -> (Vec<JsonMember<'_>>, bool) {
    let mut out = Vec::new();
    let Ok(text) =
        std::str::from_utf8(body).or_else(|e| std::str::from_utf8(&body[..e.valid_up_to()]))
    else {
        return (out, false);
    };
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return (out, false);
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b'}') => return (out, true),
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            _ => return (out, false),
        }
        let Some(kend) = skip_string(b, i) else {
            return (out, false);
        };
        let key = &text[i + 1..kend - 1];
        i = skip_ws(b, kend);
        if b.get(i) != Some(&b':') {
            return (out, false);
        }
        i = skip_ws(b, i + 1);
        let Some(vend) = skip_value(b, i) else {
            return (out, false);
        };
        out.push(JsonMember {
            key,
            raw: &text[i..vend],
        });
        i = vend;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// `b[i]` is `"`; returns the index after the closing quote.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        i += memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
    None
}

fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        open @ (b'{' | b'[') => {
            // Only this bracket kind needs counting: the other kind is
            // balanced inside a well-formed value.
            let close = if open == b'{' { b'}' } else { b']' };
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                j += memchr::memchr3(b'"', open, close, &b[j..])?;
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    c if c == open => depth += 1,
                    _ => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
            {
                j += 1;
            }
            if j == b.len() {
                None
            } else {
                Some(j)
            }
        }
    }
}

/// Top-level text-valued members of a CBOR map (RPCv2 CBOR bodies). Other
/// values are skipped. Returns (key, value) pairs and whether the map was
/// read to its end.
/// Top-level (key, text value) pairs of a CBOR map, and whether it was read to its end.
pub(crate) type CborMembers<'a> = (Vec<(Cow<'a, str>, Cow<'a, str>)>, bool);

pub(crate) fn cbor_text_members(b: &[u8]) -> CborMembers<'_> {
    let mut out = Vec::new();
    let mut p = Cbor {
        b,
        i: 0,
        budget: 10_000,
    };
    let Some((major, n)) = p.head() else {
        return (out, false);
    };
    if major != 5 {
        return (out, false);
    }
    let mut count = 0u64;
    loop {
        match n {
            Some(n) if count >= n => return (out, true),
            None if p.b.get(p.i) == Some(&0xff) => return (out, true),
            _ => {}
        }
        count += 1;
        let Some(k) = p.text() else {
            return (out, false);
        };
        let start = p.i;
        match p.head() {
            Some((3, Some(len))) => {
                let len = len as usize;
                let Some(v) = p.b.get(p.i..p.i.saturating_add(len)) else {
                    return (out, false);
                };
                p.i += len;
                out.push((k, String::from_utf8_lossy(v)));
            }
            Some(_) => {
                p.i = start;
                if p.skip(0).is_none() {
                    return (out, false);
                }
            }
            None => return (out, false),
        }
    }
}

struct Cbor<'a> {
    b: &'a [u8],
    i: usize,
    budget: u32,
}

impl<'a> Cbor<'a> {
    /// Major type and argument (None for indefinite length).
    fn head(&mut self) -> Option<(u8, Option<u64>)> {
        let first = *self.b.get(self.i)?;
        self.i += 1;
        let major = first >> 5;
        let info = first & 0x1f;
        let arg = match info {
            0..=23 => Some(info as u64),
            24..=27 => {
                let len = 1usize << (info - 24);
                let bytes = self.b.get(self.i..self.i + len)?;
                self.i += len;
                Some(bytes.iter().fold(0u64, |a, &x| (a << 8) | x as u64))
            }
            31 => None,
            _ => return None,
        };
        Some((major, arg))
    }

    fn text(&mut self) -> Option<Cow<'a, str>> {
        match self.head()? {
            (3, Some(len)) => {
                let len = usize::try_from(len).ok()?;
                let v = self.b.get(self.i..self.i.checked_add(len)?)?;
                self.i += len;
                Some(String::from_utf8_lossy(v))
            }
            _ => None,
        }
    }

    fn skip(&mut self, depth: u32) -> Option<()> {
        if depth > 32 || self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        let (major, arg) = self.head()?;
        match (major, arg) {
            (0 | 1 | 7, _) => {
                if major == 7 {
                    // Floats carry their bytes in the argument already.
                }
                Some(())
            }
            (2 | 3, Some(len)) => {
                let len = usize::try_from(len).ok()?;
                self.i = self.i.checked_add(len)?;
                (self.i <= self.b.len()).then_some(())
            }
            (2..=5, None) => loop {
                if *self.b.get(self.i)? == 0xff {
                    self.i += 1;
                    return Some(());
                }
                self.skip(depth + 1)?;
            },
            (4, Some(n)) => {
                for _ in 0..n {
                    self.skip(depth + 1)?;
                }
                Some(())
            }
            (5, Some(n)) => {
                for _ in 0..n.saturating_mul(2) {
                    self.skip(depth + 1)?;
                }
                Some(())
            }
            (6, Some(_)) => self.skip(depth + 1),
            _ => None,
        }
    }
}

/// Decode the five predefined XML entities and numeric references.
pub(crate) fn xml_unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let Some(end) = rest.find(';') else {
            out.push_str(rest);
            return Cow::Owned(out);
        };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The text of every `<tag>…</tag>` element inside `within` (not nested
/// further), unescaped.
pub(crate) fn xml_elements<'a>(xml: &'a str, tag: &str) -> Vec<Cow<'a, str>> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(p) = rest.find(&open) {
        let after = &rest[p + open.len()..];
        let Some(e) = after.find(&close) else { break };
        out.push(xml_unescape(&after[..e]));
        rest = &after[e + close.len()..];
    }
    out
}
