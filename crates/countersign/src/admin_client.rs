//! A small client of the gateway's admin API (`creds`, `grant`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Where the admin API is and how to authenticate to it (accepted before or
/// after the subcommand).
#[derive(clap::Args, Clone, Debug)]
pub struct AdminArgs {
    /// The gateway's admin address: http://HOST:PORT, or https://HOST:PORT
    /// when the gateway has `[server.admin_tls]`.
    #[arg(
        long,
        global = true,
        env = "COUNTERSIGN_ADMIN_URL",
        default_value = "http://127.0.0.1:9090"
    )]
    pub admin_url: String,
    /// An admin token from the gateway's [[admin_token]] entries. Not
    /// needed with a client certificate an [[admin_client]] names.
    #[arg(
        long,
        global = true,
        env = "COUNTERSIGN_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// PEM CA certificates to verify an https admin URL with (default: the
    /// public web PKI roots).
    #[arg(long, global = true, env = "COUNTERSIGN_ADMIN_CA")]
    pub admin_ca: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS (with --admin-key).
    #[arg(
        long,
        global = true,
        env = "COUNTERSIGN_ADMIN_CERT",
        requires = "admin_key"
    )]
    pub admin_cert: Option<PathBuf>,
    /// PEM private key of --admin-cert.
    #[arg(
        long,
        global = true,
        env = "COUNTERSIGN_ADMIN_KEY",
        requires = "admin_cert"
    )]
    pub admin_key: Option<PathBuf>,
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", path.display()));
    }
    Ok(certs)
}

/// An error and its causes ("client error (Connect)" alone does not say
/// that a certificate was refused).
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The TLS client configuration for an https admin URL.
fn tls_config(args: &AdminArgs) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    match &args.admin_ca {
        Some(ca) => {
            for cert in pem_certs(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", ca.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = builder.with_root_certificates(roots);
    match (&args.admin_cert, &args.admin_key) {
        (Some(cert), Some(key)) => {
            let chain = pem_certs(cert)?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Calls the API; returns the JSON answer or prints the API's error and
/// returns the exit code to use.
pub fn call(
    args: &AdminArgs,
    method: http::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, ExitCode> {
    let runtime = crate::current_thread_runtime()?;
    runtime.block_on(async {
        let base = args.admin_url.trim_end_matches('/');
        let https = base.starts_with("https://");
        if !https && !base.starts_with("http://") {
            eprintln!("--admin-url must be http://HOST:PORT or https://HOST:PORT");
            return Err(ExitCode::from(2));
        }
        if !https && (args.admin_cert.is_some() || args.admin_ca.is_some()) {
            eprintln!("--admin-ca and --admin-cert need an https:// admin URL");
            return Err(ExitCode::from(2));
        }
        if args.token.is_none() && args.admin_cert.is_none() {
            eprintln!("an admin token (--token or COUNTERSIGN_ADMIN_TOKEN) or a client certificate (--admin-cert, --admin-key) is required");
            return Err(ExitCode::from(2));
        }
        let uri: http::Uri = format!("{base}{path}").parse().map_err(|e| {
            eprintln!("bad admin URL {base:?}: {e}");
            ExitCode::from(2)
        })?;
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &args.token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::from(payload))).map_err(|e| {
            eprintln!("cannot build the request: {e}");
            ExitCode::FAILURE
        })?;
        let tls = if https {
            tls_config(args).map_err(|e| {
                eprintln!("{e}");
                ExitCode::from(2)
            })?
        } else {
            // Not used for http:// URLs; the connector needs one.
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                eprintln!("{e}");
                ExitCode::FAILURE
            })?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let response = tokio::time::timeout(std::time::Duration::from_secs(30), client.request(request))
            .await
            .map_err(|_| {
                eprintln!("the admin API at {base} did not answer within 30 s");
                ExitCode::FAILURE
            })?
            .map_err(|e| {
                eprintln!("cannot reach the admin API at {base}: {}", with_causes(&e));
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
