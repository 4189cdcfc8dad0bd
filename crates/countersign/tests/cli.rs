//! The `countersign` command line as a user runs it.

use std::path::Path;
use std::process::Command;

fn countersign(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(args)
        .output()
        .expect("run countersign");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("countersign-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

#[test]
fn config_check_names_the_key_and_the_reason() {
    let dir = temp_dir("config");
    let good = write(
        &dir,
        "good.toml",
        r#"
[server]
listen = "127.0.0.1:8080"
[[principal]]
name = "ci-bot"
access_keys = [{ id = "AKCSEXAMPLE000000001", secret = "0123456789abcdef0123" }]
policies = ["s3-read"]
[policy.s3-read]
document = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}'''
"#,
    );
    let (code, _, err) = countersign(&["config", "check", &good]);
    assert_eq!(code, 0, "{err}");
    let bad = write(&dir, "bad.toml", "[server]\nlisten = \"127.0.0.1:8080\"\n[[principal]]\nname = \"x\"\npolicies = [\"missing\"]\n");
    let (code, _, err) = countersign(&["config", "check", &bad]);
    assert_eq!(code, 2);
    assert!(
        err.contains("principal[0].policies[0]") && err.contains("missing"),
        "{err}"
    );
    let (code, _, err) = countersign(&["config", "check", "/nonexistent/countersign.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
    // TLS material is loaded too, so a bad file is caught before `serve`.
    let text = std::fs::read_to_string(&good).expect("read");
    let with_tls = |section: &str| {
        text.replace(
            "listen = \"127.0.0.1:8080\"\n",
            &format!(
                "listen = \"127.0.0.1:8080\"\nadmin_listen = \"127.0.0.1:9090\"\n\
                 [server.{section}]\ncert = \"missing.pem\"\nkey = \"missing.key\"\n"
            ),
        )
    };
    for section in ["tls", "admin_tls"] {
        let file = write(&dir, &format!("{section}.toml"), &with_tls(section));
        let (code, _, err) = countersign(&["config", "check", &file]);
        assert_eq!(code, 2, "{section}: {err}");
        assert!(
            err.contains(&format!("server.{section}")) && err.contains("missing.pem"),
            "{err}"
        );
    }
}

#[test]
fn policy_simulate_and_check() {
    let dir = temp_dir("policy");
    let allow = write(
        &dir,
        "allow.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadLogs","Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::logs/*"}]}"#,
    );
    let deny = write(
        &dir,
        "deny.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}"#,
    );
    let (code, out, err) = countersign(&[
        "policy",
        "simulate",
        "--policy",
        &allow,
        "--action",
        "s3:GetObject",
        "--resource",
        "arn:aws:s3:::logs/a",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["statement"], "ReadLogs");

    let (code, out, _) = countersign(&[
        "policy",
        "simulate",
        "--policy",
        &allow,
        "--policy",
        &deny,
        "--action",
        "s3:GetObject",
        "--resource",
        "arn:aws:s3:::logs/a",
        "--context",
        "aws:SourceIp=203.0.113.9",
        "--json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["decision"], "explicit_deny");
    assert_eq!(v["statement"], "Statement[0]");

    let (code, out, _) = countersign(&[
        "policy",
        "simulate",
        "--policy",
        &allow,
        "--action",
        "s3:PutObject",
    ]);
    assert_eq!(code, 1);
    assert!(out.starts_with("implicit_deny"), "{out}");

    let broken = write(
        &dir,
        "broken.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","NotAction":"x","Resource":"*","Principal":"*"}]}"#,
    );
    let (code, _, err) = countersign(&["policy", "check", &broken]);
    assert_eq!(code, 2);
    assert!(err.contains("$.Statement[0]"), "{err}");
    let (code, _, _) = countersign(&["policy", "check", &allow]);
    assert_eq!(code, 0);
}

#[test]
fn classify_a_captured_request() {
    let dir = temp_dir("classify");
    let raw = "GET /photos/2024/cat.jpg HTTP/1.1\r\nHost: s3.us-east-1.amazonaws.com\r\nx-amz-date: 20250101T000000Z\r\n\
               x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: AWS4-HMAC-SHA256 \
               Credential=AKCSEXAMPLE000000001/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, \
               Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n";
    let file = write(&dir, "get.http", raw);
    let (code, out, err) = countersign(&["classify", "--request", &file, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["operation"], "GetObject");
    assert_eq!(v["actions"][0]["action"], "s3:GetObject");
    assert_eq!(
        v["actions"][0]["resources"][0],
        "arn:aws:s3:::photos/2024/cat.jpg"
    );
    let unknown = write(
        &dir,
        "unknown.http",
        &raw.replace("GET /photos/2024/cat.jpg", "BREW /photos"),
    );
    let (code, out, _) = countersign(&["classify", "--request", &unknown]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("unknown"), "{out}");
}

#[test]
fn the_deploy_examples_are_valid_configurations() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy");
    let path = format!("{root}/countersign.example.toml");
    let (code, _, stderr) = countersign(&["config", "check", &path]);
    assert_eq!(code, 0, "{stderr}");
    // The JIT walkthrough: the example next to a generated key ring.
    let dir = temp_dir("jit-example");
    let example = std::fs::read_to_string(format!("{root}/jit.example.toml")).unwrap();
    let path = write(&dir, "jit.example.toml", &example);
    let (code, _, stderr) = countersign(&["config", "check", &path]);
    assert_ne!(code, 0, "no keyring.toml yet");
    assert!(stderr.contains("identity.key_ring_file"), "{stderr}");
    let (_, ring, _) = countersign(&["keys", "generate"]);
    write(&dir, "keyring.toml", &ring);
    let (code, _, stderr) = countersign(&["config", "check", &path]);
    assert_eq!(code, 0, "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn keys_generate_makes_a_usable_key_ring_and_token_entry() {
    let dir = temp_dir("keys");
    let (code, ring, _) = countersign(&["keys", "generate", "--id", "3"]);
    assert_eq!(code, 0);
    assert!(
        ring.contains("id = 3") && ring.contains("state = \"active\""),
        "{ring}"
    );
    let ring_path = write(&dir, "ring.toml", &ring);
    let (code, entry, stderr) = countersign(&["keys", "token", "--principal", "ops", "--operator"]);
    assert_eq!(code, 0);
    let token = stderr.rsplit(": ").next().unwrap().trim().to_owned();
    assert!(token.len() >= 24, "{stderr}");
    assert!(!entry.contains(&token), "the entry holds only the digest");
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[identity]\nkey_ring_file = \"{ring_path}\"\nstore = \"sqlite::memory:\"\n[[principal]]\nname = \"ops\"\n{entry}"
    );
    let config_path = write(&dir, "c.toml", &config);
    let (code, _, stderr) = countersign(&["config", "check", &config_path]);
    assert_eq!(code, 0, "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// The admin client's arguments are checked before anything is sent.
#[test]
fn admin_client_arguments_are_checked_before_connecting() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
            .args(args)
            .env_remove("COUNTERSIGN_ADMIN_URL")
            .env_remove("COUNTERSIGN_ADMIN_TOKEN")
            .env_remove("COUNTERSIGN_ADMIN_CA")
            .env_remove("COUNTERSIGN_ADMIN_CERT")
            .env_remove("COUNTERSIGN_ADMIN_KEY")
            .output()
            .expect("run countersign");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["grant", "list"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("admin token") && err.contains("client certificate"),
        "{err}"
    );
    let (code, err) = run(&["grant", "list", "--admin-cert", "alice.pem"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--admin-key"), "{err}");
    let (code, err) = run(&["grant", "list", "--token", "t", "--admin-url", "ftp://h:1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("https://"), "{err}");
    let (code, err) = run(&[
        "grant",
        "list",
        "--token",
        "t",
        "--admin-url",
        "https://127.0.0.1:1",
        "--admin-ca",
        "/nonexistent/ca.pem",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}
