//! The admin API on `server.admin_listen`: issue and revoke credentials,
//! request, approve, deny, revoke and list grants. JSON in and out.
//!
//! Every `/v1/` call needs `Authorization: Bearer <token>` with a token from
//! `[[admin_token]]`, or (with `server.admin_tls.client_ca`) a verified client
//! certificate whose subject alternative name an `[[admin_client]]` names.
//! Either acts as its principal (the requester, the approver); operators may
//! also act for other principals where noted. A presented token is always
//! the one checked: a wrong token is refused even on a certified connection.
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `GET /v1/whoami` | any | the token's principal |
//! | `GET /v1/roles` | any | roles and their rules |
//! | `POST /v1/credentials` `{principal?, ttl?, grants?}` | self; operator for others | issue credentials |
//! | `POST /v1/credentials/{access_key_id}/revoke` `{reason?}` | operator | revoke one credential |
//! | `POST /v1/principals/{name}/revoke-sessions` | operator | revoke every credential of a principal |
//! | `POST /v1/grants` `{role, duration, reason?, ticket?}` | any | request a role for oneself |
//! | `GET /v1/grants[?principal=&state=]` | own; approvers and operators see all | list |
//! | `GET /v1/grants/{id}` | holder, approvers, operators | one grant with its history |
//! | `POST /v1/grants/{id}/approve` `{comment?}` | the role's approver group | approve |
//! | `POST /v1/grants/{id}/deny` `{reason?}` | the role's approver group | deny |
//! | `POST /v1/grants/{id}/revoke` `{reason?}` | holder, approvers, operators | end now |

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use countersign_identity::grants::{self, Grant, GrantError, GrantRequest, GrantState};
use countersign_identity::store::{GrantFilter, RevokedCredential};
use countersign_identity::StoreError;

use crate::body::{full, GatewayBody};
use crate::config::{AdminClientConfig, AdminTokenConfig};
use crate::Gateway;

/// Largest admin request body, bytes.
const MAX_BODY: usize = 64 * 1024;

/// SHA-256 of a bearer token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Clone)]
struct AdminToken {
    digest: [u8; 32],
    principal: String,
    operator: bool,
}

/// The configured bearer tokens (as digests).
#[derive(Clone, Default)]
pub struct AdminTokens(Vec<AdminToken>);

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AdminTokens({} tokens)", self.0.len())
    }
}

impl AdminTokens {
    /// From validated configuration.
    pub fn from_config(tokens: &[AdminTokenConfig]) -> Self {
        Self(
            tokens
                .iter()
                .filter_map(|t| {
                    let digest = match (&t.token, &t.token_sha256) {
                        (Some(token), _) => token_digest(token),
                        (None, Some(hex_digest)) => {
                            let mut d = [0u8; 32];
                            hex::decode_to_slice(hex_digest, &mut d).ok()?;
                            d
                        }
                        (None, None) => return None,
                    };
                    Some(AdminToken {
                        digest,
                        principal: t.principal.clone(),
                        operator: t.operator,
                    })
                })
                .collect(),
        )
    }

    fn find(&self, presented: &str) -> Option<&AdminToken> {
        let digest = token_digest(presented);
        // Compare every digest without early exit, so timing says nothing
        // about which (if any) matched.
        let mut found = None;
        for t in &self.0 {
            let same = t
                .digest
                .iter()
                .zip(digest.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
            if same {
                found = Some(t);
            }
        }
        found
    }
}

/// Who calls the admin API: the principal a token or client certificate
/// acts as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminCaller {
    /// The principal.
    pub principal: String,
    /// Whether it may act for others.
    pub operator: bool,
}

/// What the admin listener knows about a connection before any request.
#[derive(Clone, Debug)]
pub struct AdminPeer {
    /// The client's address.
    pub addr: std::net::SocketAddr,
    /// The caller its client certificate stands for, if any.
    pub certified: Option<AdminCaller>,
    /// Whether it presented a (verified) client certificate at all.
    pub presented_certificate: bool,
}

/// The configured admin client certificates, by subject alternative name.
#[derive(Clone, Debug, Default)]
pub struct AdminClients(std::collections::HashMap<String, AdminCaller>);

impl AdminClients {
    /// From validated configuration.
    pub fn from_config(clients: &[AdminClientConfig]) -> Self {
        Self(
            clients
                .iter()
                .map(|c| {
                    (
                        c.san.clone(),
                        AdminCaller {
                            principal: c.principal.clone(),
                            operator: c.operator,
                        },
                    )
                })
                .collect(),
        )
    }

    /// Whether any client certificate is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The caller a client certificate (DER, already verified against
    /// `client_ca` by the TLS handshake) stands for: the `[[admin_client]]`
    /// one of its URI, DNS or e-mail subject alternative names names.
    /// `None` when none does, or when its names map to different callers
    /// (an ambiguous certificate authenticates nobody).
    pub fn identify(&self, cert_der: &[u8]) -> Option<AdminCaller> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
        let san = cert.subject_alternative_name().ok()??;
        let mut found: Option<&AdminCaller> = None;
        for name in &san.value.general_names {
            let text = match name {
                GeneralName::URI(s) | GeneralName::DNSName(s) | GeneralName::RFC822Name(s) => *s,
                _ => continue,
            };
            if let Some(caller) = self.0.get(text) {
                if found.is_some_and(|f| f != caller) {
                    tracing::warn!(
                        san = text,
                        "admin client certificate names two different admin clients; refused"
                    );
                    return None;
                }
                found = Some(caller);
            }
        }
        found.cloned()
    }
}

/// An admin API error: status, code, message.
struct ApiError(StatusCode, &'static str, String);

impl ApiError {
    fn bad(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, "InvalidRequest", message.into())
    }
    fn forbidden(message: impl Into<String>) -> Self {
        Self(StatusCode::FORBIDDEN, "AccessDenied", message.into())
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self(StatusCode::NOT_FOUND, "NotFound", message.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self(StatusCode::CONFLICT, "Conflict", e.to_string()),
            StoreError::Exists(_) => Self(StatusCode::CONFLICT, "Conflict", e.to_string()),
            StoreError::Backend(_) => {
                tracing::error!(error = %e, "identity store failed");
                Self(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "StoreUnavailable",
                    "the identity store is unavailable".into(),
                )
            }
        }
    }
}

impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        let status = match e {
            GrantError::SelfApproval(_)
            | GrantError::NotAnApprover { .. }
            | GrantError::NotARequester { .. }
            | GrantError::NotAllowedToRevoke { .. } => StatusCode::FORBIDDEN,
            GrantError::WrongState { .. } | GrantError::AlreadyApproved(_) => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        let code = match status {
            StatusCode::FORBIDDEN => "AccessDenied",
            StatusCode::CONFLICT => "Conflict",
            _ => "InvalidRequest",
        };
        Self(status, code, e.to_string())
    }
}

fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<GatewayBody> {
    let mut r = Response::new(full(Bytes::from(
        serde_json::to_vec_pretty(value).unwrap_or_default(),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn now() -> u64 {
    crate::audit::unix_now()
}

/// Whether `path` belongs to the admin API.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/v1/")
}

/// Answers one admin API request.
pub async fn handle<B>(
    gateway: &Gateway,
    req: Request<B>,
    peer: &AdminPeer,
) -> Response<GatewayBody>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match handle_inner(gateway, req, peer).await {
        Ok((status, value)) => json_response(status, &value),
        Err(ApiError(status, code, message)) => json_response(
            status,
            &json!({"error": {"code": code, "message": message}}),
        ),
    }
}

async fn read_json<T: for<'de> Deserialize<'de>, B>(body: B) -> Result<T, ApiError>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| ApiError::bad(format!("request body: {e}")))?
        .to_bytes();
    let bytes = if bytes.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        bytes
    };
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad(format!("request body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    principal: Option<String>,
    ttl: Option<String>,
    grants: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequestBody {
    role: String,
    duration: String,
    reason: Option<String>,
    ticket: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    comment: Option<String>,
    reason: Option<String>,
}

fn grant_json(g: &Grant, at: u64) -> serde_json::Value {
    let mut v = serde_json::to_value(g).unwrap_or_default();
    v["state"] = json!(g.state_at(at).as_str());
    v["requested"] = json!(crate::audit::rfc3339_secs(g.requested_at));
    v["starts"] = json!(g.starts_at.map(crate::audit::rfc3339_secs));
    v["ends"] = json!(g.ends_at.map(crate::audit::rfc3339_secs));
    v
}

fn may_see(gateway: &Gateway, actor: &AdminCaller, grant: &Grant) -> bool {
    actor.operator || actor.principal == grant.principal || {
        let directory = gateway.identity.directory();
        directory
            .role(&grant.role)
            .is_some_and(|r| directory.approves(&actor.principal, r))
    }
}

async fn after_write(gateway: &Gateway) {
    // Answer only once this replica enforces the change.
    if let Err(e) = crate::identity::refresh(gateway).await {
        tracing::warn!(error = %e, "reloading grants after a change failed");
    }
}

/// Records a refused admin call (audit event, metric, log) and answers 401.
/// The presented token itself is never recorded.
fn unauthenticated<B>(
    gateway: &Gateway,
    req: &Request<B>,
    peer: &AdminPeer,
    reason: &'static str,
) -> ApiError {
    gateway
        .metrics
        .admin_auth_failures
        .with_label_values(&[reason])
        .inc();
    tracing::warn!(client = %peer.addr, reason, path = req.uri().path(), "admin API call refused: not authenticated");
    gateway.audit.write_event(&json!({
        "time": crate::audit::rfc3339_secs(now()),
        "event": "admin_unauthenticated",
        "reason": reason,
        "client": peer.addr.to_string(),
        "method": req.method().as_str(),
        "path": req.uri().path(),
    }));
    let message = match reason {
        "unknown_token" => "unknown admin token",
        "unknown_certificate" => {
            "the client certificate is not an [[admin_client]], and no admin token was given"
        }
        _ => "an admin token (Authorization: Bearer <token>) or a client certificate named by an [[admin_client]] is required",
    };
    ApiError(StatusCode::UNAUTHORIZED, "Unauthorized", message.into())
}

async fn handle_inner<B>(
    gateway: &Gateway,
    req: Request<B>,
    peer: &AdminPeer,
) -> Result<(StatusCode, serde_json::Value), ApiError>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let presented = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let actor = match (presented, &peer.certified) {
        (Some(presented), _) => match gateway.admin_tokens.find(presented) {
            Some(token) => AdminCaller {
                principal: token.principal.clone(),
                operator: token.operator,
            },
            None => return Err(unauthenticated(gateway, &req, peer, "unknown_token")),
        },
        (None, Some(caller)) => caller.clone(),
        (None, None) if peer.presented_certificate => {
            return Err(unauthenticated(gateway, &req, peer, "unknown_certificate"))
        }
        (None, None) => return Err(unauthenticated(gateway, &req, peer, "no_credentials")),
    };
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    Some((percent_decode(k)?, percent_decode(v)?))
                })
                .collect()
        })
        .unwrap_or_default();
    let directory = gateway.identity.directory().clone();
    let now = now();
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["v1", "whoami"]) => Ok((
            StatusCode::OK,
            json!({"principal": actor.principal, "operator": actor.operator}),
        )),
        (&Method::GET, ["v1", "roles"]) => {
            let roles: Vec<_> = directory
                .roles()
                .into_iter()
                .map(|r| {
                    let approval = match &r.approval {
                        countersign_identity::directory::Approval::Automatic => json!("automatic"),
                        countersign_identity::directory::Approval::Approvers { count, group } => {
                            json!({"approvals": count, "group": group})
                        }
                    };
                    json!({
                        "name": r.name,
                        "policies": r.policies.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                        "requesters": r.requesters,
                        "max_duration_secs": r.max_duration_secs,
                        "approval": approval,
                        "require_reason": r.require_reason,
                        "require_ticket": r.require_ticket,
                        "may_request": directory.may_request(&actor.principal, r),
                    })
                })
                .collect();
            Ok((StatusCode::OK, json!({ "roles": roles })))
        }
        (&Method::POST, ["v1", "credentials"]) => {
            let body: IssueBody = read_json(body).await?;
            let principal = body.principal.unwrap_or_else(|| actor.principal.clone());
            if principal != actor.principal && !actor.operator {
                return Err(ApiError::forbidden(format!(
                    "{} may issue credentials only for itself",
                    actor.principal
                )));
            }
            let ttl = body
                .ttl
                .as_deref()
                .map(|t| {
                    countersign_identity::parse_duration(t)
                        .ok_or_else(|| ApiError::bad(format!("ttl {t:?}: use e.g. 15m or 1h")))
                })
                .transpose()?;
            let issued = gateway
                .identity
                .issue(&principal, body.grants.as_deref(), ttl, now)
                .map_err(|e| ApiError::bad(e.to_string()))?;
            gateway
                .metrics
                .credential_events
                .with_label_values(&["issued"])
                .inc();
            gateway.audit.write_event(&json!({
                "time": crate::audit::rfc3339_secs(now),
                "event": "credentials_issued",
                "principal": principal,
                "actor": actor.principal,
                "access_key_id": issued.access_key_id,
                "expires_at": crate::audit::rfc3339_secs(issued.expires_at),
            }));
            let grants = gateway
                .identity
                .session(&issued.access_key_id, Some(&issued.session_token), now)
                .map(|s| s.claims.grants.clone())
                .unwrap_or_default();
            Ok((
                StatusCode::OK,
                json!({
                    "Version": 1,
                    "AccessKeyId": issued.access_key_id,
                    "SecretAccessKey": issued.secret_access_key,
                    "SessionToken": issued.session_token,
                    "Expiration": crate::audit::rfc3339_secs(issued.expires_at),
                    "Principal": principal,
                    "Grants": grants,
                }),
            ))
        }
        (&Method::POST, ["v1", "credentials", access_key_id, "revoke"]) => {
            if !actor.operator {
                return Err(ApiError::forbidden("only operators revoke credentials"));
            }
            if !countersign_identity::credentials::is_issued(access_key_id)
                || countersign_identity::credentials::key_id_of(access_key_id).is_none()
            {
                return Err(ApiError::bad(format!(
                    "{access_key_id} is not an access key id issued by Countersign"
                )));
            }
            let body: NoteBody = read_json(body).await?;
            let revoked = RevokedCredential {
                access_key_id: (*access_key_id).to_owned(),
                actor: actor.principal.clone(),
                revoked_at: now,
                // The key id does not say when it expires; keep the row
                // as long as any credential can live.
                expires_at: now + gateway.identity.options().max_ttl_secs,
                reason: body.reason.or(body.comment),
            };
            gateway.store.revoke_credential(&revoked).await?;
            after_write(gateway).await;
            gateway
                .metrics
                .credential_events
                .with_label_values(&["revoked"])
                .inc();
            gateway.audit.write_event(&json!({
                "time": crate::audit::rfc3339_secs(now),
                "event": "credentials_revoked",
                "access_key_id": access_key_id,
                "actor": actor.principal,
                "reason": revoked.reason,
            }));
            Ok((StatusCode::OK, json!({"revoked": access_key_id})))
        }
        (&Method::POST, ["v1", "principals", name, "revoke-sessions"]) => {
            if !actor.operator {
                return Err(ApiError::forbidden(
                    "only operators revoke a principal's sessions",
                ));
            }
            if directory.principal(name).is_none() {
                return Err(ApiError::not_found(format!("no principal {name:?}")));
            }
            let epoch = gateway.store.bump_principal_epoch(name).await?;
            after_write(gateway).await;
            gateway
                .metrics
                .credential_events
                .with_label_values(&["sessions_revoked"])
                .inc();
            gateway.audit.write_event(&json!({
                "time": crate::audit::rfc3339_secs(now),
                "event": "sessions_revoked",
                "principal": name,
                "actor": actor.principal,
                "epoch": epoch,
            }));
            Ok((StatusCode::OK, json!({"principal": name, "epoch": epoch})))
        }
        (&Method::POST, ["v1", "grants"]) => {
            let body: GrantRequestBody = read_json(body).await?;
            let duration_secs =
                countersign_identity::parse_duration(&body.duration).ok_or_else(|| {
                    ApiError::bad(format!("duration {:?}: use e.g. 30m or 2h", body.duration))
                })?;
            let grant = grants::request(
                &directory,
                &GrantRequest {
                    principal: &actor.principal,
                    role: &body.role,
                    duration_secs,
                    reason: body.reason.as_deref(),
                    ticket: body.ticket.as_deref(),
                },
                countersign_identity::store::new_grant_id(),
                now,
            )?;
            gateway.store.insert_grant(&grant).await?;
            after_write(gateway).await;
            crate::identity::audit_transition(gateway, None, &grant);
            Ok((StatusCode::CREATED, grant_json(&grant, now)))
        }
        (&Method::GET, ["v1", "grants"]) => {
            let mut filter = GrantFilter {
                limit: 500,
                ..GrantFilter::default()
            };
            for (k, v) in &query {
                match k.as_str() {
                    "principal" => filter.principal = Some(v.clone()),
                    "state" => filter.states.push(GrantState::parse(v).ok_or_else(|| {
                        ApiError::bad(format!("state {v:?} is not a grant state"))
                    })?),
                    _ => return Err(ApiError::bad(format!("unknown query parameter {k:?}"))),
                }
            }
            let approves_something = directory
                .roles()
                .iter()
                .any(|r| directory.approves(&actor.principal, r));
            if !actor.operator && !approves_something {
                // They can only see their own: ask the store for just those.
                match &filter.principal {
                    Some(p) if *p != actor.principal => {
                        return Ok((StatusCode::OK, json!({ "grants": [] })))
                    }
                    _ => filter.principal = Some(actor.principal.clone()),
                }
            }
            let listed = gateway.store.grants(&filter).await?;
            let visible: Vec<_> = listed
                .iter()
                .filter(|g| may_see(gateway, &actor, g))
                .map(|g| grant_json(g, now))
                .collect();
            Ok((StatusCode::OK, json!({ "grants": visible })))
        }
        (&Method::GET, ["v1", "grants", id]) => {
            let grant = gateway
                .store
                .grant(id)
                .await?
                .filter(|g| may_see(gateway, &actor, g))
                .ok_or_else(|| ApiError::not_found(format!("no grant {id}")))?;
            Ok((StatusCode::OK, grant_json(&grant, now)))
        }
        (&Method::POST, ["v1", "grants", id, action @ ("approve" | "deny" | "revoke")]) => {
            let body: NoteBody = read_json(body).await?;
            let note = body.comment.as_deref().or(body.reason.as_deref());
            let current = gateway
                .store
                .grant(id)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("no grant {id}")))?;
            let mut next = match *action {
                "approve" => grants::approve(&directory, &current, &actor.principal, note, now)?,
                "deny" => grants::deny(&directory, &current, &actor.principal, note, now)?,
                _ => grants::revoke(
                    &directory,
                    &current,
                    &actor.principal,
                    actor.operator,
                    note,
                    now,
                )?,
            };
            next.version = current.version + 1;
            gateway.store.update_grant(&next).await?;
            after_write(gateway).await;
            crate::identity::audit_transition(gateway, Some(&current), &next);
            Ok((StatusCode::OK, grant_json(&next, now)))
        }
        _ => Err(ApiError::not_found(format!(
            "no admin API route {} {path}",
            parts.method
        ))),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(names: &[rcgen::SanType]) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = names.to_vec();
        params.self_signed(&key).expect("cert").der().to_vec()
    }

    fn uri(s: &str) -> rcgen::SanType {
        rcgen::SanType::URI(s.try_into().expect("ia5"))
    }

    fn dns(s: &str) -> rcgen::SanType {
        rcgen::SanType::DnsName(s.try_into().expect("ia5"))
    }

    fn clients() -> AdminClients {
        AdminClients::from_config(&[
            AdminClientConfig {
                principal: "alice".into(),
                san: "spiffe://example.org/ops/alice".into(),
                operator: false,
            },
            AdminClientConfig {
                principal: "root".into(),
                san: "root.ops.example.org".into(),
                operator: true,
            },
        ])
    }

    #[test]
    fn a_certificate_is_the_admin_client_one_of_its_names_names() {
        let c = clients();
        let alice = c.identify(&cert_with(&[
            dns("laptop.example.org"),
            uri("spiffe://example.org/ops/alice"),
        ]));
        assert_eq!(
            alice,
            Some(AdminCaller {
                principal: "alice".into(),
                operator: false
            })
        );
        let root = c.identify(&cert_with(&[dns("root.ops.example.org")]));
        assert!(root.is_some_and(|r| r.principal == "root" && r.operator));
    }

    #[test]
    fn unnamed_ambiguous_or_garbled_certificates_are_nobody() {
        let c = clients();
        assert_eq!(c.identify(&cert_with(&[])), None);
        // Names compare exactly: no prefix, case or wildcard matching.
        for name in [
            uri("spiffe://example.org/ops/alice/extra"),
            uri("SPIFFE://example.org/ops/alice"),
            dns("*.ops.example.org"),
            dns("ops.example.org"),
        ] {
            assert_eq!(c.identify(&cert_with(&[name])), None);
        }
        let both = cert_with(&[
            uri("spiffe://example.org/ops/alice"),
            dns("root.ops.example.org"),
        ]);
        assert_eq!(c.identify(&both), None, "two callers: refused");
        let mut der = cert_with(&[uri("spiffe://example.org/ops/alice")]);
        der.truncate(der.len() / 2);
        assert_eq!(c.identify(&der), None);
        assert_eq!(c.identify(b"not a certificate"), None);
    }
}
