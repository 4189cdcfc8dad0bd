//! Listeners: the data plane (plain or TLS; HTTP/1.1 and HTTP/2), the admin
//! endpoints, connection limits and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::Service;

use crate::body::{full, GatewayBody};
use crate::config::Config;
use crate::pipeline::{self, Next};
use crate::{ClientInfo, Gateway};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// TLS material could not be loaded.
    #[error("{section}: {message}")]
    Tls {
        /// `server.tls` or `server.admin_tls`.
        section: &'static str,
        /// What went wrong, naming the file.
        message: String,
    },
    /// The gateway could not be built from the configuration.
    #[error(transparent)]
    Build(#[from] crate::BuildError),
    /// The `[proxy]` section could not be put in service (CA, metrics).
    #[error("proxy: {0}")]
    Proxy(String),
}

/// A gateway whose listeners are bound; [`Bound::run`] serves until shutdown.
pub struct Bound {
    gateway: Arc<Gateway>,
    data: TcpListener,
    admin: Option<TcpListener>,
    tls: Option<TlsAcceptor>,
    admin_tls: Option<TlsAcceptor>,
    config: Config,
    proxy: Option<Arc<crate::proxy::Proxy>>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("data", &self.data.local_addr().ok())
            .finish_non_exhaustive()
    }
}

fn load_certs(
    section: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, StartError> {
    let tls_error = |message: String| StartError::Tls { section, message };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_error(format!("{}: {e}", path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_error(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "{}: no certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

/// A TLS acceptor for one listener. With `client_ca`, client certificates
/// are verified against it when presented (and not required).
fn load_tls(
    section: &'static str,
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    alpn: &[&[u8]],
) -> Result<TlsAcceptor, StartError> {
    let tls_error = |message: String| StartError::Tls { section, message };
    let certs = load_certs(section, cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| tls_error(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in load_certs(section, ca)? {
                roots
                    .add(c)
                    .map_err(|e| tls_error(format!("{}: {e}", ca.display())))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| tls_error(format!("{}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| tls_error(e.to_string()))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TLS acceptors of the listeners, from `server.tls` and
/// `server.admin_tls` (also what `countersign config check` loads, so a bad
/// certificate or key is reported before `serve`).
pub struct ListenerTls {
    /// The data plane's.
    pub data: Option<TlsAcceptor>,
    /// The admin listener's.
    pub admin: Option<TlsAcceptor>,
}

impl ListenerTls {
    /// Reads and checks the certificates and keys.
    pub fn load(config: &Config) -> Result<Self, StartError> {
        let data = config
            .server
            .tls
            .as_ref()
            .map(|t| load_tls("server.tls", &t.cert, &t.key, None, &[b"h2", b"http/1.1"]))
            .transpose()?;
        let admin = config
            .server
            .admin_tls
            .as_ref()
            .map(|t| {
                load_tls(
                    "server.admin_tls",
                    &t.cert,
                    &t.key,
                    t.client_ca.as_deref(),
                    &[b"http/1.1"],
                )
            })
            .transpose()?;
        Ok(Self { data, admin })
    }
}

impl Bound {
    /// Builds the gateway and binds its listeners.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let ListenerTls {
            data: tls,
            admin: admin_tls,
        } = ListenerTls::load(&config)?;
        let gateway = Arc::new(Gateway::from_config(&config).await?);
        let proxy = match &config.proxy {
            Some(p) => Some(Arc::new(
                crate::proxy::Proxy::new(p, gateway.clone()).map_err(StartError::Proxy)?,
            )),
            None => None,
        };
        let listen = config.server.listen;
        let data = TcpListener::bind(listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: listen,
                source,
            })?;
        let admin = match config.server.admin_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?,
            ),
            None => None,
        };
        Ok(Self {
            gateway,
            data,
            admin,
            tls,
            admin_tls,
            config,
            proxy,
        })
    }

    /// The bound data-plane address.
    pub fn data_addr(&self) -> SocketAddr {
        self.data.local_addr().unwrap_or(self.config.server.listen)
    }

    /// The bound admin address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The shared gateway state.
    pub fn gateway(&self) -> Arc<Gateway> {
        self.gateway.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting and drains
    /// in-flight requests for at most `limits.shutdown_grace_secs`.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let admin_task = self.admin.map(|l| {
            tokio::spawn(serve_admin(
                l,
                self.admin_tls.clone(),
                Arc::new(crate::admin::AdminClients::from_config(
                    &self.config.admin_clients,
                )),
                self.gateway.clone(),
                stop_rx.clone(),
            ))
        });
        // Grants and revocations from the store, expiries recorded.
        let sync_task = tokio::spawn(crate::identity::run_sync(
            self.gateway.clone(),
            stop_rx.clone(),
        ));
        let pipeline = pipeline::build(self.gateway.clone());
        let limits = self.gateway.limits.clone();
        let connections = Arc::new(Semaphore::new(limits.max_connections));
        let graceful = GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout())
            .max_buf_size(limits.max_header_bytes);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(Some(Duration::from_secs(30)));
        let builder = Arc::new(builder);
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                () = &mut shutdown => break,
            };
            let (stream, addr) = tokio::select! {
                accepted = self.data.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let gateway = self.gateway.clone();
            let pipeline = pipeline.clone();
            let builder = builder.clone();
            let tls = self.tls.clone();
            let watcher = graceful.watcher();
            let proxy_hook = self
                .proxy
                .as_ref()
                .map(|p| crate::proxy::ConnHook::new(p.clone(), graceful.watcher()));
            let handshake_timeout = limits.header_read_timeout();
            tokio::spawn(async move {
                let _permit = permit;
                gateway.metrics.open_connections.inc();
                serve_connection(
                    stream,
                    addr,
                    tls,
                    handshake_timeout,
                    pipeline,
                    &builder,
                    watcher,
                    proxy_hook,
                )
                .await;
                gateway.metrics.open_connections.dec();
            });
        }
        drop(self.data);
        tracing::info!("shutting down: draining in-flight requests");
        if tokio::time::timeout(limits.shutdown_grace(), graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("shutdown grace period elapsed; closing remaining connections");
        }
        let _ = stop_tx.send(true);
        if let Some(t) = admin_task {
            let _ = t.await;
        }
        let _ = sync_task.await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    stream: TcpStream,
    addr: SocketAddr,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    pipeline: Next,
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    proxy_hook: Option<Arc<crate::proxy::ConnHook>>,
) {
    let info = ClientInfo {
        addr,
        tls: tls.is_some(),
    };
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let pipeline = pipeline.clone();
        let proxy_hook = proxy_hook.clone();
        async move {
            // HTTPS_PROXY mode: CONNECT and absolute-form requests.
            if let Some(hook) = proxy_hook.filter(|_| crate::proxy::is_proxy_request(&req)) {
                return Ok(hook.handle(req, info, pipeline).await);
            }
            let mut req = req.map(|b| {
                b.map_err(|e| -> crate::body::BoxError { Box::new(e) })
                    .boxed_unsync()
            });
            req.extensions_mut().insert(info);
            {
                let mut pipeline = pipeline;
                pipeline.call(req)
            }
            .await
        }
    });
    let result = match tls {
        Some(acceptor) => {
            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => {
                    watcher
                        .watch(
                            builder
                                .serve_connection_with_upgrades(TokioIo::new(tls_stream), service)
                                .into_owned(),
                        )
                        .await
                }
                Ok(Err(e)) => {
                    tracing::debug!(client = %addr, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(client = %addr, "TLS handshake timed out");
                    return;
                }
            }
        }
        None => {
            watcher
                .watch(
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned(),
                )
                .await
        }
    };
    if let Err(e) = result {
        tracing::debug!(client = %addr, error = %e, "connection ended with an error");
    }
}

async fn serve_admin(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    clients: Arc<crate::admin::AdminClients>,
    gateway: Arc<Gateway>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, addr) = tokio::select! {
            a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
            _ = stop.changed() => return,
        };
        let gateway = gateway.clone();
        let tls = tls.clone();
        let clients = clients.clone();
        tokio::spawn(async move {
            let Some(tls) = tls else {
                let peer = crate::admin::AdminPeer {
                    addr,
                    certified: None,
                    presented_certificate: false,
                };
                serve_admin_connection(TokioIo::new(stream), gateway, peer).await;
                return;
            };
            let stream =
                match tokio::time::timeout(ADMIN_HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::info!(client = %addr, error = %e, "admin TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(client = %addr, "admin TLS handshake timed out");
                        return;
                    }
                };
            // The handshake verified the chain against client_ca; the
            // certificate's names say who it is.
            let leaf = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first());
            let peer = crate::admin::AdminPeer {
                addr,
                certified: leaf.and_then(|leaf| clients.identify(leaf)),
                presented_certificate: leaf.is_some(),
            };
            serve_admin_connection(TokioIo::new(stream), gateway, peer).await;
        });
    }
}

/// Longest TLS handshake on the admin listener.
const ADMIN_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve_admin_connection<S>(
    io: TokioIo<S>,
    gateway: Arc<Gateway>,
    peer: crate::admin::AdminPeer,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let peer = Arc::new(peer);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let gateway = gateway.clone();
        let peer = peer.clone();
        async move {
            let response = if crate::admin::is_api_path(req.uri().path()) {
                crate::admin::handle(&gateway, req, &peer).await
            } else {
                admin(&gateway, req.uri().path()).await
            };
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ADMIN_HANDSHAKE_TIMEOUT)
        .serve_connection(io, service)
        .await;
}

async fn admin(gateway: &Gateway, path: &str) -> Response<GatewayBody> {
    let (status, content_type, body) = match path {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            gateway.metrics.render(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" => {
            match tokio::time::timeout(Duration::from_secs(2), gateway.credentials.get()).await {
                Ok(Ok(_)) => (StatusCode::OK, "text/plain", "ready\n".to_owned()),
                Ok(Err(e)) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("not ready: {e}\n"),
                ),
                Err(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "not ready: upstream credentials pending\n".to_owned(),
                ),
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_owned(),
        ),
    };
    let mut r = Response::new(full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}
