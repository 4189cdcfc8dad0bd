//! Typed condition values: numbers, dates, IP ranges, booleans and base64.
//!
//! The same parsers read policy values (at compile time) and request values
//! (at evaluation), so both sides agree on what is valid.

use std::net::IpAddr;

/// Parses a number as IAM's `Numeric*` operators read it (integer or
/// decimal). Infinities and NaN are not numbers here.
#[inline]
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    // `f64::from_str` also takes "inf", "NaN", "1e5": keep to plain decimals.
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut digits = 0;
    let mut dots = 0;
    for b in body.bytes() {
        match b {
            b'0'..=b'9' => digits += 1,
            b'.' => dots += 1,
            _ => return None,
        }
    }
    if digits == 0 || dots > 1 {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Parses a date as IAM's `Date*` operators read it: ISO 8601
/// (`2024-01-31`, `2024-01-31T12:00Z`, `2024-01-31T12:00:00.123+02:00`, no
/// zone meaning UTC) or epoch seconds. Returns milliseconds since the epoch.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return s.parse::<i64>().ok()?.checked_mul(1000);
    }
    let mut p = Cursor { b, i: 0 };
    let year = p.digits(4)?;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = 0i64;
    if p.i < b.len() {
        if !matches!(b[p.i], b'T' | b't' | b' ') {
            return None;
        }
        p.i += 1;
        let hour = p.digits(2)?;
        p.expect(b':')?;
        let minute = p.digits(2)?;
        let mut second = 0;
        if p.peek() == Some(b':') {
            p.i += 1;
            second = p.digits(2)?;
            if p.peek() == Some(b'.') {
                p.i += 1;
                let start = p.i;
                let mut frac = 0i64;
                while let Some(d @ b'0'..=b'9') = p.peek() {
                    if p.i - start < 3 {
                        frac = frac * 10 + i64::from(d - b'0');
                    }
                    p.i += 1;
                }
                let n = p.i - start;
                if n == 0 {
                    return None;
                }
                for _ in n..3 {
                    frac *= 10;
                }
                ms += frac;
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        ms += (hour * 3600 + minute * 60 + second) * 1000;
        match p.peek() {
            None => {}
            Some(b'Z' | b'z') => {
                p.i += 1;
            }
            Some(sign @ (b'+' | b'-')) => {
                p.i += 1;
                let oh = p.digits(2)?;
                if p.peek() == Some(b':') {
                    p.i += 1;
                }
                let om = p.digits(2)?;
                if oh > 23 || om > 59 {
                    return None;
                }
                let offset = (oh * 3600 + om * 60) * 1000;
                // Local time = UTC + offset, so UTC = local - offset.
                ms += if sign == b'+' { -offset } else { offset };
            }
            Some(_) => return None,
        }
        if p.i != b.len() {
            return None;
        }
    }
    Some(days_from_civil(year, month, day) * 86_400_000 + ms)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let chunk = self.b.get(self.i..self.i + n)?;
        let mut v = 0i64;
        for &d in chunk {
            if !d.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(d - b'0');
        }
        self.i += n;
        Some(v)
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An IPv4 or IPv6 network, stored as masked 128-bit values so a match is
/// one AND and one compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    v6: bool,
    network: u128,
    mask: u128,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n` or a bare address (a host route).
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
                    return None;
                }
                (a, Some(p.parse::<u32>().ok()?))
            }
            None => (s, None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let (v6, bits, value) = split_ip(ip);
        let prefix = prefix.unwrap_or(bits);
        if prefix > bits {
            return None;
        }
        // Host bits of a v4 address live in the low 32 bits of the u128.
        let mask = if prefix == 0 {
            0
        } else {
            (u128::MAX << (bits - prefix)) & width_mask(bits)
        };
        Some(Cidr {
            v6,
            network: value & mask,
            mask,
        })
    }

    /// Whether a request address (textual) lies in this network.
    #[inline]
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let (v6, _, value) = split_ip(ip);
        v6 == self.v6 && value & self.mask == self.network
    }
}

fn width_mask(bits: u32) -> u128 {
    if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

fn split_ip(ip: IpAddr) -> (bool, u32, u128) {
    match ip {
        IpAddr::V4(a) => (false, 32, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, 128, u128::from(a)),
    }
}

/// Parses a request address for `IpAddress` / `NotIpAddress`.
#[inline]
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    // Dotted-quad fast path: `aws:SourceIp` is usually IPv4 and the
    // standard parser's generality costs more than the rest of a condition.
    if let Some(v4) = parse_ipv4(s.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    s.parse().ok()
}

/// Strict dotted-quad parser accepting exactly what `Ipv4Addr::from_str`
/// accepts (no leading zeros); `None` sends the caller to the full parser.
#[inline]
fn parse_ipv4(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value: u32 = 0;
        while let Some(d @ b'0'..=b'9') = b.get(i).copied() {
            value = value * 10 + u32::from(d - b'0');
            i += 1;
            if i - start > 3 {
                return None;
            }
        }
        let digits = i - start;
        if digits == 0 || value > 255 || (digits > 1 && b[start] == b'0') {
            return None;
        }
        *octet = value as u8;
    }
    (i == b.len()).then(|| std::net::Ipv4Addr::from(octets))
}

/// Parses `true` / `false` (ASCII case-insensitive) for `Bool`.
#[inline]
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Decodes standard base64 (padding optional) for `BinaryEquals`.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // A lone trailing sextet cannot encode a byte.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_date("1"), Some(1000));
        assert_eq!(parse_date("2019-07-16T12:00:00Z"), Some(1_563_278_400_000));
        assert_eq!(
            parse_date("2019-07-16T14:00:00+02:00"),
            Some(1_563_278_400_000)
        );
        assert_eq!(
            parse_date("2019-07-16T07:00:00-0500"),
            Some(1_563_278_400_000)
        );
        assert_eq!(
            parse_date("2019-07-16T12:00:00.5Z"),
            Some(1_563_278_400_500)
        );
        assert_eq!(parse_date("2019-07-16T12:00Z"), Some(1_563_278_400_000));
        assert_eq!(parse_date("2020-02-30"), None);
        assert_eq!(parse_date("2019-07-16T25:00:00Z"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("2019-07-16T12:00:00Zjunk"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-1.5"), Some(-1.5));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("1e3"), None);
        assert_eq!(parse_number("."), None);
    }

    #[test]
    fn cidrs() {
        let net = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(net.contains("203.0.113.9".parse().unwrap()));
        assert!(!net.contains("203.0.114.9".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let v6 = Cidr::parse("2001:DB8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.1")
            .unwrap()
            .contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0/8").is_none());
    }

    #[test]
    fn ipv4_fast_path_agrees_with_std() {
        for s in [
            "10.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            "1.2.3.4 ",
            "a.b.c.d",
            "1234.1.1.1",
            "::1",
            "",
            "1.2.3.04",
        ] {
            let std: Option<IpAddr> = s.trim().parse().ok();
            assert_eq!(parse_ip(s), std, "{s:?}");
        }
    }

    #[test]
    fn base64() {
        assert_eq!(
            decode_base64("QmluYXJ5VmFsdWU="),
            Some(b"BinaryValue".to_vec())
        );
        assert_eq!(decode_base64("QQ"), Some(b"A".to_vec()));
        assert_eq!(decode_base64("Q"), None);
        assert_eq!(decode_base64("Q!=="), None);
    }
}
