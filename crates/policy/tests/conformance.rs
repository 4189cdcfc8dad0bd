//! Table-driven conformance cases written from IAM's documented rules and
//! examples (policy grammar, evaluation logic, condition operators, set
//! qualifiers, policy variables, wildcards). Each table reports every
//! failing row, not just the first.

use countersign_policy::{CompiledPolicy, Outcome, PolicyDocument, RequestContext};

/// A condition key's state in the request.
#[derive(Clone, Copy, Debug)]
enum Key {
    Missing,
    One(&'static str),
    Many(&'static [&'static str]),
}
use Key::{Many, Missing, One};

fn compile(policies: &[(&str, &str)]) -> CompiledPolicy {
    let docs: Vec<(String, PolicyDocument)> = policies
        .iter()
        .map(|(name, json)| {
            let doc = PolicyDocument::parse(json).unwrap_or_else(|e| panic!("{name}: {e}\n{json}"));
            (name.to_string(), doc)
        })
        .collect();
    CompiledPolicy::compile(docs.iter().map(|(n, d)| (n.as_str(), d))).unwrap()
}

fn report(table: &str, failures: Vec<String>, total: usize) {
    assert!(
        failures.is_empty(),
        "{table}: {} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{table}: {total} cases passed");
}

// ---------------------------------------------------------------------------
// Condition operators: one Allow statement with one condition; `true` means
// the condition holds (Allow), `false` that it does not (ImplicitDeny).
// ---------------------------------------------------------------------------

const CONDITIONS: &[(&str, &str, &str, Key, bool)] = &[
    // StringEquals: exact, case-sensitive, values ORed, `*` literal.
    (
        "StringEquals",
        "aws:username",
        r#""alice""#,
        One("alice"),
        true,
    ),
    (
        "StringEquals",
        "aws:username",
        r#""alice""#,
        One("Alice"),
        false,
    ),
    (
        "StringEquals",
        "aws:username",
        r#""alice""#,
        One("alic"),
        false,
    ),
    ("StringEquals", "aws:username", r#""alice""#, One(""), false),
    ("StringEquals", "aws:username", r#""alice""#, Missing, false),
    (
        "StringEquals",
        "aws:username",
        r#"["bob","alice"]"#,
        One("alice"),
        true,
    ),
    (
        "StringEquals",
        "aws:username",
        r#"["bob","carol"]"#,
        One("alice"),
        false,
    ),
    (
        "StringEquals",
        "aws:username",
        r#""ali*""#,
        One("alice"),
        false,
    ),
    (
        "StringEquals",
        "aws:username",
        r#""ali*""#,
        One("ali*"),
        true,
    ),
    (
        "StringEquals",
        "aws:TagKeys",
        r#""team""#,
        Many(&["env", "team"]),
        true,
    ),
    (
        "StringEquals",
        "aws:TagKeys",
        r#""team""#,
        Many(&["env", "owner"]),
        false,
    ),
    ("StringEquals", "aws:TagKeys", r#""team""#, Many(&[]), false),
    ("StringEquals", "aws:username", r#""""#, One(""), true),
    ("StringEquals", "aws:username", r#"12"#, One("12"), true),
    ("StringEquals", "aws:username", r#""ü""#, One("ü"), true),
    // StringNotEquals: NOR of the values; a missing key satisfies it.
    (
        "StringNotEquals",
        "aws:username",
        r#""alice""#,
        One("alice"),
        false,
    ),
    (
        "StringNotEquals",
        "aws:username",
        r#""alice""#,
        One("bob"),
        true,
    ),
    (
        "StringNotEquals",
        "aws:username",
        r#""alice""#,
        One("ALICE"),
        true,
    ),
    (
        "StringNotEquals",
        "aws:username",
        r#""alice""#,
        Missing,
        true,
    ),
    (
        "StringNotEquals",
        "aws:username",
        r#"["alice","bob"]"#,
        One("bob"),
        false,
    ),
    (
        "StringNotEquals",
        "aws:username",
        r#"["alice","bob"]"#,
        One("carol"),
        true,
    ),
    (
        "StringNotEquals",
        "aws:TagKeys",
        r#""team""#,
        Many(&["env", "team"]),
        false,
    ),
    (
        "StringNotEquals",
        "aws:TagKeys",
        r#""team""#,
        Many(&["env", "owner"]),
        true,
    ),
    (
        "StringNotEqualsIfExists",
        "aws:username",
        r#""alice""#,
        Missing,
        true,
    ),
    (
        "StringNotEqualsIfExists",
        "aws:username",
        r#""alice""#,
        One("alice"),
        false,
    ),
    // StringEqualsIgnoreCase / StringNotEqualsIgnoreCase.
    (
        "StringEqualsIgnoreCase",
        "aws:username",
        r#""AlIcE""#,
        One("alice"),
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        "aws:username",
        r#""AlIcE""#,
        One("ALICE"),
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        "aws:username",
        r#""AlIcE""#,
        One("alicia"),
        false,
    ),
    (
        "StringEqualsIgnoreCase",
        "aws:username",
        r#""AlIcE""#,
        Missing,
        false,
    ),
    (
        "StringEqualsIgnoreCase",
        "aws:username",
        r#""ÉTÉ""#,
        One("été"),
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        "aws:username",
        r#"["x","BOB"]"#,
        One("bob"),
        true,
    ),
    (
        "StringNotEqualsIgnoreCase",
        "aws:username",
        r#""alice""#,
        One("ALICE"),
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        "aws:username",
        r#""alice""#,
        One("bob"),
        true,
    ),
    (
        "StringNotEqualsIgnoreCase",
        "aws:username",
        r#""alice""#,
        Missing,
        true,
    ),
    (
        "StringEqualsIgnoreCaseIfExists",
        "aws:username",
        r#""alice""#,
        Missing,
        true,
    ),
    // StringLike / StringNotLike: `*` any run, `?` one character.
    (
        "StringLike",
        "s3:prefix",
        r#""home/*""#,
        One("home/alice/x"),
        true,
    ),
    ("StringLike", "s3:prefix", r#""home/*""#, One("home/"), true),
    ("StringLike", "s3:prefix", r#""home/*""#, One("home"), false),
    (
        "StringLike",
        "s3:prefix",
        r#""home/*""#,
        One("Home/a"),
        false,
    ),
    ("StringLike", "s3:prefix", r#""home/*""#, Missing, false),
    ("StringLike", "s3:prefix", r#""a?c""#, One("abc"), true),
    ("StringLike", "s3:prefix", r#""a?c""#, One("abbc"), false),
    ("StringLike", "s3:prefix", r#""a?c""#, One("ac"), false),
    ("StringLike", "s3:prefix", r#""*""#, One(""), true),
    (
        "StringLike",
        "s3:prefix",
        r#""*/logs/*""#,
        One("2024/logs/app"),
        true,
    ),
    (
        "StringLike",
        "s3:prefix",
        r#""*/logs/*""#,
        One("2024/log/app"),
        false,
    ),
    (
        "StringLike",
        "s3:prefix",
        r#"["a*","b*"]"#,
        One("bee"),
        true,
    ),
    (
        "StringLike",
        "s3:prefix",
        r#""a*b*c""#,
        One("a-b-b-c"),
        true,
    ),
    ("StringLike", "s3:prefix", r#""a*b*c""#, One("a-c-b"), false),
    (
        "StringLike",
        "aws:TagKeys",
        r#""team*""#,
        Many(&["env", "teamA"]),
        true,
    ),
    (
        "StringLike",
        "aws:TagKeys",
        r#""team*""#,
        Many(&["env", "owner"]),
        false,
    ),
    (
        "StringNotLike",
        "s3:prefix",
        r#""home/*""#,
        One("home/a"),
        false,
    ),
    (
        "StringNotLike",
        "s3:prefix",
        r#""home/*""#,
        One("tmp/a"),
        true,
    ),
    ("StringNotLike", "s3:prefix", r#""home/*""#, Missing, true),
    (
        "StringNotLike",
        "s3:prefix",
        r#"["a*","b*"]"#,
        One("bee"),
        false,
    ),
    (
        "StringNotLike",
        "aws:TagKeys",
        r#""team*""#,
        Many(&["env", "teamA"]),
        false,
    ),
    (
        "StringNotLike",
        "aws:TagKeys",
        r#""team*""#,
        Many(&["env", "owner"]),
        true,
    ),
    (
        "StringLikeIfExists",
        "s3:prefix",
        r#""home/*""#,
        Missing,
        true,
    ),
    (
        "StringLikeIfExists",
        "s3:prefix",
        r#""home/*""#,
        One("tmp/"),
        false,
    ),
    (
        "StringLikeIfExists",
        "s3:prefix",
        r#""home/*""#,
        One("home/x"),
        true,
    ),
    (
        "StringEqualsIfExists",
        "aws:username",
        r#""alice""#,
        Missing,
        true,
    ),
    (
        "StringEqualsIfExists",
        "aws:username",
        r#""alice""#,
        One("bob"),
        false,
    ),
    // Numeric family.
    ("NumericEquals", "s3:max-keys", r#""10""#, One("10"), true),
    ("NumericEquals", "s3:max-keys", r#""10""#, One("10.0"), true),
    ("NumericEquals", "s3:max-keys", r#""10""#, One("11"), false),
    ("NumericEquals", "s3:max-keys", r#""10""#, One("ten"), false),
    ("NumericEquals", "s3:max-keys", r#""10""#, Missing, false),
    ("NumericEquals", "s3:max-keys", r#"10"#, One("10"), true),
    ("NumericEquals", "s3:max-keys", r#"[5, 10]"#, One("5"), true),
    (
        "NumericNotEquals",
        "s3:max-keys",
        r#""10""#,
        One("10"),
        false,
    ),
    (
        "NumericNotEquals",
        "s3:max-keys",
        r#""10""#,
        One("11"),
        true,
    ),
    ("NumericNotEquals", "s3:max-keys", r#""10""#, Missing, true),
    (
        "NumericNotEquals",
        "s3:max-keys",
        r#""10""#,
        One("ten"),
        false,
    ),
    (
        "NumericNotEquals",
        "s3:max-keys",
        r#"["10","11"]"#,
        One("11"),
        false,
    ),
    ("NumericLessThan", "s3:max-keys", r#""10""#, One("9"), true),
    (
        "NumericLessThan",
        "s3:max-keys",
        r#""10""#,
        One("10"),
        false,
    ),
    ("NumericLessThan", "s3:max-keys", r#""10""#, One("-3"), true),
    (
        "NumericLessThan",
        "s3:max-keys",
        r#""10""#,
        One("9.99"),
        true,
    ),
    ("NumericLessThan", "s3:max-keys", r#""10""#, Missing, false),
    (
        "NumericLessThan",
        "s3:max-keys",
        r#"["5","15"]"#,
        One("10"),
        true,
    ),
    (
        "NumericLessThanEquals",
        "s3:max-keys",
        r#""10""#,
        One("10"),
        true,
    ),
    (
        "NumericLessThanEquals",
        "s3:max-keys",
        r#""10""#,
        One("10.5"),
        false,
    ),
    (
        "NumericGreaterThan",
        "s3:max-keys",
        r#""10""#,
        One("11"),
        true,
    ),
    (
        "NumericGreaterThan",
        "s3:max-keys",
        r#""10""#,
        One("10"),
        false,
    ),
    (
        "NumericGreaterThan",
        "s3:max-keys",
        r#""-1.5""#,
        One("-1"),
        true,
    ),
    (
        "NumericGreaterThanEquals",
        "s3:max-keys",
        r#""10""#,
        One("10"),
        true,
    ),
    (
        "NumericGreaterThanEquals",
        "s3:max-keys",
        r#""10""#,
        One("9.99"),
        false,
    ),
    (
        "NumericGreaterThanEquals",
        "s3:max-keys",
        r#""10""#,
        Many(&["1", "20"]),
        true,
    ),
    (
        "NumericLessThanIfExists",
        "s3:max-keys",
        r#""10""#,
        Missing,
        true,
    ),
    (
        "NumericLessThanIfExists",
        "s3:max-keys",
        r#""10""#,
        One("12"),
        false,
    ),
    // Date family: ISO 8601 with zones and fractions, dates alone, epoch.
    (
        "DateLessThan",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2023-12-31T23:59:59Z"),
        true,
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2024-01-01T00:00:00Z"),
        false,
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("1704067199"),
        true,
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("1704067200"),
        false,
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("not a date"),
        false,
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        Missing,
        false,
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        r#""1704067200""#,
        One("2023-12-31T23:59:59.999Z"),
        true,
    ),
    (
        "DateLessThanEquals",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2024-01-01T00:00:00Z"),
        true,
    ),
    (
        "DateLessThanEquals",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2024-01-01T00:00:00.001Z"),
        false,
    ),
    (
        "DateGreaterThan",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2024-06-01T00:00:00Z"),
        true,
    ),
    (
        "DateGreaterThan",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2023-06-01T00:00:00Z"),
        false,
    ),
    (
        "DateGreaterThan",
        "aws:CurrentTime",
        r#""2024-01-01""#,
        One("2024-01-01T00:00:01Z"),
        true,
    ),
    (
        "DateGreaterThanEquals",
        "aws:CurrentTime",
        r#""2024-01-01""#,
        One("2024-01-01T00:00:00Z"),
        true,
    ),
    (
        "DateGreaterThanEquals",
        "aws:CurrentTime",
        r#""2024-01-01""#,
        One("2023-12-31T23:59:59Z"),
        false,
    ),
    (
        "DateEquals",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2024-01-01T02:00:00+02:00"),
        true,
    ),
    (
        "DateEquals",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2023-12-31T19:00:00-05:00"),
        true,
    ),
    (
        "DateEquals",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2024-01-01T00:00:00+01:00"),
        false,
    ),
    (
        "DateEquals",
        "aws:CurrentTime",
        r#""2024-01-01""#,
        One("2024-01-01T00:00:00Z"),
        true,
    ),
    (
        "DateEquals",
        "aws:EpochTime",
        r#""1704067200""#,
        One("1704067200"),
        true,
    ),
    (
        "DateNotEquals",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2024-01-01T00:00:00Z"),
        false,
    ),
    (
        "DateNotEquals",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        One("2024-01-02T00:00:00Z"),
        true,
    ),
    (
        "DateNotEquals",
        "aws:CurrentTime",
        r#""2024-01-01T00:00:00Z""#,
        Missing,
        true,
    ),
    (
        "DateGreaterThanIfExists",
        "aws:MultiFactorAuthAge",
        r#""2024-01-01""#,
        Missing,
        true,
    ),
    (
        "DateLessThan",
        "aws:CurrentTime",
        r#"["2020-01-01","2030-01-01"]"#,
        One("2025-01-01T00:00:00Z"),
        true,
    ),
    // Bool.
    (
        "Bool",
        "aws:SecureTransport",
        r#""true""#,
        One("true"),
        true,
    ),
    (
        "Bool",
        "aws:SecureTransport",
        r#""true""#,
        One("TRUE"),
        true,
    ),
    (
        "Bool",
        "aws:SecureTransport",
        r#""true""#,
        One("false"),
        false,
    ),
    (
        "Bool",
        "aws:SecureTransport",
        r#""true""#,
        One("yes"),
        false,
    ),
    ("Bool", "aws:SecureTransport", r#""true""#, Missing, false),
    ("Bool", "aws:SecureTransport", r#"true"#, One("true"), true),
    (
        "Bool",
        "aws:SecureTransport",
        r#"false"#,
        One("false"),
        true,
    ),
    (
        "Bool",
        "aws:SecureTransport",
        r#""false""#,
        One("true"),
        false,
    ),
    (
        "BoolIfExists",
        "aws:MultiFactorAuthPresent",
        r#""true""#,
        Missing,
        true,
    ),
    (
        "BoolIfExists",
        "aws:MultiFactorAuthPresent",
        r#""true""#,
        One("false"),
        false,
    ),
    (
        "BoolIfExists",
        "aws:MultiFactorAuthPresent",
        r#""false""#,
        One("false"),
        true,
    ),
    // BinaryEquals: base64 compared as bytes.
    (
        "BinaryEquals",
        "key",
        r#""QmluYXJ5VmFsdWU=""#,
        One("QmluYXJ5VmFsdWU="),
        true,
    ),
    (
        "BinaryEquals",
        "key",
        r#""QmluYXJ5VmFsdWU=""#,
        One("QmluYXJ5VmFsdWU"),
        true,
    ),
    (
        "BinaryEquals",
        "key",
        r#""QmluYXJ5VmFsdWU=""#,
        One("QmluYXJ5VmFsdWF="),
        false,
    ),
    (
        "BinaryEquals",
        "key",
        r#""QmluYXJ5VmFsdWU=""#,
        One("!!"),
        false,
    ),
    (
        "BinaryEquals",
        "key",
        r#""QmluYXJ5VmFsdWU=""#,
        Missing,
        false,
    ),
    (
        "BinaryEqualsIfExists",
        "key",
        r#""QmluYXJ5VmFsdWU=""#,
        Missing,
        true,
    ),
    // IpAddress / NotIpAddress, IPv4 and IPv6.
    (
        "IpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        One("203.0.113.7"),
        true,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        One("203.0.114.7"),
        false,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        One("2001:db8::1"),
        false,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        One("not-an-ip"),
        false,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        Missing,
        false,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#"["10.0.0.0/8","192.168.0.0/16"]"#,
        One("192.168.3.4"),
        true,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""10.1.2.3""#,
        One("10.1.2.3"),
        true,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""10.1.2.3""#,
        One("10.1.2.4"),
        false,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""10.1.2.3/8""#,
        One("10.200.0.1"),
        true,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""0.0.0.0/0""#,
        One("8.8.8.8"),
        true,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""2001:DB8::/32""#,
        One("2001:db8:85a3::8a2e:370:7334"),
        true,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""2001:DB8::/32""#,
        One("2001:db9::1"),
        false,
    ),
    (
        "IpAddress",
        "aws:SourceIp",
        r#""2001:DB8::/32""#,
        One("32.1.13.184"),
        false,
    ),
    ("IpAddress", "aws:SourceIp", r#""::/0""#, One("::1"), true),
    (
        "NotIpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        One("203.0.113.7"),
        false,
    ),
    (
        "NotIpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        One("198.51.100.1"),
        true,
    ),
    (
        "NotIpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        Missing,
        true,
    ),
    (
        "NotIpAddress",
        "aws:SourceIp",
        r#""203.0.113.0/24""#,
        One("garbage"),
        false,
    ),
    (
        "NotIpAddress",
        "aws:SourceIp",
        r#"["10.0.0.0/8","2001:db8::/32"]"#,
        One("2001:db8::5"),
        false,
    ),
    (
        "IpAddressIfExists",
        "aws:SourceIp",
        r#""10.0.0.0/8""#,
        Missing,
        true,
    ),
    // Arn family: six parts compared one by one.
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:iam::*:role/admin-*""#,
        One("arn:aws:iam::123456789012:role/admin-x"),
        true,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:iam::*:role/admin-*""#,
        One("arn:aws:iam::123456789012:role/user"),
        false,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:s3:::*""#,
        One("arn:aws:s3:::bucket/key:with:colons"),
        true,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:*:us-east-1:*:*""#,
        One("arn:aws:sqs:us-east-1:123:q"),
        true,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:*:us-east-1:*:*""#,
        One("arn:aws:sqs:us-west-2:123:q"),
        false,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:sqs:us*:123:q""#,
        One("arn:aws:sqs:us-east-1:123:q"),
        true,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:s3:*:*:b""#,
        One("arn:aws:s3:x:y:z:b"),
        false,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:s3:::b""#,
        One("not-an-arn"),
        false,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:s3:::b""#,
        Missing,
        false,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:sns:us-east-1:123:T?pic""#,
        One("arn:aws:sns:us-east-1:123:Topic"),
        true,
    ),
    (
        "ArnLike",
        "aws:SourceArn",
        r#""arn:aws:sns:us-east-1:123:topic""#,
        One("arn:aws:sns:us-east-1:123:Topic"),
        false,
    ),
    (
        "ArnEquals",
        "aws:SourceArn",
        r#""arn:aws:sns:us-east-1:123456789012:t""#,
        One("arn:aws:sns:us-east-1:123456789012:t"),
        true,
    ),
    (
        "ArnEquals",
        "aws:SourceArn",
        r#""arn:aws:sns:us-east-1:123456789012:t""#,
        One("arn:aws:sns:us-east-1:123456789012:u"),
        false,
    ),
    (
        "ArnEquals",
        "aws:SourceArn",
        r#""arn:aws:sns:*:123456789012:t""#,
        One("arn:aws:sns:eu-west-1:123456789012:t"),
        true,
    ),
    (
        "ArnNotLike",
        "aws:SourceArn",
        r#""arn:aws:s3:::b/*""#,
        One("arn:aws:s3:::b/x"),
        false,
    ),
    (
        "ArnNotLike",
        "aws:SourceArn",
        r#""arn:aws:s3:::b/*""#,
        One("arn:aws:s3:::c/x"),
        true,
    ),
    (
        "ArnNotLike",
        "aws:SourceArn",
        r#""arn:aws:s3:::b/*""#,
        Missing,
        true,
    ),
    (
        "ArnNotEquals",
        "aws:SourceArn",
        r#""arn:aws:s3:::b""#,
        One("arn:aws:s3:::b"),
        false,
    ),
    (
        "ArnNotEquals",
        "aws:SourceArn",
        r#""arn:aws:s3:::b""#,
        One("arn:aws:s3:::c"),
        true,
    ),
    (
        "ArnLikeIfExists",
        "aws:SourceArn",
        r#""arn:aws:s3:::b""#,
        Missing,
        true,
    ),
    // Null: `true` = the key must be absent.
    ("Null", "aws:TokenIssueTime", r#""true""#, Missing, true),
    (
        "Null",
        "aws:TokenIssueTime",
        r#""true""#,
        One("2024-01-01T00:00:00Z"),
        false,
    ),
    ("Null", "aws:TagKeys", r#""true""#, Many(&[]), true),
    ("Null", "aws:TokenIssueTime", r#""false""#, Missing, false),
    ("Null", "aws:TokenIssueTime", r#""false""#, One("x"), true),
    ("Null", "aws:TokenIssueTime", r#"false"#, One(""), true),
    ("Null", "aws:TagKeys", r#""false""#, Many(&["a"]), true),
    // ForAllValues: every request value must match; empty/missing is true.
    (
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Many(&["env"]),
        true,
    ),
    (
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Many(&["env", "team"]),
        true,
    ),
    (
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Many(&["env", "owner"]),
        false,
    ),
    (
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Missing,
        true,
    ),
    (
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Many(&[]),
        true,
    ),
    (
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        One("team"),
        true,
    ),
    (
        "ForAllValues:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        One("owner"),
        false,
    ),
    (
        "ForAllValues:StringEqualsIfExists",
        "aws:TagKeys",
        r#""env""#,
        Missing,
        true,
    ),
    (
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        r#""secret""#,
        Many(&["a", "b"]),
        true,
    ),
    (
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        r#""secret""#,
        Many(&["a", "secret"]),
        false,
    ),
    (
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        r#""secret""#,
        Missing,
        true,
    ),
    (
        "ForAllValues:StringLike",
        "aws:TagKeys",
        r#"["env","team*"]"#,
        Many(&["env", "teamB"]),
        true,
    ),
    (
        "ForAllValues:StringLike",
        "aws:TagKeys",
        r#"["env","team*"]"#,
        Many(&["env", "owner"]),
        false,
    ),
    (
        "ForAllValues:StringEqualsIgnoreCase",
        "aws:TagKeys",
        r#"["ENV"]"#,
        Many(&["env", "Env"]),
        true,
    ),
    (
        "ForAllValues:NumericLessThan",
        "ec2:Counts",
        r#""5""#,
        Many(&["1", "3"]),
        true,
    ),
    (
        "ForAllValues:NumericLessThan",
        "ec2:Counts",
        r#""5""#,
        Many(&["1", "7"]),
        false,
    ),
    (
        "ForAllValues:NumericLessThan",
        "ec2:Counts",
        r#""5""#,
        Many(&["1", "x"]),
        false,
    ),
    (
        "ForAllValues:IpAddress",
        "custom:Ips",
        r#""10.0.0.0/8""#,
        Many(&["10.1.1.1", "10.2.2.2"]),
        true,
    ),
    (
        "ForAllValues:IpAddress",
        "custom:Ips",
        r#""10.0.0.0/8""#,
        Many(&["10.1.1.1", "11.2.2.2"]),
        false,
    ),
    // ForAnyValue: at least one request value must match; empty/missing is
    // false, and IfExists does not change that.
    (
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Many(&["owner", "env"]),
        true,
    ),
    (
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Many(&["owner"]),
        false,
    ),
    (
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Missing,
        false,
    ),
    (
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        Many(&[]),
        false,
    ),
    (
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        r#"["env","team"]"#,
        One("team"),
        true,
    ),
    (
        "ForAnyValue:StringEqualsIfExists",
        "aws:TagKeys",
        r#""env""#,
        Missing,
        false,
    ),
    (
        "ForAnyValue:StringNotEquals",
        "aws:TagKeys",
        r#""env""#,
        Many(&["env", "team"]),
        true,
    ),
    (
        "ForAnyValue:StringNotEquals",
        "aws:TagKeys",
        r#""env""#,
        Many(&["env"]),
        false,
    ),
    (
        "ForAnyValue:StringNotEquals",
        "aws:TagKeys",
        r#""env""#,
        Missing,
        false,
    ),
    (
        "ForAnyValue:StringLike",
        "aws:TagKeys",
        r#""team*""#,
        Many(&["x", "teamA"]),
        true,
    ),
    (
        "ForAnyValue:StringNotLike",
        "aws:TagKeys",
        r#"["Owner:*","State:??"]"#,
        Many(&["Owner:Legal", "State:NY"]),
        false,
    ),
    (
        "ForAnyValue:StringNotLike",
        "aws:TagKeys",
        r#"["Owner:*","State:??"]"#,
        Many(&["owner:Legal", "Owner:Legal"]),
        true,
    ),
    (
        "ForAnyValue:NumericGreaterThan",
        "ec2:Counts",
        r#""5""#,
        Many(&["1", "7"]),
        true,
    ),
    (
        "ForAnyValue:NumericGreaterThan",
        "ec2:Counts",
        r#""5""#,
        Many(&["1", "2"]),
        false,
    ),
    (
        "ForAnyValue:DateLessThan",
        "custom:Dates",
        r#""2024-01-01""#,
        Many(&["2025-01-01", "2023-01-01"]),
        true,
    ),
    (
        "ForAnyValue:ArnLike",
        "custom:Arns",
        r#""arn:aws:s3:::b*""#,
        Many(&["arn:aws:s3:::a", "arn:aws:s3:::bb"]),
        true,
    ),
    (
        "ForAnyValue:Bool",
        "custom:Flags",
        r#""true""#,
        Many(&["false", "true"]),
        true,
    ),
    // Key names are case-insensitive, values are not.
    (
        "StringEquals",
        "AWS:UserName",
        r#""alice""#,
        One("alice"),
        true,
    ),
    (
        "IpAddress",
        "AWS:SOURCEIP",
        r#""10.0.0.0/8""#,
        One("10.0.0.1"),
        true,
    ),
];

fn condition_policy(op: &str, key: &str, values: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"C","Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{{"{op}":{{"{key}":{values}}}}}}}]}}"#
    )
}

fn context_with(key: &str, value: Key) -> RequestContext<'static> {
    let mut ctx = RequestContext::for_request("s3:GetObject", "arn:aws:s3:::b/k");
    // The request spells the key in lower case; the policy may not.
    let key = key.to_ascii_lowercase();
    match value {
        Missing => {}
        One(v) => {
            ctx.set(key, v);
        }
        Many(vs) => {
            ctx.set_multi(key, vs.iter().copied());
        }
    }
    ctx
}

#[test]
fn condition_operators() {
    let mut failures = Vec::new();
    for (i, &(op, key, values, request, want)) in CONDITIONS.iter().enumerate() {
        let policy = compile(&[("p", &condition_policy(op, key, values))]);
        let got = policy.evaluate(&context_with(key, request)).outcome == Outcome::Allow;
        if got != want {
            failures.push(format!(
                "#{i} {op} {key}={values} with {request:?}: want {want}, got {got}"
            ));
        }
    }
    report("condition operators", failures, CONDITIONS.len());
}

// ---------------------------------------------------------------------------
// Several operators and keys in one block: operators ANDed, keys ANDed.
// ---------------------------------------------------------------------------

/// Request condition keys, as (name, value).
type Keys = &'static [(&'static str, &'static str)];

const BLOCKS: &[(&str, Keys, bool)] = &[
    (
        r#"{"StringEquals":{"aws:username":"alice","aws:PrincipalTag/team":"blue"}}"#,
        &[("aws:username", "alice"), ("aws:principaltag/team", "blue")],
        true,
    ),
    (
        r#"{"StringEquals":{"aws:username":"alice","aws:PrincipalTag/team":"blue"}}"#,
        &[("aws:username", "alice"), ("aws:principaltag/team", "red")],
        false,
    ),
    (
        r#"{"StringEquals":{"aws:username":"alice","aws:PrincipalTag/team":"blue"}}"#,
        &[("aws:username", "alice")],
        false,
    ),
    (
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}"#,
        &[
            ("aws:SourceIp", "10.9.9.9"),
            ("aws:SecureTransport", "true"),
        ],
        true,
    ),
    (
        r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"Bool":{"aws:SecureTransport":"true"}}"#,
        &[
            ("aws:SourceIp", "10.9.9.9"),
            ("aws:SecureTransport", "false"),
        ],
        false,
    ),
    (
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2024-02-01T00:00:00Z"}}"#,
        &[("aws:CurrentTime", "2024-01-15T12:00:00Z")],
        true,
    ),
    (
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-01-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2024-02-01T00:00:00Z"}}"#,
        &[("aws:CurrentTime", "2024-02-15T12:00:00Z")],
        false,
    ),
    (
        r#"{"StringLike":{"s3:prefix":["home/","home/${aws:username}/*"]}}"#,
        &[("s3:prefix", "home/alice/docs"), ("aws:username", "alice")],
        true,
    ),
    (
        r#"{"StringLike":{"s3:prefix":["home/","home/${aws:username}/*"]}}"#,
        &[("s3:prefix", "home/bob/docs"), ("aws:username", "alice")],
        false,
    ),
    (
        r#"{"StringLike":{"s3:prefix":["home/","home/${aws:username}/*"]}}"#,
        &[("s3:prefix", "home/")],
        true,
    ),
    (r#"{}"#, &[], true),
    (
        r#"{"Null":{"aws:TokenIssueTime":"false"},"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}"#,
        &[
            ("aws:TokenIssueTime", "x"),
            ("aws:MultiFactorAuthAge", "100"),
        ],
        true,
    ),
];

#[test]
fn condition_blocks() {
    let mut failures = Vec::new();
    for (i, &(block, keys, want)) in BLOCKS.iter().enumerate() {
        let json = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{block}}}}}"#
        );
        let policy = compile(&[("p", &json)]);
        let mut ctx = RequestContext::for_request("s3:ListBucket", "arn:aws:s3:::b");
        for &(k, v) in keys {
            ctx.set(k, v);
        }
        let got = policy.evaluate(&ctx).is_allowed();
        if got != want {
            failures.push(format!(
                "#{i} {block} with {keys:?}: want {want}, got {got}"
            ));
        }
    }
    report("condition blocks", failures, BLOCKS.len());
}

// ---------------------------------------------------------------------------
// Action matching: case-insensitive, `*` and `?`.
// ---------------------------------------------------------------------------

const ACTIONS: &[(&str, &str, bool)] = &[
    ("s3:GetObject", "s3:GetObject", true),
    ("s3:GetObject", "s3:getobject", true),
    ("s3:getobject", "S3:GETOBJECT", true),
    ("s3:GetObject", "s3:GetObjectAcl", false),
    ("s3:GetObject", "s3:PutObject", false),
    ("s3:Get*", "s3:GetObjectAcl", true),
    ("s3:Get*", "s3:ListBucket", false),
    ("s3:*Object", "s3:PutObject", true),
    ("s3:*Object", "s3:PutObjectAcl", false),
    ("s3:Get?bject", "s3:GetObject", true),
    ("s3:Get?bject", "s3:GetObjject", false),
    ("s3:*", "s3:ListAllMyBuckets", true),
    ("s3:*", "ec2:RunInstances", false),
    ("s3:*", "s3express:CreateSession", false),
    ("*", "ec2:RunInstances", true),
    ("*", "anything", true),
    ("*:Describe*", "ec2:DescribeInstances", true),
    ("*:Describe*", "ec2:RunInstances", false),
    ("iam:*User*", "iam:CreateUserPolicy", true),
    ("iam:*user*", "IAM:ListUsers", true),
    ("ec2:Describe*", "EC2:describeinstances", true),
    ("s?:GetObject", "s3:GetObject", true),
    ("s?:GetObject", "sqs:GetObject", false),
    ("dynamodb:Get*", "dynamodb:GetItem", true),
    ("dynamodb:*Item", "dynamodb:BatchGetItem", true),
];

#[test]
fn action_matching() {
    let mut failures = Vec::new();
    for (i, &(pattern, action, want)) in ACTIONS.iter().enumerate() {
        let json = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{pattern}","Resource":"*"}}}}"#
        );
        let policy = compile(&[("p", &json)]);
        let got = policy
            .evaluate(&RequestContext::for_request(action, "arn:aws:s3:::b"))
            .is_allowed();
        if got != want {
            failures.push(format!(
                "#{i} Action {pattern} vs {action}: want {want}, got {got}"
            ));
        }
    }
    report("actions", failures, ACTIONS.len());
}

// ---------------------------------------------------------------------------
// Resource matching: case-sensitive; `*` crosses `:` and `/`; `?` is one
// character.
// ---------------------------------------------------------------------------

const RESOURCES: &[(&str, &str, bool)] = &[
    ("*", "arn:aws:s3:::bucket/key", true),
    ("*", "*", true),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket", true),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket/key", false),
    ("arn:aws:s3:::bucket", "arn:aws:s3:::Bucket", false),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c", true),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/", true),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", false),
    ("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket-two/x", true),
    (
        "arn:aws:ec2:*",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
        true,
    ),
    (
        "arn:aws:ec2:*:*:instance/*",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
        true,
    ),
    (
        "arn:aws:ec2:*:*:instance/*",
        "arn:aws:ec2:us-east-1:123456789012:volume/v-1",
        false,
    ),
    (
        "arn:aws:ec2:us-east-?:*",
        "arn:aws:ec2:us-east-1:1:instance/i",
        true,
    ),
    (
        "arn:aws:ec2:us-east-?:*",
        "arn:aws:ec2:us-east-12:1:instance/i",
        false,
    ),
    (
        "arn:aws:iam::123456789012:user/*",
        "arn:aws:iam::123456789012:user/division/bob",
        true,
    ),
    (
        "arn:aws:iam::123456789012:user/*",
        "arn:aws:iam::210987654321:user/bob",
        false,
    ),
    ("arn:aws:*:*:*:*", "arn:aws:sqs:eu-west-1:1:queue", true),
    (
        "arn:aws:dynamodb:us-east-1:1:table/Books",
        "arn:aws:dynamodb:us-east-1:1:table/books",
        false,
    ),
    ("arn:aws:s3:::*/logs/*", "arn:aws:s3:::b/logs/x", true),
    ("arn:aws:s3:::*/logs/*", "arn:aws:s3:::b/log/x", false),
    ("arn:aws:s3:::a*b*c", "arn:aws:s3:::aXbYc", true),
    ("arn:aws:s3:::a*b*c", "arn:aws:s3:::aXcYb", false),
    ("arn:aws:s3:::b/?", "arn:aws:s3:::b/é", true),
    ("arn:aws:s3:::b/??", "arn:aws:s3:::b/é", false),
    ("arn:aws:s3:::b/*.txt", "arn:aws:s3:::b/dir/file.txt", true),
    (
        "arn:aws:s3:::b/*.txt",
        "arn:aws:s3:::b/dir/file.txt.gz",
        false,
    ),
    (
        "arn:aws:logs:*:*:log-group:/app/*:*",
        "arn:aws:logs:eu-west-1:1:log-group:/app/web:log-stream:x",
        true,
    ),
    ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*", true),
    ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/x", false),
    ("arn:aws:s3:::b/${?}", "arn:aws:s3:::b/?", true),
    ("arn:aws:s3:::b/${?}", "arn:aws:s3:::b/x", false),
    ("arn:aws:s3:::b/${$}x", "arn:aws:s3:::b/$x", true),
];

#[test]
fn resource_matching() {
    let mut failures = Vec::new();
    for (i, &(pattern, resource, want)) in RESOURCES.iter().enumerate() {
        let json = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"{pattern}"}}}}"#
        );
        let policy = compile(&[("p", &json)]);
        let got = policy
            .evaluate(&RequestContext::for_request("s3:GetObject", resource))
            .is_allowed();
        if got != want {
            failures.push(format!(
                "#{i} Resource {pattern} vs {resource}: want {want}, got {got}"
            ));
        }
    }
    report("resources", failures, RESOURCES.len());
}

// ---------------------------------------------------------------------------
// Policy variables in Resource: defaults, escapes, versions, literal values.
// ---------------------------------------------------------------------------

const VARIABLES: &[(&str, &str, Keys, &str, bool)] = &[
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}/*",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/alice/x",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}/*",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/bob/x",
        false,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}/*",
        &[],
        "arn:aws:s3:::b/alice/x",
        false,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}/*",
        &[],
        "arn:aws:s3:::b//x",
        false,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username, 'anon'}/*",
        &[],
        "arn:aws:s3:::b/anon/x",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username,'anon'}/*",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/alice/x",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username, 'anon'}/*",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/anon/x",
        false,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username, ''}x",
        &[],
        "arn:aws:s3:::b/x",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${AWS:UserName}",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/alice",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}",
        &[("AWS:USERNAME", "alice")],
        "arn:aws:s3:::b/alice",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}",
        &[("aws:username", "Alice")],
        "arn:aws:s3:::b/alice",
        false,
    ),
    // A variable's value is literal text, not a pattern.
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}/x",
        &[("aws:username", "*")],
        "arn:aws:s3:::b/bob/x",
        false,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}/x",
        &[("aws:username", "*")],
        "arn:aws:s3:::b/*/x",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:username}?",
        &[("aws:username", "a")],
        "arn:aws:s3:::b/ab",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::${aws:PrincipalTag/team}-*",
        &[("aws:PrincipalTag/team", "blue")],
        "arn:aws:s3:::blue-data",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::${aws:PrincipalTag/team}-*",
        &[("aws:PrincipalTag/team", "blue")],
        "arn:aws:s3:::red-data",
        false,
    ),
    (
        "2012-10-17",
        "arn:aws:iam::*:user/${aws:username}",
        &[("aws:username", "bob")],
        "arn:aws:iam::1:user/bob",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:userid}/${aws:username}",
        &[("aws:userid", "AIDA1"), ("aws:username", "bob")],
        "arn:aws:s3:::b/AIDA1/bob",
        true,
    ),
    (
        "2012-10-17",
        "arn:aws:s3:::b/${aws:userid}/${aws:username}",
        &[("aws:username", "bob")],
        "arn:aws:s3:::b/AIDA1/bob",
        false,
    ),
    // Version 2008-10-17 (and no Version) reads `${...}` literally.
    (
        "2008-10-17",
        "arn:aws:s3:::b/${aws:username}",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/alice",
        false,
    ),
    (
        "2008-10-17",
        "arn:aws:s3:::b/${aws:username}",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/${aws:username}",
        true,
    ),
    (
        "",
        "arn:aws:s3:::b/${aws:username}",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/${aws:username}",
        true,
    ),
    (
        "",
        "arn:aws:s3:::b/${aws:username}",
        &[("aws:username", "alice")],
        "arn:aws:s3:::b/alice",
        false,
    ),
];

#[test]
fn policy_variables_in_resources() {
    let mut failures = Vec::new();
    for (i, &(version, pattern, keys, resource, want)) in VARIABLES.iter().enumerate() {
        let version = if version.is_empty() {
            String::new()
        } else {
            format!(r#""Version":"{version}","#)
        };
        let json = format!(
            r#"{{{version}"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"{pattern}"}}}}"#
        );
        let policy = compile(&[("p", &json)]);
        let mut ctx = RequestContext::for_request("s3:GetObject", resource);
        for &(k, v) in keys {
            ctx.set(k, v);
        }
        let got = policy.evaluate(&ctx).is_allowed();
        if got != want {
            failures.push(format!(
                "#{i} {pattern} with {keys:?} vs {resource}: want {want}, got {got}"
            ));
        }
    }
    report("variables", failures, VARIABLES.len());
}

#[test]
fn policy_variables_in_conditions() {
    // (operator, value, request keys, expected)
    let cases: &[(&str, &str, Keys, bool)] = &[
        (
            "StringEquals",
            "home/${aws:username}/",
            &[("s3:prefix", "home/alice/"), ("aws:username", "alice")],
            true,
        ),
        (
            "StringEquals",
            "home/${aws:username}/",
            &[("s3:prefix", "home/bob/"), ("aws:username", "alice")],
            false,
        ),
        (
            "StringEquals",
            "home/${aws:username}/",
            &[("s3:prefix", "home/alice/")],
            false,
        ),
        (
            "StringEquals",
            "home/${aws:username, 'guest'}/",
            &[("s3:prefix", "home/guest/")],
            true,
        ),
        (
            "StringEquals",
            "home/${*}",
            &[("s3:prefix", "home/*")],
            true,
        ),
        (
            "StringNotEquals",
            "home/${aws:username}/",
            &[("s3:prefix", "home/alice/"), ("aws:username", "alice")],
            false,
        ),
        (
            "StringNotEquals",
            "home/${aws:username}/",
            &[("s3:prefix", "home/alice/")],
            true,
        ),
        (
            "StringEqualsIgnoreCase",
            "HOME/${aws:username}",
            &[("s3:prefix", "home/ALICE"), ("aws:username", "alice")],
            true,
        ),
        (
            "StringLike",
            "home/${aws:username}/*",
            &[("s3:prefix", "home/alice/a/b"), ("aws:username", "alice")],
            true,
        ),
        (
            "StringLike",
            "home/${aws:username}/*",
            &[("s3:prefix", "home/alicex/a"), ("aws:username", "alice")],
            false,
        ),
        (
            "StringLike",
            "${aws:PrincipalTag/project}-*",
            &[
                ("s3:prefix", "apollo-1"),
                ("aws:PrincipalTag/project", "apollo"),
            ],
            true,
        ),
        (
            "ArnLike",
            "arn:aws:iam::*:user/${aws:username}",
            &[
                ("s3:prefix", "arn:aws:iam::1:user/alice"),
                ("aws:username", "alice"),
            ],
            true,
        ),
        (
            "ArnLike",
            "arn:aws:iam::*:user/${aws:username}",
            &[
                ("s3:prefix", "arn:aws:iam::1:user/bob"),
                ("aws:username", "alice"),
            ],
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (i, &(op, value, keys, want)) in cases.iter().enumerate() {
        let json = condition_policy(op, "s3:prefix", &format!("{value:?}"));
        let policy = compile(&[("p", &json)]);
        let mut ctx = RequestContext::for_request("s3:GetObject", "arn:aws:s3:::b");
        for &(k, v) in keys {
            ctx.set(k, v);
        }
        let got = policy.evaluate(&ctx).is_allowed();
        if got != want {
            failures.push(format!(
                "#{i} {op} {value} with {keys:?}: want {want}, got {got}"
            ));
        }
    }
    report("variables in conditions", failures, cases.len());
    // A multi-valued key cannot be substituted: it is unresolved.
    let policy = compile(&[(
        "p",
        &condition_policy("StringEquals", "s3:prefix", r#""${aws:TagKeys}""#),
    )]);
    let mut ctx = RequestContext::for_request("s3:GetObject", "arn:aws:s3:::b");
    ctx.set("s3:prefix", "a").set_multi("aws:TagKeys", ["a"]);
    assert!(!policy.evaluate(&ctx).is_allowed());
}

// ---------------------------------------------------------------------------
// Evaluation logic: deny precedence, Not-elements, several pairs, and which
// statement decides.
// ---------------------------------------------------------------------------

const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":{"Sid":"AllowAll","Effect":"Allow","Action":"*","Resource":"*"}}"#;
const MIXED: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"ReadBucket","Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":["arn:aws:s3:::data","arn:aws:s3:::data/*"]},
    {"Sid":"DenyDelete","Effect":"Deny","Action":"s3:Delete*","Resource":"*"},
    {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::data/uploads/*"},
    {"Sid":"DenyOutsideNet","Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
    {"Sid":"AlsoRead","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}
]}"#;
const NOT_ELEMENTS: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"AllButIam","Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"},
    {"Sid":"NotSecret","Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::public","arn:aws:s3:::public/*"]},
    {"Sid":"IamReadOnMe","Effect":"Allow","Action":"iam:Get*","NotResource":"arn:aws:iam::*:user/root*"}
]}"#;
const DENY_NOT_ACTION: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Everything","Effect":"Allow","Action":"*","Resource":"*"},
    {"Sid":"OnlyS3InRegion","Effect":"Deny","NotAction":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestedRegion":"eu-west-1"}}}
]}"#;
const NO_STATEMENT_MATCH: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:*:*:q"}}"#;

/// (policies, pairs, keys, outcome, deciding label, deciding pair)
type EvalCase = (
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str)],
    Outcome,
    Option<&'static str>,
    Option<usize>,
);

const NET: &[(&str, &str)] = &[("aws:SourceIp", "10.1.1.1")];
const OUTSIDE: &[(&str, &str)] = &[("aws:SourceIp", "8.8.8.8")];

const EVALUATION: &[EvalCase] = &[
    (
        &[("mixed", MIXED)],
        &[("s3:GetObject", "arn:aws:s3:::data/x")],
        NET,
        Outcome::Allow,
        Some("mixed/ReadBucket"),
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("s3:ListBucket", "arn:aws:s3:::data")],
        NET,
        Outcome::Allow,
        Some("mixed/ReadBucket"),
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("s3:GetObject", "arn:aws:s3:::other/x")],
        NET,
        Outcome::Allow,
        Some("mixed/AlsoRead"),
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("s3:DeleteObject", "arn:aws:s3:::data/x")],
        NET,
        Outcome::ExplicitDeny,
        Some("mixed/DenyDelete"),
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("s3:PutObject", "arn:aws:s3:::data/uploads/a")],
        NET,
        Outcome::Allow,
        Some("mixed/Statement[2]"),
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("s3:PutObject", "arn:aws:s3:::data/other")],
        NET,
        Outcome::ImplicitDeny,
        None,
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("s3:GetObject", "arn:aws:s3:::data/x")],
        OUTSIDE,
        Outcome::ExplicitDeny,
        Some("mixed/DenyOutsideNet"),
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("s3:GetObject", "arn:aws:s3:::data/x")],
        &[],
        Outcome::ExplicitDeny,
        Some("mixed/DenyOutsideNet"),
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("ec2:RunInstances", "*")],
        NET,
        Outcome::ImplicitDeny,
        None,
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[("ec2:RunInstances", "*")],
        OUTSIDE,
        Outcome::ExplicitDeny,
        Some("mixed/DenyOutsideNet"),
        Some(0),
    ),
    // Deny in one policy beats Allow in another, whatever the order.
    (
        &[("all", ALLOW_ALL), ("mixed", MIXED)],
        &[("s3:DeleteBucket", "arn:aws:s3:::data")],
        NET,
        Outcome::ExplicitDeny,
        Some("mixed/DenyDelete"),
        Some(0),
    ),
    (
        &[("mixed", MIXED), ("all", ALLOW_ALL)],
        &[("s3:DeleteBucket", "arn:aws:s3:::data")],
        NET,
        Outcome::ExplicitDeny,
        Some("mixed/DenyDelete"),
        Some(0),
    ),
    // The first matching Allow in document order decides.
    (
        &[("all", ALLOW_ALL), ("mixed", MIXED)],
        &[("s3:GetObject", "arn:aws:s3:::data/x")],
        NET,
        Outcome::Allow,
        Some("all/AllowAll"),
        Some(0),
    ),
    (
        &[("mixed", MIXED), ("all", ALLOW_ALL)],
        &[("s3:GetObject", "arn:aws:s3:::data/x")],
        NET,
        Outcome::Allow,
        Some("mixed/ReadBucket"),
        Some(0),
    ),
    (
        &[("mixed", MIXED), ("all", ALLOW_ALL)],
        &[("ec2:RunInstances", "*")],
        NET,
        Outcome::Allow,
        Some("all/AllowAll"),
        Some(0),
    ),
    // Several pairs: all must be allowed; an explicit deny anywhere wins.
    (
        &[("mixed", MIXED)],
        &[
            ("s3:GetObject", "arn:aws:s3:::data/x"),
            ("s3:PutObject", "arn:aws:s3:::data/uploads/y"),
        ],
        NET,
        Outcome::Allow,
        Some("mixed/ReadBucket"),
        Some(0),
    ),
    (
        &[("mixed", MIXED)],
        &[
            ("s3:GetObject", "arn:aws:s3:::data/x"),
            ("s3:PutObject", "arn:aws:s3:::data/z"),
        ],
        NET,
        Outcome::ImplicitDeny,
        None,
        Some(1),
    ),
    (
        &[("mixed", MIXED)],
        &[
            ("s3:GetObject", "arn:aws:s3:::data/x"),
            ("s3:DeleteObject", "arn:aws:s3:::data/z"),
        ],
        NET,
        Outcome::ExplicitDeny,
        Some("mixed/DenyDelete"),
        Some(1),
    ),
    (
        &[("mixed", MIXED)],
        &[
            ("s3:PutObject", "arn:aws:s3:::data/z"),
            ("s3:DeleteObject", "arn:aws:s3:::data/z"),
        ],
        NET,
        Outcome::ExplicitDeny,
        Some("mixed/DenyDelete"),
        Some(1),
    ),
    (
        &[("mixed", MIXED)],
        &[],
        NET,
        Outcome::ImplicitDeny,
        None,
        None,
    ),
    // NotAction / NotResource.
    (
        &[("not", NOT_ELEMENTS)],
        &[("ec2:RunInstances", "*")],
        &[],
        Outcome::Allow,
        Some("not/AllButIam"),
        Some(0),
    ),
    (
        &[("not", NOT_ELEMENTS)],
        &[("sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:q")],
        &[],
        Outcome::Allow,
        Some("not/AllButIam"),
        Some(0),
    ),
    (
        &[("not", NOT_ELEMENTS)],
        &[("s3:GetObject", "arn:aws:s3:::public/a")],
        &[],
        Outcome::Allow,
        Some("not/AllButIam"),
        Some(0),
    ),
    (
        &[("not", NOT_ELEMENTS)],
        &[("s3:GetObject", "arn:aws:s3:::secret/a")],
        &[],
        Outcome::ExplicitDeny,
        Some("not/NotSecret"),
        Some(0),
    ),
    (
        &[("not", NOT_ELEMENTS)],
        &[("iam:CreateUser", "arn:aws:iam::1:user/bob")],
        &[],
        Outcome::ImplicitDeny,
        None,
        Some(0),
    ),
    (
        &[("not", NOT_ELEMENTS)],
        &[("IAM:GetUser", "arn:aws:iam::1:user/bob")],
        &[],
        Outcome::Allow,
        Some("not/IamReadOnMe"),
        Some(0),
    ),
    (
        &[("not", NOT_ELEMENTS)],
        &[("iam:GetUser", "arn:aws:iam::1:user/root")],
        &[],
        Outcome::ImplicitDeny,
        None,
        Some(0),
    ),
    (
        &[("not", NOT_ELEMENTS)],
        &[("organizations:ListAccounts", "*")],
        &[],
        Outcome::ImplicitDeny,
        None,
        Some(0),
    ),
    (
        &[("dna", DENY_NOT_ACTION)],
        &[("s3:GetObject", "*")],
        &[("aws:RequestedRegion", "us-east-1")],
        Outcome::Allow,
        Some("dna/Everything"),
        Some(0),
    ),
    (
        &[("dna", DENY_NOT_ACTION)],
        &[("ec2:RunInstances", "*")],
        &[("aws:RequestedRegion", "us-east-1")],
        Outcome::ExplicitDeny,
        Some("dna/OnlyS3InRegion"),
        Some(0),
    ),
    (
        &[("dna", DENY_NOT_ACTION)],
        &[("ec2:RunInstances", "*")],
        &[("aws:RequestedRegion", "eu-west-1")],
        Outcome::Allow,
        Some("dna/Everything"),
        Some(0),
    ),
    (
        &[("dna", DENY_NOT_ACTION)],
        &[("ec2:RunInstances", "*")],
        &[],
        Outcome::ExplicitDeny,
        Some("dna/OnlyS3InRegion"),
        Some(0),
    ),
    (
        &[("none", NO_STATEMENT_MATCH)],
        &[("sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:q")],
        &[],
        Outcome::Allow,
        Some("none/Statement[0]"),
        Some(0),
    ),
    (
        &[("none", NO_STATEMENT_MATCH)],
        &[("sqs:SendMessage", "arn:aws:sqs:eu-west-1:1:r")],
        &[],
        Outcome::ImplicitDeny,
        None,
        Some(0),
    ),
    (
        &[("none", NO_STATEMENT_MATCH)],
        &[("sqs:ReceiveMessage", "arn:aws:sqs:eu-west-1:1:q")],
        &[],
        Outcome::ImplicitDeny,
        None,
        Some(0),
    ),
];

#[test]
fn evaluation_logic() {
    let mut failures = Vec::new();
    for (i, &(policies, pairs, keys, outcome, deciding, pair)) in EVALUATION.iter().enumerate() {
        let policy = compile(policies);
        let mut ctx = RequestContext::new();
        for &(a, r) in pairs {
            ctx.add_request(a, r);
        }
        for &(k, v) in keys {
            ctx.set(k, v);
        }
        let d = policy.evaluate(&ctx);
        let label = d.deciding.map(|s| policy.describe(s).to_string());
        if d.outcome != outcome || label.as_deref() != deciding || d.request != pair {
            failures.push(format!(
                "#{i} {pairs:?} {keys:?}: want {outcome:?} {deciding:?} {pair:?}, got {:?} {label:?} {:?}",
                d.outcome, d.request
            ));
        }
    }
    report("evaluation", failures, EVALUATION.len());
}

// ---------------------------------------------------------------------------
// Parsing: what IAM rejects, with the JSON path and reason; and what it
// accepts.
// ---------------------------------------------------------------------------

const STMT_OK: &str = r#""Effect":"Allow","Action":"s3:GetObject","Resource":"*""#;

fn doc(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{{{statement}}}]}}"#)
}

#[test]
fn parse_rejections() {
    // (document, expected path, part of the reason)
    let cases: Vec<(String, &str, &str)> = vec![
        ("not json".into(), "$", "invalid JSON"),
        ("[]".into(), "$", "JSON object"),
        (
            r#"{"Version":"2012-10-17"}"#.into(),
            "$",
            "missing required element Statement",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            "$.Statement",
            "at least one statement",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":"x"}"#.into(),
            "$.Statement",
            "object or an array",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":["x"]}"#.into(),
            "$.Statement[0]",
            "JSON object",
        ),
        (
            format!(r#"{{"Version":"2020-01-01","Statement":{{{STMT_OK}}}}}"#),
            "$.Version",
            "Version must be",
        ),
        (
            format!(r#"{{"Version":"2012-10-17","Id":7,"Statement":{{{STMT_OK}}}}}"#),
            "$.Id",
            "string",
        ),
        (
            format!(r#"{{"Version":"2012-10-17","Foo":1,"Statement":{{{STMT_OK}}}}}"#),
            "$.Foo",
            "unknown policy element",
        ),
        (
            doc(&format!(r#"{STMT_OK},"Principal":{{"AWS":"*"}}"#)),
            "$.Statement[0].Principal",
            "not allowed in an identity policy",
        ),
        (
            doc(&format!(r#"{STMT_OK},"NotPrincipal":"*""#)),
            "$.Statement[0].NotPrincipal",
            "not allowed in an identity policy",
        ),
        (
            doc(&format!(r#"{STMT_OK},"NotAction":"s3:PutObject""#)),
            "$.Statement[0].NotAction",
            "not both",
        ),
        (
            doc(&format!(r#"{STMT_OK},"NotResource":"*""#)),
            "$.Statement[0].NotResource",
            "not both",
        ),
        (
            doc(&format!(r#"{STMT_OK},"Bogus":1"#)),
            "$.Statement[0].Bogus",
            "unknown statement element",
        ),
        (
            doc(r#""Action":"s3:GetObject","Resource":"*""#),
            "$.Statement[0]",
            "missing required element Effect",
        ),
        (
            doc(r#""Effect":"allow","Action":"s3:GetObject","Resource":"*""#),
            "$.Statement[0].Effect",
            "\"Allow\" or \"Deny\"",
        ),
        (
            doc(r#""Effect":"Allow","Resource":"*""#),
            "$.Statement[0]",
            "needs Action or NotAction",
        ),
        (
            doc(r#""Effect":"Allow","Action":"*""#),
            "$.Statement[0]",
            "needs Resource or NotResource",
        ),
        (
            doc(r#""Effect":"Allow","Action":"s3GetObject","Resource":"*""#),
            "$.Statement[0].Action",
            "service:action",
        ),
        (
            doc(r#""Effect":"Allow","Action":["s3:Get*","s3:"],"Resource":"*""#),
            "$.Statement[0].Action[1]",
            "service:action",
        ),
        (
            doc(r#""Effect":"Allow","Action":[],"Resource":"*""#),
            "$.Statement[0].Action",
            "empty list",
        ),
        (
            doc(r#""Effect":"Allow","Action":[1],"Resource":"*""#),
            "$.Statement[0].Action[0]",
            "must be a string",
        ),
        (
            doc(r#""Effect":"Allow","Action":{"a":1},"Resource":"*""#),
            "$.Statement[0].Action",
            "string or an array",
        ),
        (
            doc(r#""Effect":"Allow","Action":"*","Resource":"bucket""#),
            "$.Statement[0].Resource",
            "ARN",
        ),
        (
            doc(
                r#""Effect":"Allow","Action":"*","Resource":["*","arn:aws:s3:::b/${aws:username"]"#,
            ),
            "$.Statement[0].Resource[1]",
            "unterminated policy variable",
        ),
        (
            doc(r#""Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${a, b}""#),
            "$.Statement[0].Resource",
            "invalid policy variable",
        ),
        (
            doc(r#""Sid":"has space","Effect":"Allow","Action":"*","Resource":"*""#),
            "$.Statement[0].Sid",
            "letters and digits",
        ),
        (
            doc(r#""Sid":1,"Effect":"Allow","Action":"*","Resource":"*""#),
            "$.Statement[0].Sid",
            "string",
        ),
        (
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"A",{STMT_OK}}},{{"Sid":"A",{STMT_OK}}}]}}"#
            ),
            "$.Statement[1].Sid",
            "duplicate Sid",
        ),
        (
            doc(&format!(r#"{STMT_OK},"Condition":[]"#)),
            "$.Statement[0].Condition",
            "object of operators",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"StringEqualz":{{"a":"b"}}}}"#
            )),
            "$.Statement[0].Condition.StringEqualz",
            "unknown condition operator",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"stringequals":{{"a":"b"}}}}"#
            )),
            "$.Statement[0].Condition.stringequals",
            "unknown condition operator",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"NullIfExists":{{"a":"true"}}}}"#
            )),
            "$.Statement[0].Condition.NullIfExists",
            "neither",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"ForAnyValue:Null":{{"a":"true"}}}}"#
            )),
            "$.Statement[0].Condition[\"ForAnyValue:Null\"]",
            "neither",
        ),
        (
            doc(&format!(r#"{STMT_OK},"Condition":{{"StringEquals":"x"}}"#)),
            "$.Statement[0].Condition.StringEquals",
            "condition keys to values",
        ),
        (
            doc(&format!(r#"{STMT_OK},"Condition":{{"StringEquals":{{}}}}"#)),
            "$.Statement[0].Condition.StringEquals",
            "at least one condition key",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"StringEquals":{{"aws:username":{{"x":1}}}}}}"#
            )),
            "$.Statement[0].Condition.StringEquals[\"aws:username\"]",
            "string, number, boolean",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"StringEquals":{{"aws:username":[null]}}}}"#
            )),
            "$.Statement[0].Condition.StringEquals[\"aws:username\"][0]",
            "string, number or boolean",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"StringEquals":{{"aws:username":[]}}}}"#
            )),
            "$.Statement[0].Condition.StringEquals[\"aws:username\"]",
            "at least one value",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"NumericEquals":{{"s3:max-keys":"ten"}}}}"#
            )),
            "$.Statement[0].Condition.NumericEquals[\"s3:max-keys\"]",
            "not a valid number",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"DateLessThan":{{"aws:CurrentTime":"tomorrow"}}}}"#
            )),
            "$.Statement[0].Condition.DateLessThan[\"aws:CurrentTime\"]",
            "not a valid date",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/33"}}}}"#
            )),
            "$.Statement[0].Condition.IpAddress[\"aws:SourceIp\"]",
            "IP address or CIDR",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"Bool":{{"aws:SecureTransport":"yes"}}}}"#
            )),
            "$.Statement[0].Condition.Bool[\"aws:SecureTransport\"]",
            "boolean",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"BinaryEquals":{{"k":"!!"}}}}"#
            )),
            "$.Statement[0].Condition.BinaryEquals.k",
            "base64",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"Null":{{"k":"maybe"}}}}"#
            )),
            "$.Statement[0].Condition.Null.k",
            "boolean",
        ),
        (
            doc(&format!(
                r#"{STMT_OK},"Condition":{{"StringLike":{{"k":"${{oops"}}}}"#
            )),
            "$.Statement[0].Condition.StringLike.k",
            "unterminated",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (json, path, reason)) in cases.iter().enumerate() {
        match PolicyDocument::parse(json) {
            Ok(_) => failures.push(format!("#{i} accepted: {json}")),
            Err(errors) => {
                if !errors
                    .0
                    .iter()
                    .any(|e| e.path == *path && e.reason.contains(reason))
                {
                    failures.push(format!("#{i} want {path}: …{reason}…, got {errors}"));
                }
            }
        }
    }
    report("parse rejections", failures, cases.len());
}

#[test]
fn parse_acceptances() {
    let cases: &[&str] = &[
        // Statement as an object, single strings, no Sid.
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        // No Version (2008-10-17 rules), Id present.
        r#"{"Id":"x","Statement":[{"Effect":"Deny","NotAction":["s3:*"],"NotResource":"arn:aws:s3:::b"}]}"#,
        r#"{"Version":"2008-10-17","Statement":[{"Sid":"","Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::${x"}]}"#,
        // Numbers and booleans as condition values; empty Condition.
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"k":[1,2.5]},"Bool":{"b":false}}}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}"#,
        // Every operator family parses.
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
            "ForAllValues:StringNotEqualsIgnoreCaseIfExists":{"a":"b"},"ArnNotLikeIfExists":{"c":"arn:*"},
            "DateGreaterThanEquals":{"d":"2024-01-01T00:00:00.000Z"},"NotIpAddress":{"e":["::1","10.0.0.0/8"]},
            "BinaryEquals":{"f":"QQ=="},"Null":{"g":"true"},"NumericNotEquals":{"h":"-1"}}}]}"#,
    ];
    let mut failures = Vec::new();
    for (i, json) in cases.iter().enumerate() {
        if let Err(e) = PolicyDocument::parse(json) {
            failures.push(format!("#{i} rejected: {e}"));
        }
    }
    report("parse acceptances", failures, cases.len());
}

#[test]
fn every_error_is_reported() {
    let json = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Maybe","Action":"s3","Resource":"bucket","Principal":"*"},
        {"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"k":"x"}}}
    ]}"#;
    let errors = PolicyDocument::parse(json).unwrap_err().0;
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    for want in [
        "$.Statement[0].Effect",
        "$.Statement[0].Action",
        "$.Statement[0].Resource",
        "$.Statement[0].Principal",
        "$.Statement[1].Condition.NumericEquals.k",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
}

#[test]
fn duplicate_policy_names_are_rejected() {
    let doc = PolicyDocument::parse(ALLOW_ALL).unwrap();
    assert!(CompiledPolicy::compile([("a", &doc), ("a", &doc)]).is_err());
}

#[test]
fn case_count() {
    let total = CONDITIONS.len()
        + BLOCKS.len()
        + ACTIONS.len()
        + RESOURCES.len()
        + VARIABLES.len()
        + 13
        + EVALUATION.len()
        + 46
        + 6;
    eprintln!("conformance cases: {total}");
    assert!(total >= 250, "{total}");
}
