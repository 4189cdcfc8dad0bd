//! The upstream side: credentials (static or the AWS default chain, cached
//! and refreshed before expiry), endpoint resolution and the HTTP client.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::RwLock;

use crate::body::GatewayBody;
use crate::config::{LimitsConfig, UpstreamConfig};

/// Refresh temporary credentials this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// Why upstream credentials are unavailable.
#[derive(Debug, thiserror::Error)]
#[error("upstream credentials unavailable: {0}")]
pub struct CredentialsError(String);

impl CredentialsError {
    /// With this explanation.
    pub fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

/// Upstream credentials with a cache in front of the provider.
pub struct UpstreamCredentials {
    provider: SharedCredentialsProvider,
    cached: RwLock<Option<Credentials>>,
}

impl std::fmt::Debug for UpstreamCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamCredentials { .. }")
    }
}

impl UpstreamCredentials {
    /// Static credentials from the configuration, else the AWS default
    /// chain (environment, profile, web identity, container, IMDS).
    pub async fn from_config(config: &UpstreamConfig) -> Self {
        Self::from_provider(Self::base_provider(config).await)
    }

    /// A cache in front of `provider`.
    pub fn from_provider(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            cached: RwLock::new(None),
        }
    }

    /// The provider behind the cache.
    pub fn provider(&self) -> SharedCredentialsProvider {
        self.provider.clone()
    }

    async fn base_provider(config: &UpstreamConfig) -> SharedCredentialsProvider {
        match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => SharedCredentialsProvider::new(Credentials::new(
                id.clone(),
                secret.clone(),
                config.session_token.clone(),
                None,
                "countersign-config",
            )),
            _ => SharedCredentialsProvider::new(
                aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
                    .build()
                    .await,
            ),
        }
    }

    fn fresh(c: &Credentials) -> bool {
        c.expiry()
            .is_none_or(|exp| exp > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
    }

    /// Current credentials, refreshed when close to expiry.
    pub async fn get(&self) -> Result<Credentials, CredentialsError> {
        if let Some(c) = self.cached.read().await.as_ref() {
            if Self::fresh(c) {
                return Ok(c.clone());
            }
        }
        let mut slot = self.cached.write().await;
        if let Some(c) = slot.as_ref() {
            if Self::fresh(c) {
                return Ok(c.clone());
            }
        }
        let creds = self
            .provider
            .provide_credentials()
            .await
            // With its causes: the provider error alone says only "an error
            // occurred while loading credentials".
            .map_err(|e| {
                CredentialsError(aws_sdk_sts::error::DisplayErrorContext(&e).to_string())
            })?;
        *slot = Some(creds.clone());
        Ok(creds)
    }
}

/// Where a call goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host[:port]`.
    pub authority: String,
    /// Prepended to the client's path (path-style S3 behind an override).
    pub path_prefix: String,
}

/// Resolves targets for (service, region).
#[derive(Clone, Debug)]
pub struct EndpointResolver {
    override_base: Option<(&'static str, String)>,
}

impl EndpointResolver {
    /// From `upstream.endpoint_override`.
    pub fn new(config: &UpstreamConfig) -> Self {
        let override_base = config.endpoint_override.as_ref().and_then(|url| {
            let uri: http::Uri = url.parse().ok()?;
            let scheme = if uri.scheme_str() == Some("https") {
                "https"
            } else {
                "http"
            };
            Some((scheme, uri.authority()?.to_string()))
        });
        Self { override_base }
    }

    /// Whether `upstream.endpoint_override` sends every call to one place.
    pub fn has_override(&self) -> bool {
        self.override_base.is_some()
    }

    /// The endpoint for a call to `service` in `region`; `bucket` is set when
    /// the client used S3 virtual-host addressing.
    pub fn resolve(&self, service: &str, region: &str, bucket: Option<&str>) -> Endpoint {
        if let Some((scheme, authority)) = &self.override_base {
            return Endpoint {
                scheme,
                authority: authority.clone(),
                path_prefix: bucket.map(|b| format!("/{b}")).unwrap_or_default(),
            };
        }
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        let authority = match service {
            // Global services answer on one endpoint and sign in us-east-1.
            "iam" if region.starts_with("cn-") => format!("iam.cn-north-1.{suffix}"),
            "iam" | "route53" | "cloudfront" | "globalaccelerator" | "shield" => {
                format!("{service}.{suffix}")
            }
            "s3" => match bucket {
                Some(b) => format!("{b}.s3.{region}.{suffix}"),
                None => format!("s3.{region}.{suffix}"),
            },
            // Signing names whose endpoint prefix differs.
            "ses" => format!("email.{region}.{suffix}"),
            "mobiletargeting" => format!("pinpoint.{region}.{suffix}"),
            other => format!("{other}.{region}.{suffix}"),
        };
        Endpoint {
            scheme: "https",
            authority,
            path_prefix: String::new(),
        }
    }
}

/// The client that carries countersigned requests upstream.
pub type UpstreamClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, GatewayBody>;

/// Builds the upstream client: HTTP/1.1 and HTTP/2, TLS with the webpki
/// roots, connect timeout and pooled keep-alive.
pub fn build_client(limits: &LimitsConfig) -> UpstreamClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(limits.upstream_connect_timeout()));
    http.set_nodelay(true);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| unreachable!("ring supports the default protocol versions: {e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build(https)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_endpoints() {
        let r = EndpointResolver::new(&UpstreamConfig::default());
        assert_eq!(
            r.resolve("sts", "eu-west-1", None).authority,
            "sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            r.resolve("iam", "us-east-1", None).authority,
            "iam.amazonaws.com"
        );
        assert_eq!(
            r.resolve("s3", "us-west-2", None).authority,
            "s3.us-west-2.amazonaws.com"
        );
        assert_eq!(
            r.resolve("s3", "us-west-2", Some("bkt")).authority,
            "bkt.s3.us-west-2.amazonaws.com"
        );
        assert_eq!(
            r.resolve("dynamodb", "cn-north-1", None).authority,
            "dynamodb.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            r.resolve("ses", "us-east-1", None).authority,
            "email.us-east-1.amazonaws.com"
        );
    }

    #[test]
    fn override_sends_everything_to_one_place() {
        let r = EndpointResolver::new(&UpstreamConfig {
            endpoint_override: Some("http://127.0.0.1:5000".into()),
            ..UpstreamConfig::default()
        });
        let e = r.resolve("s3", "us-east-1", Some("bkt"));
        assert_eq!(
            (e.scheme, e.authority.as_str(), e.path_prefix.as_str()),
            ("http", "127.0.0.1:5000", "/bkt")
        );
    }
}
