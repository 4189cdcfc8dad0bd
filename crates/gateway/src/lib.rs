//! # countersign-gateway
//!
//! Countersign's data plane: the listeners (plain or TLS, HTTP/1.1 and
//! HTTP/2), the request pipeline (a stack of tower layers, see
//! [`pipeline::build`]), the upstream client and credentials, the admin
//! endpoints (`/metrics`, `/healthz`, `/readyz`), audit events and graceful
//! shutdown. All I/O of Countersign lives here.
//!
//! What it is not: it does not implement SigV4 (that is `countersign-sigv4`,
//! sans-IO) nor parse command lines (that is the `countersign` binary).

pub mod admin;
pub mod assumed_roles;
pub mod audit;
pub mod body;
pub mod ca;
pub mod config;
pub mod decide;
pub mod error;
pub mod forward;
pub mod identity;
pub mod metrics;
pub mod pipeline;
pub mod proxy;
pub mod server;
pub mod stages;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use countersign_sigv4::static_keys::StaticKeys;
use countersign_sigv4::{Signer, Verifier, VerifyOptions};

pub use config::{Config, ConfigError};
pub use server::{Bound, StartError};

/// Per-connection facts the pipeline can read from request extensions.
#[derive(Clone, Copy, Debug)]
pub struct ClientInfo {
    /// The client's address.
    pub addr: SocketAddr,
    /// Whether the connection was TLS.
    pub tls: bool,
}

pub use countersign_identity::Principal;

/// Why the gateway could not be built from a configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A principal's policies do not compile.
    #[error("principal {principal}: {reason}")]
    Policy {
        /// The principal.
        principal: String,
        /// Why.
        reason: String,
    },
    /// The audit sink could not be opened.
    #[error("audit sink: {0}")]
    Audit(#[from] std::io::Error),
    /// The embedded service catalog could not be loaded.
    #[error("service catalog: {0}")]
    Catalog(String),
    /// The identity store could not be opened.
    #[error("identity.store: {0}")]
    Store(#[from] countersign_identity::StoreError),
}

/// Everything the pipeline stages share.
pub struct Gateway {
    /// SigV4 verification with its signing-key cache.
    pub verifier: Verifier,
    /// Static gateway keys → principal.
    pub keys: StaticKeys<Arc<Principal>>,
    /// Issued credentials, the directory, grants in force.
    pub identity: Arc<countersign_identity::Authority>,
    /// Where grants and revocations live.
    pub store: Arc<dyn countersign_identity::Store>,
    /// Admin API bearer tokens.
    pub admin_tokens: admin::AdminTokens,
    /// When this replica last reloaded grants and revocations.
    pub identity_freshness: identity::Freshness,
    /// The service catalog that classifies calls.
    pub catalog: countersign_catalog::Catalog,
    /// Authorization settings.
    pub authorization: config::AuthorizationConfig,
    /// The upstream account id for derived ARNs (`*` when unknown).
    pub account_id: String,
    /// Upstream signer with its key cache.
    pub signer: Signer,
    /// Upstream credentials.
    pub credentials: upstream::UpstreamCredentials,
    /// Upstream IAM roles of just-in-time roles, assumed per principal.
    pub assumed_roles: assumed_roles::AssumedRoles,
    /// Upstream endpoints.
    pub resolver: upstream::EndpointResolver,
    /// Upstream HTTP client.
    pub client: upstream::UpstreamClient,
    /// Limits in force.
    pub limits: config::LimitsConfig,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// Audit sink.
    pub audit: Arc<audit::AuditLog>,
    /// Base domain for S3 virtual-host addressing.
    pub s3_virtual_host_domain: Option<String>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Builds the shared state from a validated configuration.
    pub async fn from_config(config: &Config) -> Result<Self, BuildError> {
        let directory = Arc::new(config.directory()?);
        let mut keys = StaticKeys::new();
        for p in &config.principals {
            let principal = directory
                .principal(&p.name)
                .ok_or_else(|| BuildError::Policy {
                    principal: p.name.clone(),
                    reason: "missing from the directory".into(),
                })?
                .clone();
            for k in &p.access_keys {
                keys.insert(k.id.clone(), &k.secret, principal.clone());
            }
        }
        let (identity, store) = identity::open(config, directory).await?;
        let admin_tokens = admin::AdminTokens::from_config(&config.admin_tokens);
        let catalog = countersign_catalog::Catalog::load()
            .map_err(|e| BuildError::Catalog(e.to_string()))?
            .with_config(countersign_catalog::Config {
                s3_virtual_host_suffixes: config
                    .server
                    .s3_virtual_host_domain
                    .iter()
                    .cloned()
                    .collect(),
            });
        let metrics = metrics::Metrics::new();
        let audit = Arc::new(audit::AuditLog::open(&config.audit, metrics.clone())?);
        let credentials = upstream::UpstreamCredentials::from_config(&config.upstream).await;
        let assumed_roles = assumed_roles::AssumedRoles::new(config, credentials.provider());
        Ok(Self {
            catalog,
            authorization: config.authorization.clone(),
            account_id: config
                .upstream
                .account_id
                .clone()
                .unwrap_or_else(|| "*".to_owned()),
            verifier: Verifier::new(VerifyOptions {
                clock_skew: Duration::from_secs(config.limits.clock_skew_secs),
                ..VerifyOptions::default()
            }),
            keys,
            identity,
            store,
            admin_tokens,
            identity_freshness: identity::Freshness::new(config.max_staleness()?),
            signer: Signer::default(),
            credentials,
            assumed_roles,
            resolver: upstream::EndpointResolver::new(&config.upstream),
            client: upstream::build_client(&config.limits),
            limits: config.limits.clone(),
            metrics,
            audit,
            s3_virtual_host_domain: config.server.s3_virtual_host_domain.clone(),
        })
    }
}
