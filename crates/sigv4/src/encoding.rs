//! Percent-encoding, percent-decoding and path normalisation as SigV4 defines
//! them. Everything here streams bytes into a [`Sink`] so the hot path never
//! builds intermediate strings.

use crate::canonical::Sink;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 unreserved characters: the only bytes SigV4 never encodes.
#[inline]
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[inline]
fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[inline]
pub(crate) fn write_escaped<S: Sink + ?Sized>(sink: &mut S, b: u8) {
    sink.write(&[
        b'%',
        HEX_UPPER[(b >> 4) as usize],
        HEX_UPPER[(b & 15) as usize],
    ]);
}

/// Writes `bytes` encoding every byte except unreserved ones (and `/` when
/// `keep_slash`), the way SigV4 encodes query components and non-S3 paths.
pub(crate) fn write_uri_encoded<S: Sink + ?Sized>(sink: &mut S, bytes: &[u8], keep_slash: bool) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            continue;
        }
        sink.write(&bytes[start..i]);
        write_escaped(sink, b);
        start = i + 1;
    }
    sink.write(&bytes[start..]);
}

/// Writes an S3 path: the path as the client sent it (S3 signs the path
/// encoded once, by the client; it is never normalised: `//`, `.` and `..`
/// stay), with its percent-encoding put in canonical form the way S3 itself
/// does before checking the signature: a valid escape of an unreserved byte
/// is decoded (`%41` -> `A`), other escapes are upper-cased (`%3d` -> `%3D`;
/// `%2F` stays an escape, distinct from `/`), and every raw byte that is
/// neither unreserved nor `/` is escaped (space -> `%20`, `=` -> `%3D`,
/// `+` -> `%2B`, a stray `%` -> `%25`, UTF-8 bytes -> `%XY`). SDK-encoded
/// paths (botocore, aws-sdk-rust, ...) are already canonical and pass through
/// unchanged.
pub(crate) fn write_s3_path<S: Sink + ?Sized>(sink: &mut S, raw: &[u8]) {
    let mut start = 0;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if is_unreserved(b) || b == b'/' {
            i += 1;
            continue;
        }
        if b == b'%' && i + 2 < raw.len() {
            if let (Some(h), Some(l)) = (hex_value(raw[i + 1]), hex_value(raw[i + 2])) {
                let v = h << 4 | l;
                let upper =
                    raw[i + 1] == HEX_UPPER[h as usize] && raw[i + 2] == HEX_UPPER[l as usize];
                if upper && !is_unreserved(v) {
                    // Already canonical: leave it in the pending run.
                    i += 3;
                    continue;
                }
                sink.write(&raw[start..i]);
                if is_unreserved(v) {
                    sink.write(&[v]);
                } else {
                    write_escaped(sink, v);
                }
                i += 3;
                start = i;
                continue;
            }
        }
        sink.write(&raw[start..i]);
        write_escaped(sink, b);
        i += 1;
        start = i;
    }
    sink.write(&raw[start..]);
}

/// Iterates over the bytes of a percent-decoded component. `%` not followed
/// by two hex digits stands for itself, as lenient servers treat it.
#[derive(Clone)]
pub(crate) struct Decoded<'a> {
    rest: &'a [u8],
}

impl<'a> Decoded<'a> {
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Self { rest: raw }
    }
}

impl Iterator for Decoded<'_> {
    type Item = u8;
    #[inline]
    fn next(&mut self) -> Option<u8> {
        let (&first, tail) = self.rest.split_first()?;
        if first == b'%' && tail.len() >= 2 {
            if let (Some(h), Some(l)) = (hex_value(tail[0]), hex_value(tail[1])) {
                self.rest = &tail[2..];
                return Some(h << 4 | l);
            }
        }
        self.rest = tail;
        Some(first)
    }
}

/// Iterates over the bytes of `uri_encode(percent_decode(raw))`: the canonical
/// form of a query name or value. Used to sort parameters without allocating.
#[derive(Clone)]
pub(crate) struct CanonicalComponent<'a> {
    decoded: Decoded<'a>,
    pending: [u8; 2],
    pending_len: u8,
}

impl<'a> CanonicalComponent<'a> {
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Self {
            decoded: Decoded::new(raw),
            pending: [0; 2],
            pending_len: 0,
        }
    }
}

impl Iterator for CanonicalComponent<'_> {
    type Item = u8;
    #[inline]
    fn next(&mut self) -> Option<u8> {
        if self.pending_len > 0 {
            let b = self.pending[2 - self.pending_len as usize];
            self.pending_len -= 1;
            return Some(b);
        }
        let b = self.decoded.next()?;
        if is_unreserved(b) {
            Some(b)
        } else {
            self.pending = [HEX_UPPER[(b >> 4) as usize], HEX_UPPER[(b & 15) as usize]];
            self.pending_len = 2;
            Some(b'%')
        }
    }
}

/// Writes the canonical form of one query component.
pub(crate) fn write_canonical_component<S: Sink + ?Sized>(sink: &mut S, raw: &[u8]) {
    // Fast path: already canonical (only unreserved bytes and valid upper-case escapes).
    if is_already_canonical(raw) {
        sink.write(raw);
        return;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    for b in CanonicalComponent::new(raw) {
        buf[n] = b;
        n += 1;
        if n == buf.len() {
            sink.write(&buf);
            n = 0;
        }
    }
    sink.write(&buf[..n]);
}

fn is_already_canonical(raw: &[u8]) -> bool {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' {
            let ok = i + 2 < raw.len()
                && matches!(raw[i + 1], b'0'..=b'9' | b'A'..=b'F')
                && matches!(raw[i + 2], b'0'..=b'9' | b'A'..=b'F');
            if !ok {
                return false;
            }
            // An escape of an unreserved byte must be written raw canonically.
            let v = (hex_value(raw[i + 1]).unwrap_or(0) << 4) | hex_value(raw[i + 2]).unwrap_or(0);
            if is_unreserved(v) {
                return false;
            }
            i += 3;
        } else if is_unreserved(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// Compares two raw query components by their canonical encodings.
pub(crate) fn cmp_canonical(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    if is_already_canonical(a) && is_already_canonical(b) {
        return a.cmp(b);
    }
    CanonicalComponent::new(a).cmp(CanonicalComponent::new(b))
}

/// Removes `.` and `..` segments and empty segments (runs of `/`), keeping a
/// trailing slash, as AWS normalises paths for every service but S3. Writes
/// the (start, end) ranges of the surviving segments into `segments`.
pub(crate) fn normalize_path_segments(path: &[u8], segments: &mut Vec<(u32, u32)>) -> bool {
    segments.clear();
    let mut i = 0usize;
    let len = path.len();
    while i < len {
        while i < len && path[i] == b'/' {
            i += 1;
        }
        let start = i;
        while i < len && path[i] != b'/' {
            i += 1;
        }
        let seg = &path[start..i];
        match seg {
            b"" => {}
            b"." => {}
            b".." => {
                segments.pop();
            }
            _ => segments.push((start as u32, i as u32)),
        }
    }
    // A trailing slash survives, and so does a path ending in a dot segment
    // (".../a/.." names a directory), as in RFC 3986 remove_dot_segments.
    let trailing = path.last() == Some(&b'/')
        || path.ends_with(b"/.")
        || path.ends_with(b"/..")
        || path == b"."
        || path == b"..";
    trailing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_component(raw: &str) -> String {
        let mut out = Vec::new();
        write_canonical_component(&mut out, raw.as_bytes());
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn components_decode_then_encode() {
        assert_eq!(encode_component("a b"), "a%20b");
        assert_eq!(encode_component("a%20b"), "a%20b");
        assert_eq!(encode_component("a%2fb"), "a%2Fb");
        assert_eq!(encode_component("%41"), "A");
        assert_eq!(encode_component("a+b"), "a%2Bb");
        assert_eq!(encode_component("100%"), "100%25");
        assert_eq!(encode_component("ሴ"), "%E1%88%B4");
        assert_eq!(encode_component("-_.~"), "-_.~");
    }

    #[test]
    fn canonical_iterator_matches_writer() {
        for raw in ["", "abc", "a b", "%zz", "%4", "x%41y", "ሴ+%2B=&", "%7e"] {
            let iter: Vec<u8> = CanonicalComponent::new(raw.as_bytes()).collect();
            assert_eq!(
                String::from_utf8(iter).expect("ascii"),
                encode_component(raw),
                "{raw}"
            );
        }
    }

    fn s3_path(raw: &str) -> String {
        let mut out = Vec::new();
        write_s3_path(&mut out, raw.as_bytes());
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn s3_paths_are_percent_normalised_never_dot_normalised() {
        assert_eq!(s3_path("/bucket/key.txt"), "/bucket/key.txt");
        assert_eq!(s3_path("//a/./b/../"), "//a/./b/../");
        assert_eq!(s3_path("/example space/"), "/example%20space/");
        assert_eq!(s3_path("/a=b+c"), "/a%3Db%2Bc");
        assert_eq!(s3_path("/a%3db%2Bc"), "/a%3Db%2Bc");
        assert_eq!(s3_path("/%41%7e%2F"), "/A~%2F");
        assert_eq!(s3_path("/100%"), "/100%25");
        assert_eq!(s3_path("/%zz%4"), "/%25zz%254");
        assert_eq!(s3_path("/ሴ"), "/%E1%88%B4");
        assert_eq!(s3_path("/%E1%88%B4"), "/%E1%88%B4");
    }

    #[test]
    fn normalisation() {
        let norm = |p: &str| {
            let mut segs = Vec::new();
            let trailing = normalize_path_segments(p.as_bytes(), &mut segs);
            let mut out = String::from("/");
            let parts: Vec<&str> = segs
                .iter()
                .map(|&(s, e)| &p[s as usize..e as usize])
                .collect();
            out.push_str(&parts.join("/"));
            if trailing && !parts.is_empty() {
                out.push('/');
            }
            out
        };
        assert_eq!(norm("//example//"), "/example/");
        assert_eq!(norm("/example1/example2/../.."), "/");
        assert_eq!(norm("/./"), "/");
        assert_eq!(norm("/a/./b/../c"), "/a/c");
        assert_eq!(norm("/a/b/.."), "/a/");
        assert_eq!(norm(""), "/");
    }
}
