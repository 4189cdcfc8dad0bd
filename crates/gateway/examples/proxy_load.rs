//! Load generator and stand-in upstream for measuring HTTPS_PROXY
//! interception (see `tests/perf/proxy_bench.sh`, which runs Countersign and
//! mitmproxy side by side with it). Only 127.0.0.1 is used; every loop is
//! bounded by `--secs`.
//!
//! ```sh
//! proxy_load backend --port 18500
//! proxy_load load --proxy 127.0.0.1:18080 --ca ca.pem --mode keepalive --connections 16 --secs 10
//! proxy_load load --proxy 127.0.0.1:18080 --ca ca.pem --mode handshake --connections 8 --secs 10
//! ```
//!
//! `load` opens `--connections` tunnels (`CONNECT sts.amazonaws.com:443`),
//! verifies the proxy's certificate against `--ca`, and sends SigV4-signed
//! STS `GetCallerIdentity` calls (signed with the gateway key, as an SDK
//! would). `keepalive`: each connection sends requests back to back for the
//! whole run. `handshake`: each connection is used for one request, then a
//! new tunnel and a full TLS handshake (no resumption) follow. Prints one
//! JSON line: requests, errors, seconds, requests/s.

#![allow(missing_docs)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use countersign_sigv4::{PathMode, RequestView, Signer, SigningParams};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const HOST: &str = "sts.amazonaws.com";
const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
const KEY_ID: &str = "AKCSBENCHPROXY000001";
const SECRET: &str = "bench-proxy-secret-0123456789abcdefghij";

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.get(1).map(String::as_str) {
        Some("backend") => runtime.block_on(backend(arg(&args, "--port", "18500").parse()?)),
        Some("load") => runtime.block_on(load(&args)),
        _ => Err("usage: proxy_load backend|load ...".into()),
    }
}

/// Answers every request with a small STS-like XML body, keep-alive.
async fn backend(port: u16) -> Res<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let body = Bytes::from_static(
        b"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/bench</Arn>\
          <UserId>AIDABENCH</UserId><Account>123456789012</Account></GetCallerIdentityResult>\
          <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>\
          </GetCallerIdentityResponse>",
    );
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let body = body.clone();
                    async move {
                        let _ = req.into_body().collect().await;
                        let mut r = hyper::Response::new(Full::new(body));
                        r.headers_mut()
                            .insert("content-type", http::HeaderValue::from_static("text/xml"));
                        Ok::<_, Infallible>(r)
                    }
                });
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
        });
    }
}

fn signed_request(signer: &Signer) -> http::Request<Full<Bytes>> {
    let headers: [(&str, &[u8]); 2] = [
        (
            "content-type",
            b"application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("host", HOST.as_bytes()),
    ];
    let view = RequestView {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        authority: None,
        body_sha256: None,
    };
    let payload = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(BODY.as_bytes()));
    let out = signer.sign(
        &view,
        &payload,
        PathMode::for_service("sts"),
        &SigningParams {
            access_key_id: KEY_ID,
            secret_access_key: SECRET,
            session_token: None,
            region: "us-east-1",
            service: "sts",
            time: SystemTime::now(),
        },
    );
    http::Request::builder()
        .method("POST")
        .uri("/")
        .header("host", HOST)
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .header("x-amz-date", out.x_amz_date)
        .header("authorization", out.authorization)
        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
        .unwrap_or_default()
}

async fn tunnel(
    proxy: SocketAddr,
    tls: &tokio_rustls::TlsConnector,
) -> Res<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut s = TcpStream::connect(proxy).await?;
    s.set_nodelay(true)?;
    s.write_all(format!("CONNECT {HOST}:443 HTTP/1.1\r\nHost: {HOST}:443\r\n\r\n").as_bytes())
        .await?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await? == 0 || head.len() > 8192 {
            return Err("proxy closed during CONNECT".into());
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 200") && !head.starts_with(b"HTTP/1.0 200") {
        return Err(format!("CONNECT refused: {}", String::from_utf8_lossy(&head)).into());
    }
    Ok(tls.connect(ServerName::try_from(HOST)?, s).await?)
}

async fn load(args: &[String]) -> Res<()> {
    let proxy: SocketAddr = arg(args, "--proxy", "127.0.0.1:18080").parse()?;
    let ca = arg(args, "--ca", "ca.pem");
    let mode = arg(args, "--mode", "keepalive");
    let connections: usize = arg(args, "--connections", "16").parse()?;
    let secs: u64 = arg(args, "--secs", "10").parse()?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&ca)? {
        roots.add(cert?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Every new connection is a full handshake.
    config.resumption = rustls::client::Resumption::disabled();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (tls, ok, errors, mode) = (tls.clone(), ok.clone(), errors.clone(), mode.clone());
        tasks.push(tokio::spawn(async move {
            let signer = Signer::default();
            while Instant::now() < deadline {
                let stream = match tunnel(proxy, &tls).await {
                    Ok(s) => s,
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("tunnel: {e}");
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let Ok((mut send, conn)) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
                else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let driver = tokio::spawn(conn);
                loop {
                    match send.send_request(signed_request(&signer)).await {
                        Ok(r) => {
                            let status = r.status();
                            let _ = r.into_body().collect().await;
                            if status.is_success() {
                                ok.fetch_add(1, Ordering::Relaxed);
                            } else if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("status {status}");
                            }
                        }
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("request: {e}");
                            }
                            break;
                        }
                    }
                    if mode == "handshake" || Instant::now() >= deadline {
                        break;
                    }
                }
                drop(send);
                driver.abort();
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "{{\"mode\":\"{mode}\",\"connections\":{connections},\"requests\":{ok},\"errors\":{},\"seconds\":{elapsed:.2},\"per_second\":{:.1}}}",
        errors.load(Ordering::Relaxed),
        ok as f64 / elapsed
    );
    Ok(())
}
