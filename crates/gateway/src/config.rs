//! The gateway's TOML configuration, its validation and the embedded default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Why a configuration was refused: the key and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// TOML syntax or an unknown or mistyped key.
    #[error("{0}")]
    Parse(String),
    /// A value that parses but makes no sense.
    #[error("{key}: {reason}")]
    Invalid {
        /// The key, e.g. `principal[0].access_keys[1].id`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listeners and connection limits.
    pub server: ServerConfig,
    /// Where authorized calls go and with which credentials.
    #[serde(default)]
    pub upstream: UpstreamConfig,
    /// Principals and their static gateway keys.
    #[serde(default, rename = "principal")]
    pub principals: Vec<PrincipalConfig>,
    /// Named IAM policy documents.
    #[serde(default, rename = "policy")]
    pub policies: BTreeMap<String, PolicyConfig>,
    /// Where audit events go.
    #[serde(default)]
    pub audit: AuditConfig,
    /// Request-time limits and verification settings.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// How calls are authorized.
    #[serde(default)]
    pub authorization: AuthorizationConfig,
    /// HTTPS_PROXY mode and egress control on the data-plane listener.
    pub proxy: Option<ProxyConfig>,
    /// Groups of principals (approvers, requesters).
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupConfig>,
    /// Roles that can be granted just in time.
    #[serde(default, rename = "role")]
    pub roles: Vec<RoleConfig>,
    /// Issued credentials: key ring, store, lifetimes.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// Bearer tokens of the admin API, each acting as a principal.
    #[serde(default, rename = "admin_token")]
    pub admin_tokens: Vec<AdminTokenConfig>,
    /// Client certificates of the admin API (mTLS), each acting as a
    /// principal; needs `server.admin_tls.client_ca`.
    #[serde(default, rename = "admin_client")]
    pub admin_clients: Vec<AdminClientConfig>,
}

/// `[identity]`: gateway-issued credentials and where grants live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The master key ring (TOML: `[[key]] id, state, secret`). Unset: the
    /// `COUNTERSIGN_KEY_RING` environment variable (`ID:STATE:BASE64,…`);
    /// neither: a random key that lives as long as the process.
    pub key_ring_file: Option<PathBuf>,
    /// `sqlite:PATH` (relative to this file), `sqlite::memory:`, or
    /// `postgres://…`. Required with a persistent key ring (revocations
    /// must outlive restarts as long as credentials do); otherwise
    /// defaults to `sqlite::memory:`.
    pub store: Option<String>,
    /// Lifetime of issued credentials when none is asked for (`15m`).
    pub default_ttl: Option<String>,
    /// Longest lifetime that may be asked for (`12h`).
    pub max_ttl: Option<String>,
    /// Fail closed: when grants and revocations could not be reloaded from
    /// the store for this long (`60s`), requests with issued credentials
    /// are refused with 503 until the store answers again.
    pub max_staleness: Option<String>,
}

/// One `[[group]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Unique name.
    pub name: String,
    /// Member principals (principals can also list their groups).
    #[serde(default)]
    pub members: Vec<String>,
}

/// One `[[role]]`: policies that can be granted for a while.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Unique name.
    pub name: String,
    /// Names of `[policy.*]` entries.
    pub policies: Vec<String>,
    /// Who may request it: principal names, `group:NAME`, or `*`.
    pub requesters: Vec<String>,
    /// Longest grant, e.g. `1h`.
    pub max_duration: String,
    /// The group whose members approve; unset: approved automatically.
    pub approver_group: Option<String>,
    /// Distinct approvals needed (default 1); never the requester's own.
    pub approvals: Option<u32>,
    /// A reason must be given (default true).
    #[serde(default = "yes")]
    pub require_reason: bool,
    /// A ticket reference must be given (default false).
    #[serde(default)]
    pub require_ticket: bool,
    /// An IAM role that calls allowed through this role's grants are
    /// re-signed as (assumed with the caller as `SourceIdentity`); unset:
    /// the gateway's own upstream credentials.
    pub upstream_role_arn: Option<String>,
}

fn yes() -> bool {
    true
}

/// One `[[admin_token]]`: a bearer token of the admin API.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenConfig {
    /// The principal the token acts as (requester, approver).
    pub principal: String,
    /// Hex SHA-256 of the token (preferred: the file holds no secret).
    pub token_sha256: Option<String>,
    /// The token itself (at least 24 characters).
    pub token: Option<String>,
    /// May issue and revoke credentials for any principal, revoke any
    /// grant and list every grant.
    #[serde(default)]
    pub operator: bool,
}

/// One `[[admin_client]]`: a client certificate of the admin API, named by
/// one of its subject alternative names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminClientConfig {
    /// The principal the certificate acts as (requester, approver).
    pub principal: String,
    /// A subject alternative name of the certificate: a URI (a SPIFFE id
    /// such as `spiffe://example.org/ops/alice`), a DNS name or an e-mail
    /// address, compared exactly.
    pub san: String,
    /// As for `[[admin_token]]`.
    #[serde(default)]
    pub operator: bool,
}

impl std::fmt::Debug for AdminTokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTokenConfig")
            .field("principal", &self.principal)
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

/// `[authorization]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// Forward calls the service catalog cannot classify (default: deny).
    /// When true they are forwarded without a policy decision, and audited
    /// as `allow` with reason `unclassified`.
    #[serde(default)]
    pub allow_unknown_operations: bool,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Data-plane address.
    pub listen: SocketAddr,
    /// Admin address: `/metrics`, `/healthz`, `/readyz` and the admin API.
    pub admin_listen: Option<SocketAddr>,
    /// Optional TLS termination on the data plane.
    pub tls: Option<TlsConfig>,
    /// Optional TLS (and client certificates) on the admin listener.
    pub admin_tls: Option<AdminTlsConfig>,
    /// Base domain for S3 virtual-host addressing (`bucket.<domain>`), e.g.
    /// `s3.localhost.localstack.cloud` or the gateway's own DNS name.
    pub s3_virtual_host_domain: Option<String>,
}

/// `[server.tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `[server.admin_tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA certificates that admin client certificates must chain to.
    /// Clients presenting one are verified during the handshake; a
    /// certificate naming an `[[admin_client]]` authenticates API calls
    /// without a token. Clients without a certificate are still accepted
    /// (health probes, metrics scrapers, token holders).
    pub client_ca: Option<PathBuf>,
}

/// `[upstream]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Send every authorized call to this base URL instead of AWS.
    pub endpoint_override: Option<String>,
    /// Static upstream access key id (with `secret_access_key`).
    pub access_key_id: Option<String>,
    /// Static upstream secret.
    pub secret_access_key: Option<String>,
    /// Static upstream session token.
    pub session_token: Option<String>,
    /// The upstream account id, used in resource ARNs a request does not
    /// spell out (DynamoDB tables, SQS queues by name, ...). Unset: `*`.
    pub account_id: Option<String>,
    /// Region of the STS endpoint that assumes `role.upstream_role_arn`
    /// (default `us-east-1`).
    pub sts_region: Option<String>,
}

/// One `[[principal]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalConfig {
    /// Unique name, shown in audit events.
    pub name: String,
    /// Static gateway keys.
    #[serde(default)]
    pub access_keys: Vec<AccessKeyConfig>,
    /// Names of `[policy.*]` entries: its standing policies.
    #[serde(default)]
    pub policies: Vec<String>,
    /// `person` or `workload` (default).
    #[serde(default)]
    pub kind: countersign_identity::directory::PrincipalKind,
    /// Tags, visible to policies as `aws:PrincipalTag/<key>`.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Groups it belongs to.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A static gateway access key.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyConfig {
    /// Access key id the workload uses.
    pub id: String,
    /// Its secret.
    pub secret: String,
}

impl std::fmt::Debug for AccessKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyConfig")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// One `[policy.NAME]`: inline document or a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The IAM JSON document.
    pub document: Option<String>,
    /// A file holding it, relative to the configuration file.
    pub file: Option<PathBuf>,
}

/// `[audit]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// `stdout` (default) or `file`.
    #[serde(default)]
    pub sink: AuditSink,
    /// The file for `sink = "file"`.
    pub path: Option<PathBuf>,
}

/// Where audit events go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditSink {
    /// One JSON line per event on standard output.
    #[default]
    Stdout,
    /// One JSON line per event appended to `audit.path`.
    File,
    /// No audit events (tests only).
    None,
}

/// `[limits]`: every limit explicit, with safe defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request head (request line and headers), bytes.
    pub max_header_bytes: usize,
    /// Largest body buffered to hash it (calls without a payload-hash claim).
    pub max_buffered_body_bytes: usize,
    /// Time allowed to read a request head, also the keep-alive idle timeout.
    pub header_read_timeout_secs: u64,
    /// Upstream TCP/TLS connect timeout.
    pub upstream_connect_timeout_secs: u64,
    /// Time allowed for upstream response headers.
    pub upstream_response_timeout_secs: u64,
    /// Concurrent client connections; further connections wait in the backlog.
    pub max_connections: usize,
    /// Deadline for in-flight requests after SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
    /// Accepted clock skew for `X-Amz-Date`.
    pub clock_skew_secs: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: 64 * 1024,
            max_buffered_body_bytes: 16 * 1024 * 1024,
            header_read_timeout_secs: 30,
            upstream_connect_timeout_secs: 5,
            upstream_response_timeout_secs: 60,
            max_connections: 4096,
            shutdown_grace_secs: 20,
            clock_skew_secs: 15 * 60,
        }
    }
}

impl LimitsConfig {
    /// Header read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }
    /// Upstream connect timeout.
    pub fn upstream_connect_timeout(&self) -> Duration {
        Duration::from_secs(self.upstream_connect_timeout_secs)
    }
    /// Upstream response-header timeout.
    pub fn upstream_response_timeout(&self) -> Duration {
        Duration::from_secs(self.upstream_response_timeout_secs)
    }
    /// Shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl Config {
    /// Parses and validates a TOML document. `base` resolves relative paths.
    pub fn from_toml(text: &str, base: &Path) -> Result<Self, ConfigError> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    /// The policy documents of `principal`, parsed, with their names.
    pub fn principal_policies(
        &self,
        principal: &PrincipalConfig,
    ) -> Result<Vec<(String, countersign_policy::PolicyDocument)>, ConfigError> {
        self.named_policies(&principal.policies)
    }

    /// The directory of principals, groups and roles, validated.
    pub fn directory(&self) -> Result<countersign_identity::Directory, ConfigError> {
        use countersign_identity::directory::{Approval, GroupSpec, PrincipalSpec, Role};
        let principals = self
            .principals
            .iter()
            .map(|p| {
                Ok(PrincipalSpec {
                    name: p.name.clone(),
                    kind: p.kind,
                    tags: p.tags.clone(),
                    groups: p.groups.clone(),
                    policies: self.principal_policies(p)?,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let groups = self
            .groups
            .iter()
            .map(|g| GroupSpec {
                name: g.name.clone(),
                members: g.members.clone(),
            })
            .collect();
        let roles = self
            .roles
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let key = format!("role[{i}]");
                let max_duration_secs = countersign_identity::parse_duration(&r.max_duration)
                    .filter(|d| *d > 0)
                    .ok_or_else(|| {
                        invalid(
                            format!("{key}.max_duration"),
                            "must be a positive duration like 30m, 2h or 1d",
                        )
                    })?;
                let approval = match (&r.approver_group, r.approvals) {
                    (Some(group), n) => Approval::Approvers {
                        count: n.unwrap_or(1),
                        group: group.clone(),
                    },
                    (None, None) => Approval::Automatic,
                    (None, Some(_)) => {
                        return Err(invalid(format!("{key}.approvals"), "needs approver_group"))
                    }
                };
                Ok(Role {
                    name: r.name.clone(),
                    policies: self
                        .named_policies(&r.policies)?
                        .into_iter()
                        .map(|(n, d)| (n, std::sync::Arc::new(d)))
                        .collect(),
                    requesters: r.requesters.clone(),
                    max_duration_secs,
                    approval,
                    require_reason: r.require_reason,
                    require_ticket: r.require_ticket,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        countersign_identity::Directory::new(principals, groups, roles)
            .map_err(|e| invalid("principal/group/role", e.to_string()))
    }

    /// How long a replica may enforce a snapshot it could not refresh,
    /// seconds (`identity.max_staleness`, default 60).
    pub fn max_staleness(&self) -> Result<u64, ConfigError> {
        match &self.identity.max_staleness {
            None => Ok(60),
            Some(text) => countersign_identity::parse_duration(text)
                .filter(|d| *d >= 2)
                .ok_or_else(|| {
                    invalid(
                        "identity.max_staleness",
                        "must be a duration of at least 2s, like 30s or 2m",
                    )
                }),
        }
    }

    /// Lifetimes of issued credentials: (default, maximum), seconds.
    pub fn credential_ttls(&self) -> Result<(u64, u64), ConfigError> {
        let parse = |key: &str, v: &Option<String>, default: u64| match v {
            None => Ok(default),
            Some(text) => countersign_identity::parse_duration(text)
                .filter(|d| *d > 0)
                .ok_or_else(|| invalid(key, "must be a positive duration like 15m or 12h")),
        };
        let default_ttl = parse(
            "identity.default_ttl",
            &self.identity.default_ttl,
            countersign_identity::authority::DEFAULT_TTL_SECS,
        )?;
        let max_ttl = parse(
            "identity.max_ttl",
            &self.identity.max_ttl,
            countersign_identity::authority::DEFAULT_MAX_TTL_SECS,
        )?;
        if default_ttl > max_ttl {
            return Err(invalid(
                "identity.default_ttl",
                "must not exceed identity.max_ttl",
            ));
        }
        Ok((default_ttl, max_ttl))
    }

    /// The key ring: the file, else `COUNTERSIGN_KEY_RING`, else `None`
    /// (the caller makes an ephemeral one).
    pub fn key_ring(&self) -> Result<Option<countersign_identity::KeyRing>, ConfigError> {
        if let Some(path) = &self.identity.key_ring_file {
            return countersign_identity::KeyRing::load(path)
                .map(Some)
                .map_err(|e| invalid("identity.key_ring_file", e.to_string()));
        }
        match std::env::var(countersign_identity::keyring::KEY_RING_ENV) {
            Ok(text) if !text.trim().is_empty() => {
                countersign_identity::KeyRing::from_compact(&text)
                    .map(Some)
                    .map_err(|e| {
                        invalid(countersign_identity::keyring::KEY_RING_ENV, e.to_string())
                    })
            }
            _ => Ok(None),
        }
    }

    /// Parsed documents of the named `[policy.*]` entries.
    pub fn named_policies(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, countersign_policy::PolicyDocument)>, ConfigError> {
        names
            .iter()
            .map(|name| {
                let key = format!("policy.{name}");
                let policy = self
                    .policies
                    .get(name)
                    .ok_or_else(|| invalid(&key, "no such policy"))?;
                let text = match (&policy.document, &policy.file) {
                    (Some(d), _) => d.clone(),
                    (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| {
                        invalid(
                            format!("{key}.file"),
                            format!("cannot read {}: {e}", f.display()),
                        )
                    })?,
                    (None, None) => {
                        return Err(invalid(key, "needs exactly one of `document` or `file`"))
                    }
                };
                let doc = countersign_policy::PolicyDocument::parse(&text)
                    .map_err(|e| invalid(&key, e.to_string()))?;
                Ok((name.clone(), doc))
            })
            .collect()
    }

    /// Reads, parses and validates a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path.parent().unwrap_or(Path::new(".")))
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(tls) = &mut self.server.tls {
            resolve(&mut tls.cert);
            resolve(&mut tls.key);
        }
        if let Some(tls) = &mut self.server.admin_tls {
            resolve(&mut tls.cert);
            resolve(&mut tls.key);
            if let Some(ca) = &mut tls.client_ca {
                resolve(ca);
            }
        }
        for policy in self.policies.values_mut() {
            if let Some(f) = &mut policy.file {
                resolve(f);
            }
        }
        if let Some(p) = &mut self.audit.path {
            resolve(p);
        }
        if let Some(f) = &mut self.identity.key_ring_file {
            resolve(f);
        }
        if let Some(store) = &mut self.identity.store {
            if let Some(path) = store.strip_prefix("sqlite:") {
                if path != ":memory:" && Path::new(path).is_relative() {
                    *store = format!("sqlite:{}", base.join(path).display());
                }
            }
        }
        if let Some(proxy) = &mut self.proxy {
            resolve(&mut proxy.ca_cert);
            resolve(&mut proxy.ca_key);
        }
    }

    /// Checks everything a type cannot: references, uniqueness, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.upstream.endpoint_override {
            let uri: http::Uri = url
                .parse()
                .map_err(|e| invalid("upstream.endpoint_override", format!("not a URL: {e}")))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
                return Err(invalid(
                    "upstream.endpoint_override",
                    "must be http(s)://host[:port]",
                ));
            }
        }
        match (
            &self.upstream.access_key_id,
            &self.upstream.secret_access_key,
        ) {
            (Some(_), None) => {
                return Err(invalid(
                    "upstream.secret_access_key",
                    "required with access_key_id",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "upstream.access_key_id",
                    "required with secret_access_key",
                ))
            }
            _ => {}
        }
        let mut names = std::collections::HashSet::new();
        let mut key_ids = std::collections::HashSet::new();
        for (i, p) in self.principals.iter().enumerate() {
            if p.name.is_empty() {
                return Err(invalid(format!("principal[{i}].name"), "must not be empty"));
            }
            if !names.insert(&p.name) {
                return Err(invalid(
                    format!("principal[{i}].name"),
                    format!("duplicate principal {:?}", p.name),
                ));
            }
            for (j, k) in p.access_keys.iter().enumerate() {
                let key = format!("principal[{i}].access_keys[{j}]");
                if k.id.len() < 16
                    || k.id.len() > 128
                    || !k.id.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(invalid(
                        format!("{key}.id"),
                        "must be 16 to 128 ASCII letters and digits",
                    ));
                }
                if k.id
                    .starts_with(countersign_identity::credentials::ACCESS_KEY_PREFIX)
                {
                    return Err(invalid(
                        format!("{key}.id"),
                        "must not start with CSGW, the prefix of issued credentials",
                    ));
                }
                if k.id.starts_with("AKIA") || k.id.starts_with("ASIA") {
                    return Err(invalid(
                        format!("{key}.id"),
                        "must not look like an AWS key (AKIA/ASIA prefix)",
                    ));
                }
                if k.secret.len() < 16 {
                    return Err(invalid(
                        format!("{key}.secret"),
                        "must be at least 16 characters",
                    ));
                }
                if !key_ids.insert(&k.id) {
                    return Err(invalid(format!("{key}.id"), "duplicate access key id"));
                }
            }
            for (j, name) in p.policies.iter().enumerate() {
                if !self.policies.contains_key(name) {
                    return Err(invalid(
                        format!("principal[{i}].policies[{j}]"),
                        format!("no [policy.{name}]"),
                    ));
                }
            }
        }
        for (name, policy) in &self.policies {
            let key = format!("policy.{name}");
            let text = match (&policy.document, &policy.file) {
                (Some(d), None) => d.clone(),
                (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| {
                    invalid(
                        format!("{key}.file"),
                        format!("cannot read {}: {e}", f.display()),
                    )
                })?,
                _ => return Err(invalid(key, "needs exactly one of `document` or `file`")),
            };
            let field = if policy.file.is_some() {
                "file"
            } else {
                "document"
            };
            countersign_policy::PolicyDocument::parse(&text)
                .map_err(|e| invalid(format!("{key}.{field}"), e.to_string()))?;
        }
        if self.audit.sink == AuditSink::File && self.audit.path.is_none() {
            return Err(invalid("audit.path", "required when audit.sink = \"file\""));
        }
        let l = &self.limits;
        let positive = [
            ("limits.max_header_bytes", l.max_header_bytes as u64),
            (
                "limits.header_read_timeout_secs",
                l.header_read_timeout_secs,
            ),
            (
                "limits.upstream_connect_timeout_secs",
                l.upstream_connect_timeout_secs,
            ),
            (
                "limits.upstream_response_timeout_secs",
                l.upstream_response_timeout_secs,
            ),
            ("limits.max_connections", l.max_connections as u64),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err(invalid(key, "must be greater than zero"));
            }
        }
        if l.max_header_bytes < 8192 {
            return Err(invalid("limits.max_header_bytes", "must be at least 8192"));
        }
        if l.clock_skew_secs > 3600 {
            return Err(invalid("limits.clock_skew_secs", "must be at most 3600"));
        }
        if let Some(account) = &self.upstream.account_id {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("upstream.account_id", "must be 12 digits"));
            }
        }
        if let Some(domain) = &self.server.s3_virtual_host_domain {
            if domain.is_empty() || domain.starts_with('.') {
                return Err(invalid(
                    "server.s3_virtual_host_domain",
                    "must be a DNS name like s3.example.com",
                ));
            }
        }
        if let Some(proxy) = &self.proxy {
            crate::proxy::validate_config(proxy)?;
        }
        self.directory()?;
        self.credential_ttls()?;
        self.max_staleness()?;
        for (i, r) in self.roles.iter().enumerate() {
            if let Some(arn) = &r.upstream_role_arn {
                if !is_iam_role_arn(arn) {
                    return Err(invalid(
                        format!("role[{i}].upstream_role_arn"),
                        "must be an IAM role ARN: arn:aws:iam::123456789012:role/NAME",
                    ));
                }
            }
            for (j, name) in r.policies.iter().enumerate() {
                if !self.policies.contains_key(name) {
                    return Err(invalid(
                        format!("role[{i}].policies[{j}]"),
                        format!("no [policy.{name}]"),
                    ));
                }
            }
        }
        if self.identity.key_ring_file.is_some() && self.identity.store.is_none() {
            return Err(invalid(
                "identity.store",
                "required with identity.key_ring_file: revocations must outlive restarts as long as credentials do",
            ));
        }
        if let Some(store) = &self.identity.store {
            if !(store.starts_with("sqlite:")
                || store.starts_with("postgres://")
                || store.starts_with("postgresql://"))
            {
                return Err(invalid(
                    "identity.store",
                    "must be sqlite:PATH, sqlite::memory: or postgres://…",
                ));
            }
        }
        let mut tokens = std::collections::HashSet::new();
        for (i, t) in self.admin_tokens.iter().enumerate() {
            let key = format!("admin_token[{i}]");
            if !self.principals.iter().any(|p| p.name == t.principal) {
                return Err(invalid(
                    format!("{key}.principal"),
                    format!("no principal {:?}", t.principal),
                ));
            }
            let digest = match (&t.token, &t.token_sha256) {
                (Some(token), None) if token.len() >= 24 => crate::admin::token_digest(token),
                (Some(_), None) => {
                    return Err(invalid(
                        format!("{key}.token"),
                        "must be at least 24 characters",
                    ))
                }
                (None, Some(hex_digest)) => {
                    let mut d = [0u8; 32];
                    hex::decode_to_slice(hex_digest, &mut d).map_err(|_| {
                        invalid(format!("{key}.token_sha256"), "must be 64 hex digits")
                    })?;
                    d
                }
                _ => {
                    return Err(invalid(
                        key,
                        "needs exactly one of `token` or `token_sha256`",
                    ))
                }
            };
            if !tokens.insert(digest) {
                return Err(invalid(key, "duplicate token"));
            }
        }
        if self.server.admin_tls.is_some() && self.server.admin_listen.is_none() {
            return Err(invalid("server.admin_tls", "needs server.admin_listen"));
        }
        let client_ca = self
            .server
            .admin_tls
            .as_ref()
            .is_some_and(|t| t.client_ca.is_some());
        let mut sans = std::collections::HashSet::new();
        for (i, c) in self.admin_clients.iter().enumerate() {
            let key = format!("admin_client[{i}]");
            if !client_ca {
                return Err(invalid(key, "needs server.admin_tls.client_ca"));
            }
            if !self.principals.iter().any(|p| p.name == c.principal) {
                return Err(invalid(
                    format!("{key}.principal"),
                    format!("no principal {:?}", c.principal),
                ));
            }
            if c.san.trim().is_empty() || c.san.trim() != c.san {
                return Err(invalid(
                    format!("{key}.san"),
                    "must be a URI, DNS name or e-mail address without surrounding spaces",
                ));
            }
            if !sans.insert(c.san.as_str()) {
                return Err(invalid(format!("{key}.san"), "duplicate"));
            }
        }
        Ok(())
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path/>name`.
fn is_iam_role_arn(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource
            .strip_prefix("role/")
            .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
}

/// The embedded default for a first try: loopback listeners, one generated
/// principal, upstream = real AWS through the default credential chain.
/// Returns the configuration and the generated key (id, secret).
pub fn embedded_default() -> (Config, (String, String)) {
    use rand::Rng;
    const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let id: String = std::iter::once("AKCS".to_owned())
        .chain((0..16).map(|_| (BASE32[rng.gen_range(0..32)] as char).to_string()))
        .collect();
    let secret: String = (0..40)
        .map(|_| {
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            ALPHABET[rng.gen_range(0..ALPHABET.len())] as char
        })
        .collect();
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:9090"

[[principal]]
name = "first-try"
access_keys = [{{ id = "{id}", secret = "{secret}" }}]
policies = ["first-try-read-only"]

[policy.first-try-read-only]
document = '''{{"Version":"2012-10-17","Statement":[{{"Sid":"WhoAmIAndReadOnly","Effect":"Allow","Action":["sts:GetCallerIdentity","s3:ListAllMyBuckets","s3:ListBucket","s3:GetObject","dynamodb:ListTables","dynamodb:DescribeTable"],"Resource":"*"}}]}}'''
"#
    );
    let config = Config::from_toml(&text, Path::new("."))
        .unwrap_or_else(|e| unreachable!("embedded default: {e}"));
    (config, (id, secret))
}

/// `[proxy]`: HTTPS_PROXY mode (CONNECT, interception of AWS hosts) and
/// egress control on the data-plane listener. See [`crate::proxy`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// The gateway CA certificate (PEM) that signs minted leaf certificates.
    pub ca_cert: PathBuf,
    /// Its private key (PEM).
    pub ca_key: PathBuf,
    /// Host patterns (`name` or `*.suffix`) intercepted on port 443.
    pub intercept: Vec<String>,
    /// Non-AWS host patterns that get a blind tunnel; all others are refused.
    pub allow_tunnel: Vec<String>,
    /// Ports blind tunnels may go to.
    pub tunnel_ports: Vec<u16>,
    /// Let blind tunnels reach loopback, private (RFC 1918, ULA) and CGNAT
    /// addresses. Link-local (instance metadata) needs a CIDR below.
    pub allow_private_destinations: bool,
    /// Networks blind tunnels may reach even though they are not public.
    pub allowed_destination_cidrs: Vec<String>,
    /// When not empty, proxy requests need `Proxy-Authorization: Basic`.
    pub users: Vec<ProxyUserConfig>,
    /// Concurrent tunnels (intercepted and blind); more get 503.
    pub max_tunnels: usize,
    /// TLS handshake deadline on an intercepted tunnel.
    pub handshake_timeout_secs: u64,
    /// A tunnel that moves no byte this long is closed.
    pub tunnel_idle_timeout_secs: u64,
    /// Validity of minted leaf certificates; cached for half of it.
    pub leaf_validity_secs: u64,
    /// Leaf certificates kept in the cache (one per host).
    pub leaf_cache_capacity: u64,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            ca_cert: PathBuf::new(),
            ca_key: PathBuf::new(),
            intercept: crate::proxy::DEFAULT_INTERCEPT
                .iter()
                .map(|s| s.to_string())
                .collect(),
            allow_tunnel: Vec::new(),
            tunnel_ports: vec![443],
            allow_private_destinations: false,
            allowed_destination_cidrs: Vec::new(),
            users: Vec::new(),
            max_tunnels: 1024,
            handshake_timeout_secs: 10,
            tunnel_idle_timeout_secs: 300,
            leaf_validity_secs: 86400,
            leaf_cache_capacity: 10_000,
        }
    }
}

/// One `[[proxy.users]]` entry for `Proxy-Authorization: Basic`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyUserConfig {
    /// User name (no `:`).
    pub name: String,
    /// Password (at least 12 characters).
    pub password: String,
}

impl std::fmt::Debug for ProxyUserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyUserConfig")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:8080"
admin_listen = "127.0.0.1:9090"

[upstream]
endpoint_override = "http://127.0.0.1:5000"
access_key_id = "AKIAUPSTREAM"
secret_access_key = "upstream-secret"

[[principal]]
name = "ci-bot"
access_keys = [{ id = "AKCSEXAMPLE000000001", secret = "0123456789abcdef0123" }]
policies = ["s3-read"]

[policy.s3-read]
document = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}'''
"#;

    #[test]
    fn the_documented_shape_parses() {
        let c = Config::from_toml(EXAMPLE, Path::new(".")).expect("valid");
        assert_eq!(c.principals[0].name, "ci-bot");
        assert_eq!(c.limits.max_connections, 4096);
    }

    fn error_of(text: &str) -> String {
        Config::from_toml(text, Path::new("."))
            .expect_err("must be refused")
            .to_string()
    }

    #[test]
    fn errors_name_the_key() {
        let e = error_of(&EXAMPLE.replace("policies = [\"s3-read\"]", "policies = [\"nope\"]"));
        assert!(
            e.contains("principal[0].policies[0]") && e.contains("nope"),
            "{e}"
        );
        let e = error_of(&EXAMPLE.replace("AKCSEXAMPLE000000001", "AKIAEXAMPLE000000001"));
        assert!(e.contains("principal[0].access_keys[0].id"), "{e}");
        let e = error_of(&EXAMPLE.replace("[upstream]", "[upstream]\nbogus = 1"));
        assert!(e.contains("bogus"), "{e}");
        let e = error_of(&EXAMPLE.replace("http://127.0.0.1:5000", "ftp://x"));
        assert!(e.contains("upstream.endpoint_override"), "{e}");
        let e = error_of(&EXAMPLE.replace(r#""Resource":"*"}]}"#, r#""Resource":"*"}]"#));
        assert!(e.contains("policy.s3-read.document"), "{e}");
        let e = error_of(
            &EXAMPLE.replace(r#""Effect":"Allow""#, r#""Effect":"Allow","Principal":"*""#),
        );
        assert!(
            e.contains("policy.s3-read.document") && e.contains("Principal"),
            "{e}"
        );
        let e = error_of(&format!("{EXAMPLE}\n[limits]\nmax_connections = 0\n"));
        assert!(e.contains("limits.max_connections"), "{e}");
    }

    const JIT: &str = r#"
[[principal]]
name = "alice"
groups = ["data"]
tags = { team = "data" }

[[principal]]
name = "bob"

[[group]]
name = "data"

[[group]]
name = "sre"
members = ["bob"]

[[role]]
name = "writer"
policies = ["s3-read"]
requesters = ["group:data"]
max_duration = "2h"
approver_group = "sre"

[[admin_token]]
principal = "alice"
token = "alice-token-0123456789abcdef"
"#;

    #[test]
    fn roles_groups_and_tokens_parse_into_a_directory() {
        let c = Config::from_toml(&format!("{EXAMPLE}{JIT}"), Path::new(".")).expect("valid");
        let d = c.directory().unwrap();
        assert!(d.is_member("bob", "sre") && d.is_member("alice", "data"));
        let role = d.role("writer").unwrap();
        assert_eq!(role.max_duration_secs, 7200);
        assert!(role.require_reason && !role.require_ticket);
        assert!(d.may_request("alice", role) && !d.may_request("bob", role));
        assert_eq!(
            d.principal("alice")
                .unwrap()
                .tags
                .get("team")
                .map(String::as_str),
            Some("data")
        );
        assert_eq!(c.credential_ttls().unwrap(), (900, 43_200));
    }

    #[test]
    fn admin_clients_need_client_ca_a_principal_and_distinct_names() {
        let tls = "[server]\nlisten = \"127.0.0.1:8080\"\nadmin_listen = \"127.0.0.1:9090\"\n\
                   [server.admin_tls]\ncert = \"admin.pem\"\nkey = \"admin.key\"\n";
        let base = format!(
            "{}{JIT}",
            EXAMPLE.replace(
                "[server]\nlisten = \"127.0.0.1:8080\"\nadmin_listen = \"127.0.0.1:9090\"\n",
                tls,
            )
        );
        let client =
            "\n[[admin_client]]\nprincipal = \"alice\"\nsan = \"spiffe://example.org/alice\"\n";
        let e = error_of(&format!("{base}{client}"));
        assert!(
            e.contains("admin_client[0]") && e.contains("client_ca"),
            "{e}"
        );
        let with_ca = base.replace(
            "key = \"admin.key\"\n",
            "key = \"admin.key\"\nclient_ca = \"clients.pem\"\n",
        );
        let c =
            Config::from_toml(&format!("{with_ca}{client}"), Path::new("/etc/cs")).expect("valid");
        let tls = c.server.admin_tls.as_ref().unwrap();
        assert_eq!(
            tls.client_ca.as_deref(),
            Some(Path::new("/etc/cs/clients.pem"))
        );
        assert_eq!(tls.cert, Path::new("/etc/cs/admin.pem"));
        assert_eq!(c.admin_clients[0].principal, "alice");
        let e = error_of(&format!(
            "{with_ca}{}",
            client.replace("alice\"\nsan", "mallory\"\nsan")
        ));
        assert!(e.contains("admin_client[0].principal"), "{e}");
        let e = error_of(&format!("{with_ca}{client}{client}"));
        assert!(
            e.contains("admin_client[1].san") && e.contains("duplicate"),
            "{e}"
        );
        let e = error_of(&format!(
            "{with_ca}{}",
            client.replace("spiffe://example.org/alice", " ")
        ));
        assert!(e.contains("admin_client[0].san"), "{e}");
        let e = error_of(&with_ca.replace("admin_listen = \"127.0.0.1:9090\"\n", ""));
        assert!(
            e.contains("server.admin_tls") && e.contains("admin_listen"),
            "{e}"
        );
    }

    #[test]
    fn upstream_role_arns_are_iam_role_arns() {
        let base = format!("{EXAMPLE}{JIT}");
        let with = |arn: &str| {
            base.replace(
                "approver_group = \"sre\"\n",
                &format!("approver_group = \"sre\"\nupstream_role_arn = \"{arn}\"\n"),
            )
        };
        for good in [
            "arn:aws:iam::123456789012:role/uploads-writer",
            "arn:aws-us-gov:iam::123456789012:role/path/to/writer",
        ] {
            let c = Config::from_toml(&with(good), Path::new(".")).expect(good);
            assert_eq!(c.roles[0].upstream_role_arn.as_deref(), Some(good));
        }
        for bad in [
            "uploads-writer",
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
        ] {
            let e = error_of(&with(bad));
            assert!(e.contains("role[0].upstream_role_arn"), "{bad}: {e}");
        }
    }

    #[test]
    fn identity_errors_name_the_key() {
        let base = format!("{EXAMPLE}{JIT}");
        let e = error_of(&base.replace(
            "policies = [\"s3-read\"]\nrequesters",
            "policies = [\"nope\"]\nrequesters",
        ));
        assert!(e.contains("nope"), "{e}");
        let e = error_of(&base.replace("max_duration = \"2h\"", "max_duration = \"soon\""));
        assert!(e.contains("role[0].max_duration"), "{e}");
        let e = error_of(&base.replace("approver_group = \"sre\"", "approver_group = \"ghosts\""));
        assert!(e.contains("ghosts"), "{e}");
        let e = error_of(&base.replace(
            "principal = \"alice\"\ntoken",
            "principal = \"mallory\"\ntoken",
        ));
        assert!(e.contains("admin_token[0].principal"), "{e}");
        let e = error_of(&base.replace("alice-token-0123456789abcdef", "short"));
        assert!(e.contains("admin_token[0].token"), "{e}");
        let e = error_of(&format!(
            "{base}\n[identity]\nkey_ring_file = \"ring.toml\"\n"
        ));
        assert!(e.contains("identity.store"), "{e}");
        let e = error_of(&format!("{base}\n[identity]\nstore = \"mysql://x\"\n"));
        assert!(e.contains("identity.store"), "{e}");
        let e = error_of(&format!("{base}\n[identity]\ndefault_ttl = \"13h\"\n"));
        assert!(e.contains("identity.default_ttl"), "{e}");
        let e = error_of(&EXAMPLE.replace("AKCSEXAMPLE000000001", "CSGWEXAMPLE000000001"));
        assert!(e.contains("CSGW"), "{e}");
    }

    #[test]
    fn embedded_default_is_valid_and_random() {
        let (a, (id_a, _)) = embedded_default();
        let (_, (id_b, _)) = embedded_default();
        assert_ne!(id_a, id_b);
        assert!(id_a.starts_with("AKCS") && id_a.len() == 20);
        assert!(a.server.listen.ip().is_loopback());
    }
}
