//! `YYYYMMDDTHHMMSSZ` timestamps to and from Unix seconds, without a
//! calendar dependency (Howard Hinnant's civil-date algorithms).

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Parses a strict `YYYYMMDDTHHMMSSZ` into Unix seconds.
pub fn parse_amz_date(s: &[u8]) -> Option<i64> {
    if s.len() != 16 || s[8] != b'T' || s[15] != b'Z' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[4..6])?;
    let day = digits(&s[6..8])?;
    let hour = digits(&s[9..11])?;
    let minute = digits(&s[11..13])?;
    let second = digits(&s[13..15])?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day == 0
        || day > month_days[month as usize - 1]
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second))
}

/// Formats Unix seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(unix: i64) -> [u8; 16] {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"00000000T000000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(4, 2, i64::from(m));
    put(6, 2, i64::from(d));
    put(9, 2, secs / 3600);
    put(11, 2, secs % 3600 / 60);
    put(13, 2, secs % 60);
    out
}

/// Unix seconds of a `SystemTime` (negative before 1970).
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for t in [
            0i64,
            1_440_938_160,
            951_782_400,
            4_102_444_799,
            1_709_164_800,
        ] {
            let s = format_amz_date(t);
            assert_eq!(
                parse_amz_date(&s),
                Some(t),
                "{}",
                String::from_utf8_lossy(&s)
            );
        }
        assert_eq!(&format_amz_date(1_440_938_160), b"20150830T123600Z");
    }

    #[test]
    fn strict() {
        for bad in [
            "20150830T123600",
            "20150830 123600Z",
            "2015083T1236000Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T243600Z",
            "2015-08-30T12:3Z",
            "+0150830T123600Z",
        ] {
            assert_eq!(parse_amz_date(bad.as_bytes()), None, "{bad}");
        }
        assert!(parse_amz_date(b"20240229T000000Z").is_some());
        assert!(parse_amz_date(b"20230229T000000Z").is_none());
    }
}
