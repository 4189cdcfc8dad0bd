//! The pipeline stages before forwarding: audit, authenticate, authorize.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::Service;

use countersign_sigv4::{AuthKind, PayloadHash, RequestView};

use crate::audit::{AuditRecord, AuditedBody, Decision, SharedRecord};
use crate::body::{collect_limited, full, CollectError, MeteredBody};
use crate::error::{ErrorShape, GatewayError};
use crate::pipeline::{BoxFuture, Next, PipelineRequest, PipelineResponse, Stage};
use crate::{ClientInfo, Gateway};

/// What authentication established, for the later stages.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The principal the access key belongs to.
    pub principal: Arc<crate::Principal>,
    /// The issued session (issued credentials only; static keys have none).
    pub session: Option<Arc<countersign_identity::Session>>,
    /// The access key id used.
    pub access_key_id: String,
    /// Signing service from the verified scope.
    pub service: String,
    /// Region from the verified scope.
    pub region: String,
    /// Lower-case names of the headers the client signed.
    pub signed_headers: Vec<String>,
    /// The payload-hash claim the client's signature covers.
    pub payload: PayloadHash,
    /// Whether the claim came in `x-amz-content-sha256` (else it was computed).
    pub payload_claim_header: bool,
    /// Header or presigned query authentication.
    pub kind: AuthKind,
}

/// Answers an error in the client's protocol and records it.
pub(crate) fn reject(
    req_parts: &RejectContext<'_>,
    error: GatewayError,
    decision: Decision,
) -> PipelineResponse {
    if let Some(record) = req_parts.record {
        let mut r = record.lock().unwrap_or_else(|p| p.into_inner());
        r.decision = decision;
        r.error_code = Some(error.code);
        if r.reason.is_empty() {
            r.reason = error.message.clone();
        }
    }
    error.into_response(req_parts.shape, req_parts.request_id)
}

/// What [`reject`] needs from the request.
pub(crate) struct RejectContext<'a> {
    pub(crate) record: Option<&'a SharedRecord>,
    pub(crate) shape: ErrorShape,
    pub(crate) request_id: &'a str,
}

/// Continues the pipeline (every service in it is infallible).
pub(crate) async fn call_next(mut next: Next, req: PipelineRequest) -> PipelineResponse {
    match next.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// What authentication established, or the fail-closed answer when a stage
/// runs without it (a pipeline-order bug, never a client's doing).
pub(crate) fn authenticated_or_fail(
    req: &PipelineRequest,
    record: Option<&SharedRecord>,
    request_id: &str,
) -> Result<Authenticated, Box<PipelineResponse>> {
    req.extensions()
        .get::<Authenticated>()
        .cloned()
        .ok_or_else(|| {
            let ctx = RejectContext {
                record,
                shape: ErrorShape::RestXml,
                request_id,
            };
            let e = GatewayError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "a pipeline stage ran before authentication",
            );
            Box::new(reject(&ctx, e, Decision::Rejected))
        })
}

/// The request id and shared audit record of a request.
pub(crate) fn request_meta(req: &PipelineRequest) -> (Option<SharedRecord>, String) {
    let record = req.extensions().get::<SharedRecord>().cloned();
    let id = record
        .as_ref()
        .map(|r| {
            r.lock()
                .unwrap_or_else(|p| p.into_inner())
                .request_id
                .clone()
        })
        .unwrap_or_default();
    (record, id)
}

/// The service a request claims before it is verified (for the error shape only).
pub(crate) fn claimed_service(req: &PipelineRequest) -> Option<String> {
    let from_credential = |c: &str| c.split(['/']).nth(3).map(str::to_owned);
    if let Some(auth) = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let cred = auth.split("Credential=").nth(1)?;
        return from_credential(cred.split([',', ' ']).next()?);
    }
    let query = req.uri().query()?;
    let cred = query
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Credential="))?;
    from_credential(&cred.replace("%2F", "/").replace("%2f", "/"))
}

/// Outermost stage: assigns the request id, creates the audit record and
/// makes the response body write the audit event when it ends.
pub struct Audit(pub Arc<Gateway>);

impl Stage for Audit {
    fn call(self: Arc<Self>, mut req: PipelineRequest, next: Next) -> BoxFuture<PipelineResponse> {
        Box::pin(async move {
            let request_id = crate::audit::next_request_id();
            let client = req
                .extensions()
                .get::<ClientInfo>()
                .map(|c| c.addr.to_string())
                .unwrap_or_default();
            let record: SharedRecord = Arc::new(Mutex::new(AuditRecord::new(
                request_id.clone(),
                client,
                req.method().to_string(),
            )));
            req.extensions_mut().insert(record.clone());
            let response = call_next(next, req).await;
            let (mut parts, body) = response.into_parts();
            record.lock().unwrap_or_else(|p| p.into_inner()).status = parts.status.as_u16();
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                parts.headers.insert("x-countersign-request-id", v);
            }
            let body = AuditedBody::new(body, record, self.0.audit.clone());
            PipelineResponse::from_parts(parts, body.boxed_unsync())
        })
    }
}

/// The IAM role an allowed call is re-signed as (request extension, set by
/// [`Authorize`], read by the forwarding stage).
#[derive(Clone, Debug)]
pub struct UpstreamRole(pub Arc<str>);

/// The IAM role of the role `grant` grants, if it has one.
fn upstream_role_of(gw: &Gateway, grant: &str) -> Option<Arc<str>> {
    if gw.assumed_roles.is_empty() {
        return None;
    }
    let snapshot = gw.identity.snapshot();
    let role = &snapshot.active_grants.get(grant)?.role;
    gw.assumed_roles.arn_of(role).cloned()
}

/// Verifies the client's SigV4 signature with its gateway credentials.
pub struct Authenticate(pub Arc<Gateway>);

impl Stage for Authenticate {
    fn call(self: Arc<Self>, req: PipelineRequest, next: Next) -> BoxFuture<PipelineResponse> {
        Box::pin(async move {
            let gw = &self.0;
            let started = Instant::now();
            let (record, request_id) = request_meta(&req);
            let claimed = claimed_service(&req);
            let shape = ErrorShape::infer(claimed.as_deref(), req.headers());
            let ctx = RejectContext {
                record: record.as_ref(),
                shape,
                request_id: &request_id,
            };
            let bytes_in = record
                .as_ref()
                .map(|r| {
                    r.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .bytes_in_counter
                        .clone()
                })
                .unwrap_or_else(|| Arc::new(AtomicU64::new(0)));

            let (parts, mut body) = req.into_parts();
            let headers: Vec<(&str, &[u8])> = parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes()))
                .collect();
            let mut view = RequestView {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers: &headers,
                authority: parts.uri.authority().map(|a| a.as_str()),
                body_sha256: None,
            };
            let mut buffered = false;
            if gw.verifier.needs_body_hash(&view) {
                match collect_limited(body, gw.limits.max_buffered_body_bytes).await {
                    Ok(bytes) => {
                        bytes_in
                            .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        view.body_sha256 = Some(Sha256::digest(&bytes).into());
                        body = full(bytes);
                        buffered = true;
                    }
                    Err(CollectError::TooLarge) => {
                        let e = GatewayError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "RequestEntityTooLarge",
                            format!(
                                "a request without x-amz-content-sha256 is buffered to verify it; the limit is {} bytes",
                                gw.limits.max_buffered_body_bytes
                            ),
                        );
                        return reject(&ctx, e, Decision::Rejected);
                    }
                    Err(CollectError::Read(e)) => {
                        let e = GatewayError::new(
                            StatusCode::BAD_REQUEST,
                            "IncompleteBody",
                            format!("{e}"),
                        );
                        return reject(&ctx, e, Decision::Rejected);
                    }
                }
            }
            let now = SystemTime::now();
            let credentials = crate::identity::Credentials::new(gw, now);
            let verified = gw.verifier.verify(&view, now, &credentials);
            gw.metrics
                .phase
                .verify
                .observe(started.elapsed().as_secs_f64());
            let authenticated = match verified {
                Ok(v) => {
                    let caller = v.credential.caller();
                    Authenticated {
                        principal: caller.principal,
                        session: caller.session,
                        access_key_id: v.access_key_id.to_owned(),
                        service: v.scope.service.to_owned(),
                        region: v.scope.region.to_owned(),
                        signed_headers: v.signed_headers.iter().map(str::to_owned).collect(),
                        payload: v.payload,
                        payload_claim_header: parts.headers.contains_key("x-amz-content-sha256"),
                        kind: v.kind,
                    }
                }
                Err(e) => {
                    tracing::info!(request_id = %request_id, code = e.code.as_str(), rule = ?e.rule, "authentication failed");
                    if let Some(r) = &record {
                        r.lock().unwrap_or_else(|p| p.into_inner()).reason =
                            format!("{:?}: {}", e.rule, e.rule);
                    }
                    let status =
                        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::FORBIDDEN);
                    let error = GatewayError::new(status, e.code.as_str(), e.rule.message());
                    return reject(&ctx, error, Decision::Unauthenticated);
                }
            };
            drop(headers);
            if authenticated.session.is_some() {
                if let Some(age) = gw.identity_freshness.stale_for(crate::audit::unix_now()) {
                    // Fail closed: a revocation may be waiting in a store
                    // this replica cannot read.
                    tracing::warn!(request_id = %request_id, stale_secs = age, "refusing issued credentials: grants and revocations are stale");
                    let e = GatewayError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "ServiceUnavailable",
                        format!("grants and revocations could not be confirmed for {age} s; issued credentials are refused until the identity store answers"),
                    );
                    return reject(&ctx, e, Decision::Rejected);
                }
            }
            if let Some(r) = &record {
                let mut r = r.lock().unwrap_or_else(|p| p.into_inner());
                r.principal = Some(authenticated.principal.name.to_string());
                r.access_key_id = Some(authenticated.access_key_id.clone());
                r.service = Some(authenticated.service.clone());
                r.region = Some(authenticated.region.clone());
            }
            let body = match authenticated.payload {
                _ if buffered => body,
                PayloadHash::Sha256(expected) => {
                    MeteredBody::hash_checked(body, expected, bytes_in).boxed_unsync()
                }
                PayloadHash::Unsigned | PayloadHash::StreamingUnsignedTrailer => {
                    MeteredBody::counting(body, bytes_in).boxed_unsync()
                }
                PayloadHash::StreamingSigned
                | PayloadHash::StreamingSignedTrailer
                | PayloadHash::StreamingEcdsa
                | PayloadHash::StreamingEcdsaTrailer => {
                    let e = GatewayError::new(
                        StatusCode::NOT_IMPLEMENTED,
                        "NotImplemented",
                        "signed aws-chunked payloads (STREAMING-AWS4-*) are not supported yet; \
                         use UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a payload hash",
                    );
                    return reject(&ctx, e, Decision::Rejected);
                }
            };
            let mut req = PipelineRequest::from_parts(parts, body);
            req.extensions_mut().insert(authenticated);
            call_next(next, req).await
        })
    }
}

/// The most body the classifier reads; a call whose classification needs
/// more is denied (fail closed) rather than judged on part of its body.
pub const CLASSIFY_BODY_LIMIT: usize = 256 * 1024;

/// What the service catalog made of a call.
#[derive(Clone, Debug)]
pub enum Classified {
    /// A known operation.
    Known {
        /// botocore service name.
        service: String,
        /// Operation name.
        operation: String,
        /// (IAM action, resource ARNs) the call needs; all must be allowed.
        actions: Vec<(String, Vec<String>)>,
        /// Service condition keys from the request.
        condition_keys: Vec<(String, String)>,
        /// Members were read from a body prefix only.
        partial: bool,
    },
    /// Not an operation the catalog knows.
    Unknown(String),
}

/// Works out the operation, IAM actions, resources and condition keys.
pub struct Classify(pub Arc<Gateway>);

impl Stage for Classify {
    fn call(self: Arc<Self>, req: PipelineRequest, next: Next) -> BoxFuture<PipelineResponse> {
        Box::pin(async move {
            let gw = &self.0;
            let (record, request_id) = request_meta(&req);
            let auth = match authenticated_or_fail(&req, record.as_ref(), &request_id) {
                Ok(a) => a,
                Err(response) => return *response,
            };
            let shape = ErrorShape::infer(Some(&auth.service), req.headers());
            let ctx = RejectContext {
                record: record.as_ref(),
                shape,
                request_id: &request_id,
            };
            let (parts, body) = req.into_parts();
            // S3 names its resources in the URI; only its POST operations
            // (DeleteObjects, ...) carry members the classifier reads. Object
            // uploads stream through untouched.
            let body_limit = if auth.service == "s3" && parts.method != http::Method::POST {
                0
            } else {
                CLASSIFY_BODY_LIMIT
            };
            let (prefix, complete, body) = match crate::body::peek_prefix(body, body_limit).await {
                Ok(p) => p,
                Err(e) => {
                    let mismatch = e.is::<crate::body::PayloadHashMismatch>();
                    let e = if mismatch {
                        GatewayError::new(
                            StatusCode::BAD_REQUEST,
                            "XAmzContentSHA256Mismatch",
                            "the provided x-amz-content-sha256 header does not match what was computed",
                        )
                    } else {
                        GatewayError::new(
                            StatusCode::BAD_REQUEST,
                            "IncompleteBody",
                            "the request body could not be read",
                        )
                    };
                    return reject(&ctx, e, Decision::Rejected);
                }
            };
            let started = Instant::now();
            let headers: Vec<(&str, &str)> = parts
                .headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
                .collect();
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .or(parts.uri.authority().map(|a| a.as_str()))
                .unwrap_or("");
            let view = countersign_catalog::RequestView {
                method: parts.method.as_str(),
                host,
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers: &headers,
                body: &prefix,
                body_complete: complete,
                service: &auth.service,
                region: &auth.region,
                account: &gw.account_id,
            };
            let classified = match gw.catalog.classify(&view) {
                countersign_catalog::Outcome::Known(c) => Classified::Known {
                    service: c.service.to_owned(),
                    operation: c.operation.to_owned(),
                    actions: c
                        .actions
                        .iter()
                        .map(|a| (a.name.to_string(), a.resources.clone()))
                        .collect(),
                    condition_keys: c
                        .condition_keys
                        .iter()
                        .map(|k| (k.key.to_string(), k.value.clone()))
                        .collect(),
                    partial: c.partial,
                },
                countersign_catalog::Outcome::Unknown(why) => Classified::Unknown(why.to_string()),
            };
            drop(headers);
            gw.metrics
                .phase
                .classify
                .observe(started.elapsed().as_secs_f64());
            let mut req = PipelineRequest::from_parts(parts, body);
            req.extensions_mut().insert(classified);
            call_next(next, req).await
        })
    }
}

/// Evaluates the principal's compiled policy for every (action, resource)
/// the call needs, with the gateway's global condition keys. Anything not
/// explicitly allowed is denied, with the error the client's SDK expects.
pub struct Authorize(pub Arc<Gateway>);

impl Stage for Authorize {
    fn call(self: Arc<Self>, mut req: PipelineRequest, next: Next) -> BoxFuture<PipelineResponse> {
        Box::pin(async move {
            let gw = &self.0;
            let started = Instant::now();
            let (record, request_id) = request_meta(&req);
            let auth = req.extensions().get::<Authenticated>().cloned();
            let classified = req.extensions().get::<Classified>().cloned();
            let shape = ErrorShape::infer(auth.as_ref().map(|a| a.service.as_str()), req.headers());
            let ctx = RejectContext {
                record: record.as_ref(),
                shape,
                request_id: &request_id,
            };
            let denied_code = if shape == ErrorShape::Json {
                "AccessDeniedException"
            } else {
                "AccessDenied"
            };
            let (Some(auth), Some(classified)) = (auth, classified) else {
                let e = GatewayError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "authorization without authentication",
                );
                return reject(&ctx, e, Decision::Rejected);
            };
            let principal = &auth.principal;
            let set_reason = |decision: Decision, reason: String| {
                if let Some(r) = &record {
                    let mut r = r.lock().unwrap_or_else(|p| p.into_inner());
                    r.decision = decision;
                    r.reason = reason;
                }
            };
            let allowed = match &classified {
                Classified::Unknown(why) if gw.authorization.allow_unknown_operations => {
                    set_reason(Decision::Allow, format!("unclassified ({why}); allowed by authorization.allow_unknown_operations"));
                    true
                }
                Classified::Unknown(why) => {
                    let message = format!("User: {} is not authorized to perform this call: {why}; unknown operations are denied", principal.name);
                    set_reason(Decision::Deny, format!("unknown operation: {why}"));
                    gw.metrics
                        .phase
                        .authorize
                        .observe(started.elapsed().as_secs_f64());
                    return reject(
                        &ctx,
                        GatewayError::new(StatusCode::FORBIDDEN, denied_code, message),
                        Decision::Deny,
                    );
                }
                Classified::Known {
                    partial: true,
                    operation,
                    ..
                } => {
                    let message = format!("the {operation} request body is too large to authorize (over {CLASSIFY_BODY_LIMIT} bytes)");
                    set_reason(Decision::Deny, message.clone());
                    return reject(
                        &ctx,
                        GatewayError::new(StatusCode::FORBIDDEN, denied_code, message),
                        Decision::Deny,
                    );
                }
                Classified::Known {
                    actions,
                    condition_keys,
                    operation,
                    ..
                } => {
                    let facts = crate::decide::CallFacts {
                        actions,
                        condition_keys,
                        client: req.extensions().get::<ClientInfo>().copied(),
                        region: &auth.region,
                        now: crate::audit::unix_now(),
                    };
                    let evaluation = match &auth.session {
                        Some(session) => {
                            crate::decide::evaluate_session(&gw.identity, session, &facts)
                        }
                        None => crate::decide::evaluate_call(&gw.identity, principal, &[], &facts),
                    };
                    let statement = evaluation.statement.clone();
                    let grant = evaluation.grant.as_deref();
                    if let Some(r) = &record {
                        let mut r = r.lock().unwrap_or_else(|p| p.into_inner());
                        r.operation = Some(format!("{}:{operation}", auth.service));
                        r.actions = actions.iter().map(|(a, _)| a.clone()).collect();
                        r.resources = actions
                            .iter()
                            .flat_map(|(_, res)| res.iter().cloned())
                            .collect();
                        r.resources.sort();
                        r.resources.dedup();
                        r.statement = statement.clone();
                        r.grant = grant.map(str::to_owned);
                    }
                    if evaluation.is_allowed() {
                        // Allowed through a grant whose role names an IAM
                        // role: re-signed as that role (see assumed_roles).
                        if let Some(arn) = grant.and_then(|g| upstream_role_of(gw, g)) {
                            if let Some(r) = &record {
                                let mut r = r.lock().unwrap_or_else(|p| p.into_inner());
                                r.upstream_role = Some(arn.to_string());
                            }
                            req.extensions_mut().insert(UpstreamRole(arn));
                        }
                        let via = grant.map(|g| format!(" (grant {g})")).unwrap_or_default();
                        set_reason(
                            Decision::Allow,
                            format!(
                                "{operation} allowed by {}{via}",
                                statement.unwrap_or_default()
                            ),
                        );
                        true
                    } else {
                        let (action, resource) = evaluation
                            .denied
                            .as_ref()
                            .map_or(("?", "?"), |(a, r)| (a.as_str(), r.as_str()));
                        let because = match (&evaluation.outcome, &statement) {
                            (countersign_policy::Outcome::ExplicitDeny, Some(s)) => {
                                format!("with an explicit deny in {s}")
                            }
                            _ => format!(
                                "because no policy of {} allows the {action} action",
                                principal.name
                            ),
                        };
                        let message = format!("User: {} is not authorized to perform: {action} on resource: {resource} {because}", principal.name);
                        set_reason(
                            Decision::Deny,
                            format!(
                                "{operation}: {} {action} on {resource}; {because}",
                                evaluation.outcome.as_str()
                            ),
                        );
                        gw.metrics
                            .phase
                            .authorize
                            .observe(started.elapsed().as_secs_f64());
                        return reject(
                            &ctx,
                            GatewayError::new(StatusCode::FORBIDDEN, denied_code, message),
                            Decision::Deny,
                        );
                    }
                }
            };
            debug_assert!(allowed);
            gw.metrics
                .phase
                .authorize
                .observe(started.elapsed().as_secs_f64());
            call_next(next, req).await
        })
    }
}
