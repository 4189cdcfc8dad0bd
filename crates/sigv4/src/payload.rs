//! The payload-hash claim a signature covers.

/// What the signature says about the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadHash {
    /// The SHA-256 of the whole body (lower-case hex as signed).
    Sha256([u8; 32]),
    /// `UNSIGNED-PAYLOAD`: the body is not covered.
    Unsigned,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, unsigned chunks, a trailer.
    StreamingUnsignedTrailer,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, each chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD`: SigV4a chunks.
    StreamingEcdsa,
    /// `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER`: SigV4a chunks and trailer.
    StreamingEcdsaTrailer,
}

const LITERALS: [(&str, PayloadHash); 6] = [
    ("UNSIGNED-PAYLOAD", PayloadHash::Unsigned),
    (
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        PayloadHash::StreamingUnsignedTrailer,
    ),
    (
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        PayloadHash::StreamingSigned,
    ),
    (
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        PayloadHash::StreamingSignedTrailer,
    ),
    (
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        PayloadHash::StreamingEcdsa,
    ),
    (
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
        PayloadHash::StreamingEcdsaTrailer,
    ),
];

impl PayloadHash {
    /// Parses an `x-amz-content-sha256` value: 64 lower-case hex digits or a
    /// known literal.
    pub fn from_claim(value: &[u8]) -> Option<Self> {
        if value.len() == 64 {
            return parse_lower_hex_32(value).map(Self::Sha256);
        }
        LITERALS
            .iter()
            .find(|(lit, _)| lit.as_bytes() == value)
            .map(|(_, v)| *v)
    }

    /// The string the canonical request ends with.
    pub fn to_canonical_string(&self) -> String {
        String::from_utf8_lossy(&self.canonical_bytes_owned()).into_owned()
    }

    /// The canonical bytes, in a fixed buffer (hex is 64 bytes, literals fit).
    pub(crate) fn canonical_bytes_owned(&self) -> CanonicalPayload {
        let mut buf = [0u8; 64];
        let len = match self {
            Self::Sha256(d) => {
                crate::verify::hex_encode(d, &mut buf);
                64
            }
            other => {
                let lit = LITERALS
                    .iter()
                    .find(|(_, v)| v == other)
                    .map_or("", |(l, _)| l);
                buf[..lit.len()].copy_from_slice(lit.as_bytes());
                lit.len()
            }
        };
        CanonicalPayload { buf, len }
    }

    /// Whether the body arrives aws-chunked (`Content-Encoding: aws-chunked`).
    pub fn is_streaming(&self) -> bool {
        !matches!(self, Self::Sha256(_) | Self::Unsigned)
    }
}

/// A payload hash spelled out for the canonical request.
pub(crate) struct CanonicalPayload {
    buf: [u8; 64],
    len: usize,
}

impl std::ops::Deref for CanonicalPayload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Value of a lower-case hex digit; 0xff for anything else.
const LOWER_HEX: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Parses 64 lower-case hex digits into 32 bytes.
pub(crate) fn parse_lower_hex_32(value: &[u8]) -> Option<[u8; 32]> {
    if value.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(value.chunks_exact(2)) {
        let (hi, lo) = (LOWER_HEX[pair[0] as usize], LOWER_HEX[pair[1] as usize]);
        bad |= hi | lo;
        *o = hi << 4 | (lo & 15);
    }
    (bad & 0xf0 == 0).then_some(out)
}
