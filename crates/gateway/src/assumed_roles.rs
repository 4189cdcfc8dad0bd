//! Upstream credentials per just-in-time role: a call allowed through a
//! grant of a role with `upstream_role_arn` is re-signed as that IAM role,
//! assumed with STS `AssumeRole` by the gateway's own upstream identity,
//! with the caller as `SourceIdentity` (it then appears in CloudTrail for
//! every call made with the session and survives role chaining) and in the
//! session name. Even a flaw in the gateway's own policy evaluation then
//! cannot reach past what the role allows in AWS.
//!
//! Sessions are kept per (role, principal) and refreshed five minutes
//! before they expire, like the base credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{
    self, error::CredentialsError as ProviderError, future, ProvideCredentials,
    SharedCredentialsProvider,
};
use aws_credential_types::Credentials;

use crate::config::Config;
use crate::upstream::{CredentialsError, UpstreamCredentials};

/// Lifetime asked of STS for each role session.
const SESSION_SECS: i32 = 3600;
/// Longest wait for one AssumeRole call.
const STS_TIMEOUT: Duration = Duration::from_secs(10);

/// (IAM role ARN, principal) → that principal's session of the role.
type Sessions = HashMap<(Arc<str>, Arc<str>), Arc<UpstreamCredentials>>;

/// The upstream IAM roles of just-in-time roles, and their live sessions.
pub struct AssumedRoles {
    /// Countersign role name → IAM role ARN.
    arns: HashMap<String, Arc<str>>,
    sts: Option<aws_sdk_sts::Client>,
    sessions: Mutex<Sessions>,
}

impl std::fmt::Debug for AssumedRoles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumedRoles")
            .field("roles", &self.arns.len())
            .finish_non_exhaustive()
    }
}

impl AssumedRoles {
    /// From the `[[role]]` entries; `base` signs the AssumeRole calls.
    pub fn new(config: &Config, base: SharedCredentialsProvider) -> Self {
        let arns: HashMap<String, Arc<str>> = config
            .roles
            .iter()
            .filter_map(|r| Some((r.name.clone(), Arc::from(r.upstream_role_arn.as_deref()?))))
            .collect();
        let sts = (!arns.is_empty()).then(|| {
            let mut builder = aws_sdk_sts::Config::builder()
                .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
                .region(aws_sdk_sts::config::Region::new(
                    config
                        .upstream
                        .sts_region
                        .clone()
                        .unwrap_or_else(|| "us-east-1".to_owned()),
                ))
                .credentials_provider(base)
                .timeout_config(
                    aws_sdk_sts::config::timeout::TimeoutConfig::builder()
                        .operation_timeout(STS_TIMEOUT)
                        .build(),
                );
            if let Some(url) = &config.upstream.endpoint_override {
                builder = builder.endpoint_url(url.trim_end_matches('/'));
            }
            aws_sdk_sts::Client::from_conf(builder.build())
        });
        Self {
            arns,
            sts,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Whether no role names an IAM role (the common case: then nothing on
    /// the hot path looks further).
    pub fn is_empty(&self) -> bool {
        self.arns.is_empty()
    }

    /// The IAM role a Countersign role is re-signed as, if it has one.
    pub fn arn_of(&self, role: &str) -> Option<&Arc<str>> {
        self.arns.get(role)
    }

    /// Credentials of `role_arn` assumed for `principal`, from the cache or
    /// STS.
    pub async fn credentials(
        &self,
        role_arn: &Arc<str>,
        principal: &str,
    ) -> Result<Credentials, CredentialsError> {
        let Some(sts) = &self.sts else {
            return Err(CredentialsError::new("no upstream role is configured"));
        };
        let session = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            sessions
                .entry((role_arn.clone(), Arc::from(principal)))
                .or_insert_with(|| {
                    Arc::new(UpstreamCredentials::from_provider(
                        SharedCredentialsProvider::new(RoleSession {
                            sts: sts.clone(),
                            role_arn: role_arn.to_string(),
                            session_name: session_name(principal),
                            source_identity: source_identity(principal),
                        }),
                    ))
                })
                .clone()
        };
        session.get().await
    }
}

/// STS allows `[\w+=,.@-]` in session names and source identities.
fn sts_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `countersign-<principal>`, at most 64 characters.
fn session_name(principal: &str) -> String {
    let mut name = format!("countersign-{}", sts_safe(principal));
    name.truncate(64);
    name
}

/// The principal, 2 to 64 characters.
fn source_identity(principal: &str) -> String {
    let mut id = sts_safe(principal);
    id.truncate(64);
    while id.len() < 2 {
        id.push('-');
    }
    id
}

/// One role assumed for one principal.
#[derive(Debug)]
struct RoleSession {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    source_identity: String,
}

impl RoleSession {
    async fn assume(&self) -> provider::Result {
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .source_identity(&self.source_identity)
            .duration_seconds(SESSION_SECS)
            .send()
            .await
            .map_err(|e| {
                ProviderError::provider_error(format!(
                    "AssumeRole {}: {}",
                    self.role_arn,
                    aws_sdk_sts::error::DisplayErrorContext(e)
                ))
            })?;
        let c = out.credentials.ok_or_else(|| {
            ProviderError::provider_error(format!("AssumeRole {}: no credentials", self.role_arn))
        })?;
        let expires = SystemTime::try_from(c.expiration).map_err(|e| {
            ProviderError::provider_error(format!("AssumeRole {}: expiration: {e}", self.role_arn))
        })?;
        tracing::info!(role = %self.role_arn, session = %self.session_name, "assumed upstream role");
        Ok(Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            Some(expires),
            "countersign-assume-role",
        ))
    }
}

impl ProvideCredentials for RoleSession {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A stand-in STS on loopback: answers every AssumeRole with the same
    /// credentials, and keeps the form bodies it was sent.
    async fn fake_sts(expiration: String) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        let xml: Arc<str> = format!(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
             <AssumedRoleUser><AssumedRoleId>AROATEST:countersign-alice</AssumedRoleId>\
             <Arn>arn:aws:sts::123456789012:assumed-role/writer/countersign-alice</Arn></AssumedRoleUser>\
             <Credentials><AccessKeyId>ASIAFAKESTS</AccessKeyId><SecretAccessKey>fake-secret</SecretAccessKey>\
             <SessionToken>fake-token</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
             </AssumeRoleResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></AssumeRoleResponse>"
        )
        .into();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, xml) = (seen.clone(), xml.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let (seen, xml) = (seen.clone(), xml.clone());
                            async move {
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                seen.lock()
                                    .unwrap()
                                    .push(String::from_utf8_lossy(&body).into_owned());
                                Ok::<_, std::convert::Infallible>(http::Response::new(
                                    http_body_util::Full::new(bytes::Bytes::from(xml.to_string())),
                                ))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (url, bodies)
    }

    fn config(sts_url: &str) -> Config {
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
[upstream]
endpoint_override = "{sts_url}"
access_key_id = "AKIAUPSTREAM"
secret_access_key = "upstream-secret"
[[principal]]
name = "alice"
policies = []
[[role]]
name = "writer"
policies = ["p"]
requesters = ["alice"]
max_duration = "1h"
upstream_role_arn = "arn:aws:iam::123456789012:role/writer"
[[role]]
name = "plain"
policies = ["p"]
requesters = ["alice"]
max_duration = "1h"
[policy.p]
document = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}}]}}'''
"#
        );
        Config::from_toml(&text, std::path::Path::new(".")).expect("valid")
    }

    fn roles(config: &Config) -> AssumedRoles {
        let base = SharedCredentialsProvider::new(Credentials::new(
            "AKIAUPSTREAM",
            "upstream-secret",
            None,
            None,
            "test",
        ));
        AssumedRoles::new(config, base)
    }

    #[tokio::test]
    async fn a_role_is_assumed_once_per_principal_with_its_source_identity() {
        let (url, bodies) = fake_sts("2099-01-01T00:00:00Z".into()).await;
        let roles = roles(&config(&url));
        assert!(roles.arn_of("plain").is_none());
        let arn = roles.arn_of("writer").expect("configured").clone();
        assert_eq!(&*arn, "arn:aws:iam::123456789012:role/writer");
        for _ in 0..3 {
            let c = roles.credentials(&arn, "alice").await.expect("assumed");
            assert_eq!(c.access_key_id(), "ASIAFAKESTS");
            assert_eq!(c.session_token(), Some("fake-token"));
        }
        roles.credentials(&arn, "bob").await.expect("assumed");
        let bodies = bodies.lock().unwrap().clone();
        assert_eq!(bodies.len(), 2, "one call per principal: {bodies:?}");
        for part in [
            "Action=AssumeRole",
            "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fwriter",
            "RoleSessionName=countersign-alice",
            "SourceIdentity=alice",
            "DurationSeconds=3600",
        ] {
            assert!(
                bodies[0].split('&').any(|p| p == part),
                "{part}: {}",
                bodies[0]
            );
        }
        assert!(
            bodies[1].split('&').any(|p| p == "SourceIdentity=bob"),
            "{}",
            bodies[1]
        );
    }

    #[tokio::test]
    async fn a_session_close_to_expiry_is_assumed_again() {
        // Two minutes left: inside the five-minute refresh margin.
        let soon =
            aws_sdk_sts::primitives::DateTime::from(SystemTime::now() + Duration::from_secs(120))
                .fmt(aws_sdk_sts::primitives::DateTimeFormat::DateTime)
                .unwrap();
        let (url, bodies) = fake_sts(soon).await;
        let roles = roles(&config(&url));
        let arn = roles.arn_of("writer").unwrap().clone();
        roles.credentials(&arn, "alice").await.unwrap();
        roles.credentials(&arn, "alice").await.unwrap();
        assert_eq!(bodies.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_sts_is_an_error_naming_the_role() {
        let roles = roles(&config("http://127.0.0.1:1"));
        let arn = roles.arn_of("writer").unwrap().clone();
        let e = roles
            .credentials(&arn, "alice")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("arn:aws:iam::123456789012:role/writer"), "{e}");
        assert!(!e.contains("upstream-secret"), "{e}");
    }

    #[test]
    fn session_names_and_source_identities_fit_sts_rules() {
        assert_eq!(session_name("alice"), "countersign-alice");
        assert_eq!(source_identity("alice"), "alice");
        assert_eq!(source_identity("ci bot/é"), "ci-bot--");
        assert_eq!(source_identity("a"), "a-");
        let long = "x".repeat(100);
        assert_eq!(session_name(&long).len(), 64);
        assert_eq!(source_identity(&long).len(), 64);
        assert_eq!(source_identity("svc@example.com"), "svc@example.com");
    }
}
