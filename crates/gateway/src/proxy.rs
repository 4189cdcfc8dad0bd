//! HTTPS_PROXY mode and egress control on the data-plane listener.
//!
//! A workload sets `HTTPS_PROXY=http://gateway:port` and
//! `AWS_CA_BUNDLE=ca.pem`. For every `CONNECT host:port`:
//!
//! - **AWS hosts** (`[proxy] intercept`, by default `*.amazonaws.com`,
//!   `*.amazonaws.com.cn`, `*.api.aws`) on port 443 are intercepted: the
//!   gateway answers `200`, terminates TLS on the tunnel with a leaf
//!   certificate for that host minted by its CA (ECDSA P-256, cached per
//!   host), and serves the inner HTTP/1.1 or HTTP/2 requests through the
//!   same pipeline as endpoint mode (verify, authorize, countersign,
//!   forward). The inner requests must name the CONNECT host. Without
//!   `upstream.endpoint_override` they are forwarded to that host.
//! - **Allow-listed hosts** (`[proxy] allow_tunnel`, exact names or
//!   `*.suffix`, on `tunnel_ports`) get a blind tunnel. The name is resolved
//!   once; loopback, private, link-local (the instance metadata address),
//!   CGNAT, multicast, reserved and IPv4-mapped/-translated forms of them are
//!   refused unless `allowed_destination_cidrs` (or, except link-local,
//!   `allow_private_destinations`) allow them; the gateway dials the address
//!   it checked, never resolving twice.
//! - **Everything else** is refused with `403`.
//!
//! Absolute-form plain-HTTP proxy requests (`GET http://host/...`) to AWS
//! hosts go through the pipeline too; any other is refused.
//!
//! Optionally, clients must present `Proxy-Authorization: Basic` credentials
//! (`[proxy] users`); identity for AWS calls still comes from the SigV4
//! signature inside. Each CONNECT decision is written to the audit sink and
//! counted in metrics.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tower::Service;

use crate::body::full;
use crate::ca::CertificateAuthority;
use crate::config::{ConfigError, ProxyConfig};
use crate::pipeline::{Next, PipelineResponse};
use crate::upstream::{Endpoint, EndpointResolver};
use crate::{ClientInfo, Gateway};

/// The AWS host patterns intercepted by default.
pub const DEFAULT_INTERCEPT: [&str; 3] = ["*.amazonaws.com", "*.amazonaws.com.cn", "*.api.aws"];

/// Set on requests that arrived through the proxy: the host the client
/// asked for (the CONNECT host, or the host of an absolute-form request).
#[derive(Clone, Debug)]
pub struct ProxyTarget {
    /// Lower-case host name, without port or trailing dot.
    pub host: Arc<str>,
}

/// A host pattern: an exact name or `*.suffix` (any name below the suffix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    /// This name only.
    Exact(String),
    /// Any name ending in `.suffix` (not the suffix itself).
    Suffix(String),
}

impl HostPattern {
    /// Parses `name` or `*.suffix`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let (wild, name) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, s.clone()),
        };
        let ok = !name.is_empty()
            && name.len() <= 253
            && !name.starts_with('.')
            && !name.contains("..")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'));
        if !ok {
            return Err(format!(
                "{s:?} is not a host name, an IP address or *.suffix"
            ));
        }
        Ok(if wild {
            Self::Suffix(name)
        } else {
            Self::Exact(name)
        })
    }

    /// Whether `host` (lower case, no trailing dot) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(n) => host == n,
            Self::Suffix(s) => {
                host.len() > s.len() + 1
                    && host.ends_with(s.as_str())
                    && host.as_bytes()[host.len() - s.len() - 1] == b'.'
            }
        }
    }
}

/// An IP network, `addr/prefix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `192.0.2.0/24`, `2001:db8::/32` or a bare address.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP network"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: bad prefix length"))?,
            None => max,
        };
        Ok(Self {
            net: canonical_ip(net),
            prefix: if net.is_ipv4() || canonical_ip(net).is_ipv6() {
                prefix
            } else {
                prefix.saturating_sub(96)
            },
        })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical_ip(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address written in IPv6 (mapped `::ffff:a.b.c.d`) is that IPv4 address.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Why a destination address is not public, or `None` for a public address.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, _, _) => "loopback",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "cgnat",
        (0, _, _) => "unspecified",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        (192, 0, 0) | (198, 18..=19, _) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) carry
    // an IPv4 destination: judge that.
    if s[..6] == [0; 6] || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4]) {
        return non_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 (2002:WWXX:YYZZ::/48) also embeds an IPv4 address.
    if s[0] == 0x2002 {
        return non_public_v4(embedded_v4(s[1], s[2]));
    }
    Some(match s[0] {
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xfc00..=0xfdff => "private",
        0xff00..=0xffff => "multicast",
        0x2001 if s[1] == 0 => "teredo",
        0x2001 if s[1] == 0x0db8 => "documentation",
        0x0100 if s[1..4] == [0; 3] => "discard",
        _ => return None,
    })
}

/// Checks `[proxy]` beyond what its types say (called by `Config::validate`).
pub fn validate_config(p: &ProxyConfig) -> Result<(), ConfigError> {
    let invalid = |key: &str, reason: String| ConfigError::Invalid {
        key: format!("proxy.{key}"),
        reason,
    };
    if p.ca_cert.as_os_str().is_empty() {
        return Err(invalid(
            "ca_cert",
            "required (see `countersign ca init`)".into(),
        ));
    }
    if p.ca_key.as_os_str().is_empty() {
        return Err(invalid(
            "ca_key",
            "required (see `countersign ca init`)".into(),
        ));
    }
    CertificateAuthority::load(&p.ca_cert, &p.ca_key)
        .map_err(|e| invalid("ca_cert", e.to_string()))?;
    for (i, s) in p.intercept.iter().enumerate() {
        HostPattern::parse(s).map_err(|e| invalid(&format!("intercept[{i}]"), e))?;
    }
    for (i, s) in p.allow_tunnel.iter().enumerate() {
        HostPattern::parse(s).map_err(|e| invalid(&format!("allow_tunnel[{i}]"), e))?;
    }
    for (i, s) in p.allowed_destination_cidrs.iter().enumerate() {
        Cidr::parse(s).map_err(|e| invalid(&format!("allowed_destination_cidrs[{i}]"), e))?;
    }
    if p.tunnel_ports.contains(&0) {
        return Err(invalid("tunnel_ports", "port 0 is not a port".into()));
    }
    for (i, u) in p.users.iter().enumerate() {
        if u.name.is_empty() || u.name.contains(':') {
            return Err(invalid(
                &format!("users[{i}].name"),
                "must be non-empty and without ':'".into(),
            ));
        }
        if u.password.len() < 12 {
            return Err(invalid(
                &format!("users[{i}].password"),
                "must be at least 12 characters".into(),
            ));
        }
    }
    for (key, v) in [
        ("max_tunnels", p.max_tunnels as u64),
        ("handshake_timeout_secs", p.handshake_timeout_secs),
        ("tunnel_idle_timeout_secs", p.tunnel_idle_timeout_secs),
        ("leaf_cache_capacity", p.leaf_cache_capacity),
    ] {
        if v == 0 {
            return Err(invalid(key, "must be greater than zero".into()));
        }
    }
    if !(300..=30 * 86400).contains(&p.leaf_validity_secs) {
        return Err(invalid(
            "leaf_validity_secs",
            "must be between 300 (5 minutes) and 2592000 (30 days)".into(),
        ));
    }
    Ok(())
}

/// Proxy metrics, registered on the gateway's registry.
#[derive(Clone, Debug)]
pub struct ProxyMetrics {
    /// CONNECT and absolute-form requests by decision and reason.
    pub connects: IntCounterVec,
    /// Tunnels open now, by kind (`intercept`, `tunnel`).
    pub tunnels_open: IntGaugeVec,
    /// Leaf certificates minted (cache misses).
    pub leaf_minted: IntCounter,
    /// Intercepted CONNECTs served from the leaf cache.
    pub leaf_cache_hits: IntCounter,
    /// TLS handshakes on intercepted tunnels, by result.
    pub handshakes: IntCounterVec,
    /// Blind-tunnel bytes by direction (`up`: client to destination).
    pub tunnel_bytes: IntCounterVec,
}

impl ProxyMetrics {
    fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            connects: IntCounterVec::new(
                Opts::new(
                    "countersign_proxy_connect_total",
                    "Proxy requests (CONNECT and absolute-form) by decision and reason",
                ),
                &["decision", "reason"],
            )?,
            tunnels_open: IntGaugeVec::new(
                Opts::new(
                    "countersign_proxy_tunnels_open",
                    "Proxy tunnels open now, by kind",
                ),
                &["kind"],
            )?,
            leaf_minted: IntCounter::new(
                "countersign_proxy_leaf_certs_minted_total",
                "Leaf certificates minted by the gateway CA (leaf cache misses)",
            )?,
            leaf_cache_hits: IntCounter::new(
                "countersign_proxy_leaf_cache_hits_total",
                "Intercepted CONNECTs whose leaf certificate came from the cache",
            )?,
            handshakes: IntCounterVec::new(
                Opts::new(
                    "countersign_proxy_tls_handshakes_total",
                    "TLS handshakes on intercepted tunnels, by result",
                ),
                &["result"],
            )?,
            tunnel_bytes: IntCounterVec::new(
                Opts::new(
                    "countersign_proxy_tunnel_bytes_total",
                    "Bytes carried by blind tunnels (up: client to destination)",
                ),
                &["direction"],
            )?,
        };
        registry.register(Box::new(m.connects.clone()))?;
        registry.register(Box::new(m.tunnels_open.clone()))?;
        registry.register(Box::new(m.leaf_minted.clone()))?;
        registry.register(Box::new(m.leaf_cache_hits.clone()))?;
        registry.register(Box::new(m.handshakes.clone()))?;
        registry.register(Box::new(m.tunnel_bytes.clone()))?;
        Ok(m)
    }
}

/// A rustls resolver that always presents one minted leaf.
#[derive(Debug)]
struct FixedLeaf(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for FixedLeaf {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// One configured proxy user: the name and the digest of the exact
/// `Proxy-Authorization` value that authenticates it.
struct ProxyUser {
    name: Arc<str>,
    digest: [u8; 32],
}

/// The proxy: policy, CA, leaf cache, limits and metrics.
pub struct Proxy {
    gateway: Arc<Gateway>,
    ca: CertificateAuthority,
    intercept: Vec<HostPattern>,
    allow_tunnel: Vec<HostPattern>,
    tunnel_ports: Vec<u16>,
    allow_private: bool,
    allowed_cidrs: Vec<Cidr>,
    users: Vec<ProxyUser>,
    leaves: moka::sync::Cache<String, Arc<rustls::ServerConfig>>,
    leaf_validity: Duration,
    tunnels: Arc<Semaphore>,
    handshake_timeout: Duration,
    idle_timeout: Duration,
    inner: auto::Builder<TokioExecutor>,
    /// Metrics of the proxy.
    pub metrics: ProxyMetrics,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("intercept", &self.intercept)
            .field("allow_tunnel", &self.allow_tunnel)
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

fn basic_digest(name: &str, password: &str) -> [u8; 32] {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
    Sha256::digest(format!("Basic {token}").as_bytes()).into()
}

impl Proxy {
    /// Builds the proxy from `[proxy]`, loading the CA and registering its
    /// metrics on the gateway's registry.
    pub fn new(config: &ProxyConfig, gateway: Arc<Gateway>) -> Result<Self, String> {
        let ca = CertificateAuthority::load(&config.ca_cert, &config.ca_key)
            .map_err(|e| format!("proxy CA: {e}"))?;
        let patterns = |list: &[String]| -> Result<Vec<HostPattern>, String> {
            list.iter().map(|s| HostPattern::parse(s)).collect()
        };
        let metrics = ProxyMetrics::register(gateway.metrics.registry())
            .map_err(|e| format!("proxy metrics: {e}"))?;
        let limits = &gateway.limits;
        let mut inner = auto::Builder::new(TokioExecutor::new());
        inner
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout())
            .max_buf_size(limits.max_header_bytes);
        inner
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(Some(Duration::from_secs(30)));
        let leaf_validity = Duration::from_secs(config.leaf_validity_secs);
        Ok(Self {
            ca,
            intercept: patterns(&config.intercept)?,
            allow_tunnel: patterns(&config.allow_tunnel)?,
            tunnel_ports: config.tunnel_ports.clone(),
            allow_private: config.allow_private_destinations,
            allowed_cidrs: config
                .allowed_destination_cidrs
                .iter()
                .map(|s| Cidr::parse(s))
                .collect::<Result<_, _>>()?,
            users: config
                .users
                .iter()
                .map(|u| ProxyUser {
                    name: u.name.as_str().into(),
                    digest: basic_digest(&u.name, &u.password),
                })
                .collect(),
            // Served well inside the leaf's validity.
            leaves: moka::sync::Cache::builder()
                .max_capacity(config.leaf_cache_capacity)
                .time_to_live(leaf_validity / 2)
                .build(),
            leaf_validity,
            tunnels: Arc::new(Semaphore::new(config.max_tunnels)),
            handshake_timeout: Duration::from_secs(config.handshake_timeout_secs),
            idle_timeout: Duration::from_secs(config.tunnel_idle_timeout_secs),
            inner,
            metrics,
            gateway,
        })
    }

    /// Whether `host` is intercepted (an AWS host).
    pub fn intercepts(&self, host: &str) -> bool {
        self.intercept.iter().any(|p| p.matches(host))
    }

    /// Whether `ip` may be dialled for a blind tunnel, or why not.
    pub fn destination_allowed(&self, ip: IpAddr) -> Result<(), &'static str> {
        if self.allowed_cidrs.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        match non_public(ip) {
            None => Ok(()),
            Some("loopback" | "private" | "cgnat") if self.allow_private => Ok(()),
            Some(why) => Err(why),
        }
    }

    /// The TLS server configuration for an intercepted host: a cached leaf,
    /// or one minted now.
    fn leaf_config(&self, host: &str) -> Result<Arc<rustls::ServerConfig>, String> {
        if let Some(c) = self.leaves.get(host) {
            self.metrics.leaf_cache_hits.inc();
            return Ok(c);
        }
        self.leaves
            .try_get_with(host.to_owned(), || {
                self.metrics.leaf_minted.inc();
                let leaf = self
                    .ca
                    .mint(host, self.leaf_validity)
                    .map_err(|e| e.to_string())?;
                let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_no_client_auth()
                .with_cert_resolver(Arc::new(FixedLeaf(leaf)));
                config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                Ok::<_, String>(Arc::new(config))
            })
            .map_err(|e| (*e).clone())
    }

    /// The proxy user a request authenticates as: `Ok(None)` when no users
    /// are configured, `Err` when credentials are missing or wrong.
    fn proxy_user(&self, req: &Request<Incoming>) -> Result<Option<Arc<str>>, ()> {
        if self.users.is_empty() {
            return Ok(None);
        }
        let Some(value) = req.headers().get(http::header::PROXY_AUTHORIZATION) else {
            return Err(());
        };
        let digest: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        let mut found = None;
        for u in &self.users {
            // Digests of secrets: comparing them leaks nothing useful, and
            // the fold does not stop early anyway.
            let diff = u
                .digest
                .iter()
                .zip(digest.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 {
                found = Some(u.name.clone());
            }
        }
        found.map(Some).ok_or(())
    }

    fn audit(&self, event: &ConnectEvent<'_>) {
        self.metrics
            .connects
            .with_label_values(&[event.decision, event.reason_label])
            .inc();
        self.gateway.audit.write_event(event);
        tracing::debug!(
            target = event.target,
            port = event.port,
            decision = event.decision,
            reason = %event.reason,
            "proxy decision"
        );
    }
}

/// The audit event of one proxy decision.
#[derive(Serialize)]
struct ConnectEvent<'a> {
    time: String,
    event: &'static str,
    request_id: &'a str,
    client: String,
    proxy_user: Option<&'a str>,
    method: &'a str,
    target: &'a str,
    port: u16,
    decision: &'static str,
    #[serde(skip)]
    reason_label: &'static str,
    reason: String,
    destination: Option<String>,
    status: u16,
}

/// The audit event written when a blind tunnel closes.
#[derive(Serialize)]
struct TunnelClosedEvent<'a> {
    time: String,
    event: &'static str,
    request_id: &'a str,
    target: &'a str,
    destination: String,
    bytes_up: u64,
    bytes_down: u64,
    duration_ms: f64,
    end: &'static str,
}

/// Whether a request is for the proxy: `CONNECT`, or an HTTP/1.x request in
/// absolute form (`GET http://host/path`). HTTP/2 requests always carry a
/// scheme and authority, so only `CONNECT` is a proxy request there.
pub fn is_proxy_request<B>(req: &Request<B>) -> bool {
    req.method() == Method::CONNECT
        || (req.version() <= Version::HTTP_11
            && req.uri().scheme().is_some()
            && req.uri().authority().is_some())
}

/// Lower-case host without trailing dot or IPv6 brackets.
fn normalise_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// The host of an inner request (Host header, else the URI authority).
fn request_host<B>(req: &Request<B>) -> Option<String> {
    let raw = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))?;
    let authority: http::uri::Authority = raw.parse().ok()?;
    Some(normalise_host(authority.host()))
}

fn text_response(status: StatusCode, text: impl Into<String>) -> PipelineResponse {
    let mut r = Response::new(full(Bytes::from(format!("{}\n", text.into()))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Per-connection handle the listener hands requests to: the proxy and the
/// graceful-shutdown watcher an intercepted tunnel's inner connection uses.
pub struct ConnHook {
    proxy: Arc<Proxy>,
    watcher: Mutex<Option<Watcher>>,
}

impl std::fmt::Debug for ConnHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnHook { .. }")
    }
}

impl ConnHook {
    /// A hook for one client connection.
    pub fn new(proxy: Arc<Proxy>, watcher: Watcher) -> Arc<Self> {
        Arc::new(Self {
            proxy,
            watcher: Mutex::new(Some(watcher)),
        })
    }

    /// Handles a proxy request (see [`is_proxy_request`]).
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        info: ClientInfo,
        pipeline: Next,
    ) -> PipelineResponse {
        let proxy = &self.proxy;
        let request_id = uuid::Uuid::new_v4().to_string();
        let method = req.method().clone();
        let (target, port) = match req.uri().authority() {
            Some(a) => (
                normalise_host(a.host()),
                a.port_u16().unwrap_or(
                    if method == Method::CONNECT || req.uri().scheme_str() == Some("https") {
                        443
                    } else {
                        80
                    },
                ),
            ),
            None => {
                return text_response(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
            }
        };
        let mut event = ConnectEvent {
            time: crate::audit::rfc3339_now(),
            event: "connect",
            request_id: &request_id,
            client: info.addr.to_string(),
            proxy_user: None,
            method: method.as_str(),
            target: &target,
            port,
            decision: "deny",
            reason_label: "",
            reason: String::new(),
            destination: None,
            status: 0,
        };
        let deny = |mut event: ConnectEvent<'_>,
                    status: StatusCode,
                    label: &'static str,
                    reason: String| {
            event.decision = "deny";
            event.reason_label = label;
            event.reason = reason.clone();
            event.status = status.as_u16();
            proxy.audit(&event);
            let mut r = text_response(status, format!("countersign: {reason}"));
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                r.headers_mut().insert("x-countersign-request-id", v);
            }
            r
        };

        let user = match proxy.proxy_user(&req) {
            Ok(u) => u,
            Err(()) => {
                let mut r = deny(
                    event,
                    StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                    "proxy_auth",
                    "proxy authentication required".into(),
                );
                r.headers_mut().insert(
                    http::header::PROXY_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"countersign\""),
                );
                return r;
            }
        };
        event.proxy_user = user.as_deref();

        if method != Method::CONNECT {
            // Absolute-form plain HTTP: AWS hosts go through the pipeline.
            if !proxy.intercepts(&target) {
                return deny(
                    event,
                    StatusCode::FORBIDDEN,
                    "not_allowed",
                    format!(
                        "{target} is not an AWS host; plain-HTTP proxying is for AWS hosts only"
                    ),
                );
            }
            if request_host(&req).as_deref() != Some(target.as_str()) {
                return deny(
                    event,
                    StatusCode::BAD_REQUEST,
                    "host_mismatch",
                    "the Host header does not name the request's host".into(),
                );
            }
            event.decision = "intercept";
            event.reason_label = "aws_http";
            event.reason = "AWS host, plain HTTP".into();
            event.status = 0;
            proxy.audit(&event);
            let (mut parts, body) = req.into_parts();
            let origin_form = parts
                .uri
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_else(|| "/".to_owned());
            parts.uri = origin_form.parse().unwrap_or_default();
            parts.headers.remove(http::header::PROXY_AUTHORIZATION);
            parts.headers.remove("proxy-connection");
            let mut req = Request::from_parts(
                parts,
                body.map_err(|e| -> crate::body::BoxError { Box::new(e) })
                    .boxed_unsync(),
            );
            req.extensions_mut().insert(info);
            req.extensions_mut().insert(ProxyTarget {
                host: target.as_str().into(),
            });
            let mut pipeline = pipeline;
            return match pipeline.call(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
        }

        if proxy.intercepts(&target) {
            if port != 443 {
                return deny(
                    event,
                    StatusCode::FORBIDDEN,
                    "aws_port",
                    format!("AWS hosts are intercepted on port 443 only, not {port}"),
                );
            }
            let Ok(permit) = proxy.tunnels.clone().try_acquire_owned() else {
                return deny(
                    event,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "tunnel_limit",
                    "too many open tunnels".into(),
                );
            };
            let tls_config = match proxy.leaf_config(&target) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(target = %target, error = %e, "cannot mint a leaf certificate");
                    return deny(
                        event,
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "mint_failed",
                        "cannot mint a certificate for this host".into(),
                    );
                }
            };
            event.decision = "intercept";
            event.reason_label = "aws";
            event.reason = "AWS host: TLS terminated, calls go through the pipeline".into();
            event.status = 200;
            proxy.audit(&event);
            let watcher = self
                .watcher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let on_upgrade = hyper::upgrade::on(req);
            let proxy = proxy.clone();
            tokio::spawn(async move {
                let _permit = permit;
                match on_upgrade.await {
                    Ok(upgraded) => {
                        proxy
                            .serve_intercepted(
                                upgraded,
                                tls_config,
                                target.as_str().into(),
                                info,
                                pipeline,
                                watcher,
                            )
                            .await;
                    }
                    Err(e) => tracing::debug!(error = %e, "CONNECT upgrade failed"),
                }
            });
            return Response::new(full(Bytes::new()));
        }

        if !proxy.allow_tunnel.iter().any(|p| p.matches(&target)) {
            return deny(
                event,
                StatusCode::FORBIDDEN,
                "not_allowed",
                format!("{target} is not an AWS host and not in proxy.allow_tunnel"),
            );
        }
        if !proxy.tunnel_ports.contains(&port) {
            return deny(
                event,
                StatusCode::FORBIDDEN,
                "port",
                format!("port {port} is not in proxy.tunnel_ports"),
            );
        }
        let Ok(permit) = proxy.tunnels.clone().try_acquire_owned() else {
            return deny(
                event,
                StatusCode::SERVICE_UNAVAILABLE,
                "tunnel_limit",
                "too many open tunnels".into(),
            );
        };
        let (stream, destination) = match proxy.dial(&target, port).await {
            Ok(d) => d,
            Err(DialError::Refused(ip, why)) => {
                event.destination = Some(ip.to_string());
                return deny(
                    event,
                    StatusCode::FORBIDDEN,
                    "destination",
                    format!("{target} resolves to {ip}, a {why} address"),
                );
            }
            Err(DialError::Failed(label, why)) => {
                return deny(event, StatusCode::BAD_GATEWAY, label, why);
            }
        };
        event.decision = "tunnel";
        event.reason_label = "allow_tunnel";
        event.reason = "allow-listed host".into();
        event.destination = Some(destination.to_string());
        event.status = 200;
        proxy.audit(&event);
        let on_upgrade = hyper::upgrade::on(req);
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match on_upgrade.await {
                Ok(upgraded) => {
                    proxy
                        .blind_tunnel(upgraded, stream, &request_id, &target, destination)
                        .await;
                }
                Err(e) => tracing::debug!(error = %e, "CONNECT upgrade failed"),
            }
        });
        Response::new(full(Bytes::new()))
    }
}

enum DialError {
    Refused(IpAddr, &'static str),
    Failed(&'static str, String),
}

impl Proxy {
    /// Resolves `host` once, keeps the addresses policy allows, dials them
    /// in order. Never resolves again after the check.
    async fn dial(&self, host: &str, port: u16) -> Result<(TcpStream, SocketAddr), DialError> {
        let connect_timeout = self.gateway.limits.upstream_connect_timeout();
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => {
                match tokio::time::timeout(connect_timeout, tokio::net::lookup_host((host, port)))
                    .await
                {
                    Ok(Ok(a)) => a.collect(),
                    Ok(Err(e)) => {
                        return Err(DialError::Failed(
                            "dns",
                            format!("cannot resolve {host}: {e}"),
                        ))
                    }
                    Err(_) => {
                        return Err(DialError::Failed(
                            "dns",
                            format!("resolving {host} timed out"),
                        ))
                    }
                }
            }
        };
        let mut refused = None;
        let mut last_error = format!("{host} has no address");
        for addr in addrs {
            if let Err(why) = self.destination_allowed(addr.ip()) {
                refused.get_or_insert((addr.ip(), why));
                continue;
            }
            match tokio::time::timeout(connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok((s, addr));
                }
                Ok(Err(e)) => last_error = format!("cannot connect to {addr}: {e}"),
                Err(_) => last_error = format!("connecting to {addr} timed out"),
            }
        }
        match refused {
            Some((ip, why)) if last_error.ends_with("has no address") => {
                Err(DialError::Refused(ip, why))
            }
            _ => Err(DialError::Failed("connect", last_error)),
        }
    }

    /// Terminates TLS on an intercepted tunnel and serves the inner requests
    /// through the pipeline.
    async fn serve_intercepted(
        self: Arc<Self>,
        upgraded: hyper::upgrade::Upgraded,
        tls_config: Arc<rustls::ServerConfig>,
        host: Arc<str>,
        info: ClientInfo,
        pipeline: Next,
        watcher: Option<Watcher>,
    ) {
        let kind = ["intercept"];
        self.metrics.tunnels_open.with_label_values(&kind).inc();
        let _open = GaugeGuard(self.metrics.tunnels_open.with_label_values(&kind));
        let activity = Activity::new();
        let io = Tracked::new(TokioIo::new(upgraded), activity.clone(), None);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls_config);
        let tls = match tokio::time::timeout(self.handshake_timeout, acceptor.accept(io)).await {
            Ok(Ok(s)) => {
                self.metrics.handshakes.with_label_values(&["ok"]).inc();
                s
            }
            Ok(Err(e)) => {
                self.metrics.handshakes.with_label_values(&["error"]).inc();
                tracing::debug!(client = %info.addr, host = %host, error = %e, "intercepted TLS handshake failed");
                return;
            }
            Err(_) => {
                self.metrics
                    .handshakes
                    .with_label_values(&["timeout"])
                    .inc();
                return;
            }
        };
        let inner_info = ClientInfo {
            addr: info.addr,
            tls: true,
        };
        let target = ProxyTarget { host: host.clone() };
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let mut pipeline = pipeline.clone();
            let target = target.clone();
            async move {
                if request_host(&req).as_deref() != Some(&*target.host) {
                    return Ok::<_, Infallible>(text_response(
                        StatusCode::MISDIRECTED_REQUEST,
                        format!(
                            "countersign: this tunnel is for {}; the request names another host",
                            target.host
                        ),
                    ));
                }
                let mut req = req.map(|b| {
                    b.map_err(|e| -> crate::body::BoxError { Box::new(e) })
                        .boxed_unsync()
                });
                req.extensions_mut().insert(inner_info);
                req.extensions_mut().insert(target);
                pipeline.call(req).await
            }
        });
        let conn = self
            .inner
            .serve_connection(TokioIo::new(tls), service)
            .into_owned();
        let served = async {
            match watcher {
                Some(w) => w.watch(conn).await,
                None => conn.await,
            }
        };
        tokio::select! {
            r = served => if let Err(e) = r {
                tracing::debug!(client = %info.addr, host = %host, error = %e, "intercepted connection ended with an error");
            },
            () = activity.idle(self.idle_timeout) => {
                tracing::debug!(client = %info.addr, host = %host, "intercepted tunnel idle; closed");
            }
        }
    }

    /// Copies bytes both ways until either side closes or the tunnel idles.
    async fn blind_tunnel(
        self: Arc<Self>,
        upgraded: hyper::upgrade::Upgraded,
        destination_stream: TcpStream,
        request_id: &str,
        target: &str,
        destination: SocketAddr,
    ) {
        let kind = ["tunnel"];
        self.metrics.tunnels_open.with_label_values(&kind).inc();
        let _open = GaugeGuard(self.metrics.tunnels_open.with_label_values(&kind));
        let started = Instant::now();
        let activity = Activity::new();
        let up = Arc::new(AtomicU64::new(0));
        let down = Arc::new(AtomicU64::new(0));
        let mut client = Tracked::new(TokioIo::new(upgraded), activity.clone(), Some(up.clone()));
        let mut server = Tracked::new(destination_stream, activity.clone(), Some(down.clone()));
        let end = tokio::select! {
            r = tokio::io::copy_bidirectional(&mut client, &mut server) => match r {
                Ok(_) => "closed",
                Err(_) => "error",
            },
            () = activity.idle(self.idle_timeout) => "idle_timeout",
        };
        let (up, down) = (up.load(Ordering::Relaxed), down.load(Ordering::Relaxed));
        self.metrics
            .tunnel_bytes
            .with_label_values(&["up"])
            .inc_by(up);
        self.metrics
            .tunnel_bytes
            .with_label_values(&["down"])
            .inc_by(down);
        self.gateway.audit.write_event(&TunnelClosedEvent {
            time: crate::audit::rfc3339_now(),
            event: "tunnel_closed",
            request_id,
            target,
            destination: destination.to_string(),
            bytes_up: up,
            bytes_down: down,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            end,
        });
    }
}

struct GaugeGuard(prometheus::IntGauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// When a tunnel last moved a byte.
#[derive(Clone)]
struct Activity {
    epoch: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `idle`.
    async fn idle(&self, idle: Duration) {
        let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        loop {
            tokio::time::sleep(tick).await;
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            if self.epoch.elapsed().saturating_sub(last) >= idle {
                return;
            }
        }
    }
}

/// An I/O object that records activity and counts the bytes read from it.
struct Tracked<T> {
    inner: T,
    activity: Activity,
    read_bytes: Option<Arc<AtomicU64>>,
}

impl<T> Tracked<T> {
    fn new(inner: T, activity: Activity, read_bytes: Option<Arc<AtomicU64>>) -> Self {
        Self {
            inner,
            activity,
            read_bytes,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.activity.touch();
            if let Some(c) = &self.read_bytes {
                c.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// For forwarding: the endpoint of a request that came through the proxy
/// when no `upstream.endpoint_override` is set — the host the client asked
/// for, over HTTPS. `None` for endpoint-mode requests or with an override.
pub fn intercepted_endpoint(
    extensions: &http::Extensions,
    resolver: &EndpointResolver,
) -> Option<Endpoint> {
    if resolver.has_override() {
        return None;
    }
    let target = extensions.get::<ProxyTarget>()?;
    Some(Endpoint {
        scheme: "https",
        authority: target.host.to_string(),
        path_prefix: String::new(),
    })
}

/// For forwarding: the bucket of an S3 virtual-host request that came
/// through the proxy to an AWS name (`bucket.s3.amazonaws.com`,
/// `bucket.s3.us-east-1.amazonaws.com`, `bucket.s3-us-west-2.amazonaws.com`,
/// `bucket.s3.dualstack.eu-west-1.amazonaws.com`, `*.amazonaws.com.cn`).
/// Access points, S3 Control and Outposts names are not buckets.
pub fn intercepted_s3_bucket<'a>(extensions: &http::Extensions, host: &'a str) -> Option<&'a str> {
    extensions.get::<ProxyTarget>()?;
    aws_s3_virtual_host_bucket(host)
}

/// The bucket of an AWS S3 virtual-host name (see [`intercepted_s3_bucket`]).
pub fn aws_s3_virtual_host_bucket(host: &str) -> Option<&str> {
    let host = host
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let base = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    // The last `s3` / `s3-…` label starts the endpoint; bucket names may
    // contain dots, even an `s3` label.
    let mut start = None;
    let mut offset = 0;
    for label in base.split('.') {
        if label == "s3" || (label.starts_with("s3-")) {
            start = Some((offset, label));
        }
        offset += label.len() + 1;
    }
    let (at, label) = start?;
    if matches!(
        label,
        "s3-control" | "s3-accesspoint" | "s3-object-lambda" | "s3-outposts"
    ) || label.starts_with("s3-accesspoint")
    {
        return None;
    }
    let bucket = base.get(..at.checked_sub(1)?)?;
    (!bucket.is_empty()).then_some(bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let p = HostPattern::parse("*.amazonaws.com").expect("valid");
        assert!(p.matches("s3.us-east-1.amazonaws.com"));
        assert!(p.matches("sts.amazonaws.com"));
        assert!(!p.matches("amazonaws.com"));
        assert!(!p.matches("evilamazonaws.com"));
        assert!(!p.matches("sts.amazonaws.com.evil.com"));
        let e = HostPattern::parse("Example.COM.").expect("valid");
        assert!(e.matches("example.com") && !e.matches("www.example.com"));
        assert!(HostPattern::parse("*.").is_err());
        assert!(HostPattern::parse("a*b.com").is_err());
        assert!(HostPattern::parse("").is_err());
    }

    #[test]
    fn non_public_addresses() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("127.9.9.9", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("cgnat")),
            ("100.128.0.1", None),
            ("0.0.0.0", Some("unspecified")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("reserved")),
            ("8.8.8.8", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some("loopback")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            ("64:ff9b::808:808", None),
            ("2002:7f00:1::", Some("loopback")),
            ("fe80::1", Some("link-local")),
            ("fd00:ec2::254", Some("private")),
            ("ff02::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("2001:0:4136:e378::1", Some("teredo")),
            ("2600:1f18::1", None),
        ];
        for (ip, want) in cases {
            let ip: IpAddr = ip.parse().expect("ip");
            assert_eq!(non_public(ip), want, "{ip}");
        }
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("127.0.0.1/32").expect("cidr");
        assert!(c.contains("127.0.0.1".parse().expect("ip")));
        assert!(c.contains("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!c.contains("127.0.0.2".parse().expect("ip")));
        let c = Cidr::parse("10.0.0.0/8").expect("cidr");
        assert!(c.contains("10.200.1.1".parse().expect("ip")));
        assert!(!c.contains("11.0.0.1".parse().expect("ip")));
        let c = Cidr::parse("fd00::/8").expect("cidr");
        assert!(c.contains("fd00:ec2::254".parse().expect("ip")));
        let all = Cidr::parse("0.0.0.0/0").expect("cidr");
        assert!(all.contains("1.2.3.4".parse().expect("ip")));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
    }

    #[test]
    fn s3_virtual_hosts_under_aws() {
        let cases = [
            ("bkt.s3.amazonaws.com", Some("bkt")),
            ("bkt.s3.us-east-1.amazonaws.com", Some("bkt")),
            (
                "my.dotted.bkt.s3.eu-west-1.amazonaws.com",
                Some("my.dotted.bkt"),
            ),
            ("a.s3.b.s3.us-east-1.amazonaws.com", Some("a.s3.b")),
            ("bkt.s3-us-west-2.amazonaws.com", Some("bkt")),
            ("bkt.s3.dualstack.us-east-1.amazonaws.com", Some("bkt")),
            ("bkt.s3.cn-north-1.amazonaws.com.cn", Some("bkt")),
            ("bkt.s3.us-east-1.amazonaws.com:443", Some("bkt")),
            ("s3.us-east-1.amazonaws.com", None),
            ("s3.amazonaws.com", None),
            (
                "ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com",
                None,
            ),
            ("123456789012.s3-control.us-east-1.amazonaws.com", None),
            ("sts.amazonaws.com", None),
            ("bkt.s3.example.com", None),
        ];
        for (host, want) in cases {
            assert_eq!(aws_s3_virtual_host_bucket(host), want, "{host}");
        }
    }

    #[test]
    fn proxy_requests() {
        let connect = Request::builder()
            .method(Method::CONNECT)
            .uri("s3.amazonaws.com:443")
            .body(())
            .expect("req");
        assert!(is_proxy_request(&connect));
        let absolute = Request::builder()
            .uri("http://s3.amazonaws.com/bkt")
            .body(())
            .expect("req");
        assert!(is_proxy_request(&absolute));
        let origin = Request::builder().uri("/bkt").body(()).expect("req");
        assert!(!is_proxy_request(&origin));
        let h2 = Request::builder()
            .version(Version::HTTP_2)
            .uri("https://gateway:8080/bkt")
            .body(())
            .expect("req");
        assert!(!is_proxy_request(&h2));
    }
}
