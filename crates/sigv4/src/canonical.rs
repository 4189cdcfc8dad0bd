//! The canonical request, written once for both verification and signing.
//!
//! The writer streams into a [`Sink`]: a SHA-256 hasher on the hot path, a
//! `Vec<u8>` when an operator (or a test) wants to see the bytes.

use std::cell::RefCell;

use sha2::{Digest, Sha256};

use crate::encoding::{
    cmp_canonical, normalize_path_segments, write_canonical_component, write_s3_path,
    write_uri_encoded,
};
use crate::request::{header_eq, RequestView, SignedHeaders};

/// Somewhere canonical bytes go.
pub trait Sink {
    /// Appends `bytes`.
    fn write(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for Sha256 {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// A SHA-256 fed through a stack buffer: the canonical request arrives in
/// dozens of small pieces, and each `Sha256::update` call has a fixed cost,
/// so pieces are gathered and hashed in runs of whole blocks.
pub(crate) struct BufferedSha256 {
    hasher: Sha256,
    buf: [u8; 512],
    len: usize,
}

impl BufferedSha256 {
    pub(crate) fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            buf: [0; 512],
            len: 0,
        }
    }

    pub(crate) fn finalize(mut self) -> [u8; 32] {
        self.hasher.update(&self.buf[..self.len]);
        self.hasher.finalize().into()
    }
}

impl Sink for BufferedSha256 {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        if let Some(room) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            room.copy_from_slice(bytes);
            self.len += bytes.len();
            return;
        }
        self.hasher.update(&self.buf[..self.len]);
        self.len = 0;
        if bytes.len() >= self.buf.len() {
            self.hasher.update(bytes);
        } else {
            self.buf[..bytes.len()].copy_from_slice(bytes);
            self.len = bytes.len();
        }
    }
}

/// How the path enters the canonical request; AWS has two families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathMode {
    /// S3: the path as the client sent it (encoded once, by the client),
    /// never normalised.
    S3,
    /// Every other service: dot segments and empty segments removed, then
    /// the (already encoded) path encoded once more.
    Normalized,
}

impl PathMode {
    /// The mode AWS uses for a signing service name.
    pub fn for_service(service: &str) -> Self {
        match service {
            "s3" | "s3-object-lambda" | "s3-outposts" | "s3express" => PathMode::S3,
            _ => PathMode::Normalized,
        }
    }
}

/// (start, end) of a path segment.
type SegmentRanges = Vec<(u32, u32)>;
/// (start, `=` or end, end) of a query parameter.
type ParamRanges = Vec<(u32, u32, u32)>;

thread_local! {
    // Reused scratch space so that canonicalisation does not allocate in
    // steady state: ranges into the path and the query.
    static SCRATCH: RefCell<(SegmentRanges, ParamRanges)> =
        const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Everything the canonical request depends on beyond the request itself.
pub(crate) struct CanonicalInput<'a, 'r> {
    pub(crate) view: &'a RequestView<'r>,
    pub(crate) signed_headers: SignedHeaders<'a>,
    pub(crate) payload_hash: &'a [u8],
    pub(crate) path_mode: PathMode,
    /// Presigned requests leave their own signature out of the query.
    pub(crate) skip_signature_param: bool,
    /// Extra headers the signer adds (x-amz-date, x-amz-security-token).
    pub(crate) extra_headers: &'a [(&'a str, &'a [u8])],
}

/// Writes the canonical request into `sink`.
pub(crate) fn write_canonical_request<S: Sink + ?Sized>(
    sink: &mut S,
    input: &CanonicalInput<'_, '_>,
) {
    let view = input.view;
    sink.write(view.method.as_bytes());
    sink.write(b"\n");
    SCRATCH.with(|scratch| {
        // A re-entrant call (impossible today) would find the scratch borrowed;
        // fall back to fresh buffers rather than panic.
        let mut owned;
        let mut guard = scratch.try_borrow_mut();
        let (segments, params) = match guard.as_deref_mut() {
            Ok((s, p)) => (s, p),
            Err(_) => {
                owned = (Vec::new(), Vec::new());
                (&mut owned.0, &mut owned.1)
            }
        };
        write_path(sink, view.path.as_bytes(), input.path_mode, segments);
        sink.write(b"\n");
        write_query(
            sink,
            view.query.as_bytes(),
            input.skip_signature_param,
            params,
        );
        sink.write(b"\n");
    });
    for name in input.signed_headers.names() {
        sink.write(name.as_bytes());
        sink.write(b":");
        write_header_values(sink, view, input.extra_headers, name);
        sink.write(b"\n");
    }
    sink.write(b"\n");
    for (i, name) in input.signed_headers.names().enumerate() {
        if i > 0 {
            sink.write(b";");
        }
        sink.write(name.as_bytes());
    }
    sink.write(b"\n");
    sink.write(input.payload_hash);
}

fn write_path<S: Sink + ?Sized>(
    sink: &mut S,
    path: &[u8],
    mode: PathMode,
    segments: &mut Vec<(u32, u32)>,
) {
    if path.is_empty() {
        sink.write(b"/");
        return;
    }
    match mode {
        PathMode::S3 => write_s3_path(sink, path),
        PathMode::Normalized => {
            let trailing = normalize_path_segments(path, segments);
            sink.write(b"/");
            for (i, &(s, e)) in segments.iter().enumerate() {
                if i > 0 {
                    sink.write(b"/");
                }
                write_uri_encoded(sink, &path[s as usize..e as usize], false);
            }
            if trailing && !segments.is_empty() {
                sink.write(b"/");
            }
        }
    }
}

/// Query parameters: decoded, re-encoded, sorted by name then value.
fn write_query<S: Sink + ?Sized>(
    sink: &mut S,
    query: &[u8],
    skip_signature: bool,
    params: &mut Vec<(u32, u32, u32)>,
) {
    params.clear();
    let mut start = 0usize;
    for piece in query.split(|&b| b == b'&') {
        let end = start + piece.len();
        if !piece.is_empty() {
            let eq = piece
                .iter()
                .position(|&b| b == b'=')
                .map_or(end, |p| start + p);
            let name = &query[start..eq];
            if !(skip_signature && name == b"X-Amz-Signature") {
                params.push((start as u32, eq as u32, end as u32));
            }
        }
        start = end + 1;
    }
    let name_of = |p: &(u32, u32, u32)| &query[p.0 as usize..p.1 as usize];
    let value_of = |p: &(u32, u32, u32)| {
        if p.1 == p.2 {
            &query[0..0]
        } else {
            &query[p.1 as usize + 1..p.2 as usize]
        }
    };
    params.sort_unstable_by(|a, b| {
        cmp_canonical(name_of(a), name_of(b)).then_with(|| cmp_canonical(value_of(a), value_of(b)))
    });
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            sink.write(b"&");
        }
        write_canonical_component(sink, name_of(p));
        sink.write(b"=");
        write_canonical_component(sink, value_of(p));
    }
}

/// All values of one header, each trimmed with inner whitespace collapsed,
/// joined with `,` in arrival order. `host` falls back to the authority.
fn write_header_values<S: Sink + ?Sized>(
    sink: &mut S,
    view: &RequestView<'_>,
    extra: &[(&str, &[u8])],
    name: &str,
) {
    let mut first = true;
    for (n, v) in view.headers.iter().chain(extra.iter()) {
        if header_eq(n, name) {
            if !first {
                sink.write(b",");
            }
            first = false;
            write_trimmed(sink, v);
        }
    }
    if first && name == "host" {
        if let Some(authority) = view.authority {
            write_trimmed(sink, authority.as_bytes());
        }
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    // ' ', and '\t' '\n' '\x0b' '\x0c' '\r'.
    b == b' ' || b.wrapping_sub(b'\t') <= b'\r' - b'\t'
}

/// Whether any byte is `<= b' '` (white space or a control byte), eight
/// bytes at a time: a conservative test that sends values to the exact,
/// slower path only when they may need trimming.
#[inline]
fn has_byte_at_most_space(value: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut words = value.chunks_exact(8);
    let mut found = 0u64;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        // A byte b < 0x21 (and below 0x80) leaves its high bit set here.
        found |= x.wrapping_sub(ONES * 0x21) & !x & HIGHS;
    }
    found != 0 || words.remainder().iter().any(|&b| b <= b' ')
}

/// Trims and collapses runs of whitespace (including folded line breaks)
/// into one space, like botocore's `' '.join(value.split())`.
fn write_trimmed<S: Sink + ?Sized>(sink: &mut S, value: &[u8]) {
    // Most values (dates, digests, tokens, hosts) hold no white space at
    // all: one word-at-a-time scan, then one write.
    if !has_byte_at_most_space(value) {
        sink.write(value);
        return;
    }
    let mut words = value.split(|&b| is_space(b)).filter(|w| !w.is_empty());
    if let Some(first) = words.next() {
        sink.write(first);
        for w in words {
            sink.write(b" ");
            sink.write(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_scan_matches_byte_scan() {
        let mut value = Vec::new();
        for len in 0..40 {
            for pos in 0..len {
                for b in [0u8, b'\t', b' ', b'!', 0x7f, 0x80, 0xa0, 0xff, b'a'] {
                    value.clear();
                    value.resize(len, b'x');
                    value[pos] = b;
                    let naive = value.iter().any(|&c| c <= b' ');
                    assert_eq!(has_byte_at_most_space(&value), naive, "{value:?}");
                }
            }
        }
        for b in 0..=255u8 {
            let v = [b'x', b'y', 0xff, b, 0x80, b'z', b'w', b'q', b'r'];
            assert_eq!(has_byte_at_most_space(&v), b <= b' ', "{b}");
        }
    }
}
