//! A small client of the gateway's admin API (`creds`, `grant`).

use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Where the admin API is and how to authenticate to it.
#[derive(clap::Args, Clone, Debug)]
pub struct AdminArgs {
    /// The gateway's admin address.
    #[arg(
        long,
        env = "COUNTERSIGN_ADMIN_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub admin_url: String,
    /// An admin token from the gateway's [[admin_token]] entries.
    #[arg(long, env = "COUNTERSIGN_ADMIN_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// Calls the API; returns the JSON answer or prints the API's error and
/// returns the exit code to use.
pub fn call(
    args: &AdminArgs,
    method: http::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the runtime: {e}");
            ExitCode::FAILURE
        })?;
    runtime.block_on(async {
        let base = args.admin_url.trim_end_matches('/');
        if !base.starts_with("http://") {
            eprintln!("--admin-url must be http://HOST:PORT (the admin listener speaks plain HTTP)");
            return Err(ExitCode::from(2));
        }
        let uri: http::Uri = format!("{base}{path}").parse().map_err(|e| {
            eprintln!("bad admin URL {base:?}: {e}");
            ExitCode::from(2)
        })?;
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::AUTHORIZATION, format!("Bearer {}", args.token))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| {
                eprintln!("cannot build the request: {e}");
                ExitCode::FAILURE
            })?;
        let client: Client<_, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let response = tokio::time::timeout(std::time::Duration::from_secs(30), client.request(request))
            .await
            .map_err(|_| {
                eprintln!("the admin API at {base} did not answer within 30 s");
                ExitCode::FAILURE
            })?
            .map_err(|e| {
                eprintln!("cannot reach the admin API at {base}: {e}");
                ExitCode::FAILURE
            })?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                eprintln!("reading the answer failed: {e}");
                ExitCode::FAILURE
            })?
            .to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(
            |_| serde_json::json!({"error": {"code": status.as_str(), "message": String::from_utf8_lossy(&bytes)}}),
        );
        if status.is_success() {
            Ok(value)
        } else {
            let code = value["error"]["code"].as_str().unwrap_or("Error");
            let message = value["error"]["message"].as_str().unwrap_or("");
            eprintln!("{code}: {message}");
            Err(ExitCode::from(if status.is_client_error() { 1 } else { 3 }))
        }
    })
}
