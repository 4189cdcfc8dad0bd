//! aws-sdk-rust (S3 put/get, STS) through an in-process gateway to
//! `moto_server` with authentication on: moto verifies every countersignature.
//!
//! Needs the Python environment `tests/run.sh` creates (`COUNTERSIGN_PYTHON`
//! or `tests/.venv/bin/python`) with pinned moto and boto3.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use countersign_gateway::{Bound, Config};

const GATEWAY_KEY: &str = "AKCSRUSTSDK000000001";
const GATEWAY_SECRET: &str = "rust-sdk-gateway-secret-0123456789";

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("COUNTERSIGN_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python test environment: run tests/run.sh (or set COUNTERSIGN_PYTHON)"
    );
    venv
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts moto with auth on after three set-up calls, creates the upstream
/// IAM user and returns (process, url, access key id, secret).
fn start_moto() -> (Moto, String, String, String) {
    let port = free_port();
    let child = Command::new(python())
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{port}");
    let script = r#"
import boto3, json, sys
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="countersign-upstream")
iam.put_user_policy(UserName="countersign-upstream", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="countersign-upstream")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
    let out = Command::new(python())
        .args(["-c", script, &url])
        .output()
        .expect("run boto3 set-up");
    assert!(
        out.status.success(),
        "IAM set-up failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let mut parts = text.split_whitespace();
    let id = parts.next().expect("key id").to_owned();
    let secret = parts.next().expect("secret").to_owned();
    (moto, url, id, secret)
}

async fn start_gateway(
    upstream: &str,
    id: &str,
    secret: &str,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"

[upstream]
endpoint_override = "{upstream}"
access_key_id = "{id}"
secret_access_key = "{secret}"

[[principal]]
name = "rust-sdk"
access_keys = [{{ id = "{GATEWAY_KEY}", secret = "{GATEWAY_SECRET}" }}]
policies = ["allow-all"]

[policy.allow-all]
document = '{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}'

[audit]
sink = "none"
"#
    );
    let config = Config::from_toml(&text, Path::new(".")).expect("valid config");
    let bound = Bound::bind(config).await.expect("bind");
    let url = format!("http://{}", bound.data_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bound.run(async move {
        let _ = rx.await;
    }));
    (url, tx)
}

async fn sdk_config(endpoint: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new(GATEWAY_KEY, secret, None, None, "test"))
        .load()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_and_sts_through_the_gateway() {
    let (_moto, moto_url, id, secret) = start_moto();
    let (gateway, _stop) = start_gateway(&moto_url, &id, &secret).await;
    let config = sdk_config(&gateway, GATEWAY_SECRET).await;

    let sts = aws_sdk_sts::Client::new(&config);
    let who = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert!(
        who.arn()
            .unwrap_or_default()
            .ends_with(":user/countersign-upstream"),
        "{who:?}"
    );

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("rust-sdk")
        .send()
        .await
        .expect("CreateBucket");
    let body = b"hello from aws-sdk-rust through countersign".to_vec();
    for key in ["plain", "with space/and+plus", "unicodé/ሴ"] {
        s3.put_object()
            .bucket("rust-sdk")
            .key(key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
        let got = s3
            .get_object()
            .bucket("rust-sdk")
            .key(key)
            .send()
            .await
            .expect("GetObject");
        let bytes = got.body.collect().await.expect("body").into_bytes();
        assert_eq!(bytes.as_ref(), body.as_slice(), "{key}");
    }

    // A wrong gateway secret is refused as AWS would refuse it.
    let bad = sdk_config(&gateway, "definitely-not-the-secret-000000").await;
    let err = aws_sdk_sts::Client::new(&bad)
        .get_caller_identity()
        .send()
        .await
        .expect_err("wrong secret");
    let code = err
        .as_service_error()
        .and_then(|e| aws_sdk_sts::error::ProvideErrorMetadata::code(e))
        .map(str::to_owned);
    assert_eq!(code.as_deref(), Some("SignatureDoesNotMatch"), "{err:?}");
}
