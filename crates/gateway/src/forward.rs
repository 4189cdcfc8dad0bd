//! Countersign and forward: strip the client's authentication, re-sign with
//! the upstream credentials at the current time, send, stream the answer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::BodyExt;
use tower::Service;

use countersign_sigv4::{AuthKind, PathMode, PayloadHash, RequestView, SigningParams};

use crate::audit::Decision;
use crate::body::{BoxError, PayloadHashMismatch};
use crate::error::{ErrorShape, GatewayError};
use crate::pipeline::{PipelineRequest, PipelineResponse};
use crate::stages::{authenticated_or_fail, reject, request_meta, RejectContext};
use crate::Gateway;

/// Unsigned client headers that are still forwarded (unsigned) upstream.
/// Every other unsigned header is dropped.
pub const FORWARDED_UNSIGNED_HEADERS: [&str; 7] = [
    "user-agent",
    "content-length",
    "content-type",
    "content-md5",
    "content-encoding",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
];

/// Hop-by-hop and proxy headers, never forwarded in either direction.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Client authentication that must not travel upstream.
const CLIENT_AUTH_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "host",
];

/// Presigned-URL parameters removed from the forwarded query.
const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// The terminal service of the pipeline.
#[derive(Clone)]
pub struct Forward(pub Arc<Gateway>);

impl Service<PipelineRequest> for Forward {
    type Response = PipelineResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<PipelineResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: PipelineRequest) -> Self::Future {
        let gw = self.0.clone();
        Box::pin(async move { Ok(forward(gw, req).await) })
    }
}

/// The bucket of an S3 virtual-host request (`bucket.<domain>`).
fn virtual_host_bucket<'a>(host: &'a str, domain: Option<&str>) -> Option<&'a str> {
    let domain = domain?;
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    let bucket = host.strip_suffix(domain)?.strip_suffix('.')?;
    (!bucket.is_empty()).then_some(bucket)
}

fn strip_presign_params(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            !pair.is_empty() && !PRESIGN_PARAMS.contains(&name)
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn upstream_error_kind(e: &(dyn std::error::Error + 'static)) -> (&'static str, GatewayError) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<PayloadHashMismatch>() {
            return (
                "body",
                GatewayError::new(
                    StatusCode::BAD_REQUEST,
                    "XAmzContentSHA256Mismatch",
                    "the provided x-amz-content-sha256 header does not match what was computed",
                ),
            );
        }
        source = err.source();
    }
    let text = e.to_string();
    let connect =
        matches!(e.downcast_ref::<hyper_util::client::legacy::Error>(), Some(c) if c.is_connect());
    if connect {
        (
            "connect",
            GatewayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "upstream unreachable",
            ),
        )
    } else {
        (
            "request",
            GatewayError::new(
                StatusCode::BAD_GATEWAY,
                "BadGateway",
                format!("upstream request failed: {text}"),
            ),
        )
    }
}

async fn forward(gw: Arc<Gateway>, req: PipelineRequest) -> PipelineResponse {
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

    let role = req.extensions().get::<crate::stages::UpstreamRole>();
    let credentials = match role {
        Some(role) => {
            gw.assumed_roles
                .credentials(&role.0, &auth.principal.name)
                .await
        }
        None => gw.credentials.get().await,
    };
    let credentials = match credentials {
        Ok(c) => c,
        Err(e) => {
            let kind = if role.is_some() {
                "assume_role"
            } else {
                "credentials"
            };
            gw.metrics.upstream_errors.with_label_values(&[kind]).inc();
            tracing::error!(request_id = %request_id, error = %e, "no upstream credentials");
            let e = GatewayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                if role.is_some() {
                    "upstream role credentials unavailable"
                } else {
                    "upstream credentials unavailable"
                },
            );
            return reject(&ctx, e, Decision::Allow);
        }
    };

    let (parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or(parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    let bucket = if auth.service == "s3" {
        virtual_host_bucket(host, gw.s3_virtual_host_domain.as_deref())
            .or_else(|| crate::proxy::intercepted_s3_bucket(&parts.extensions, host))
    } else {
        None
    };
    // Through the proxy without an override: the AWS host the client named.
    let endpoint = crate::proxy::intercepted_endpoint(&parts.extensions, &gw.resolver)
        .unwrap_or_else(|| gw.resolver.resolve(&auth.service, &auth.region, bucket));

    // Headers: the ones the client signed (re-signed), a few safe unsigned
    // ones (forwarded unsigned), nothing else.
    let mut signed: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut unsigned: Vec<(HeaderName, HeaderValue)> = Vec::new();
    for (name, value) in &parts.headers {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || CLIENT_AUTH_HEADERS.contains(&n) {
            continue;
        }
        if auth.signed_headers.iter().any(|s| s == n) {
            signed.push((name.clone(), value.clone()));
        } else if FORWARDED_UNSIGNED_HEADERS.contains(&n) {
            unsigned.push((name.clone(), value.clone()));
        }
    }
    let payload_hash = match (auth.payload_claim_header, auth.payload) {
        (true, p) | (false, p @ PayloadHash::Sha256(_)) => p.to_canonical_string(),
        (false, _) => {
            // Presigned S3: sign UNSIGNED-PAYLOAD upstream, as a header.
            signed.push((
                HeaderName::from_static("x-amz-content-sha256"),
                HeaderValue::from_static("UNSIGNED-PAYLOAD"),
            ));
            "UNSIGNED-PAYLOAD".to_owned()
        }
    };
    let authority =
        HeaderValue::from_str(&endpoint.authority).unwrap_or(HeaderValue::from_static("invalid"));
    signed.push((http::header::HOST, authority));

    let path = format!("{}{}", endpoint.path_prefix, parts.uri.path());
    let query = match (auth.kind, parts.uri.query()) {
        (AuthKind::Query, Some(q)) => strip_presign_params(q),
        (_, q) => q.unwrap_or("").to_owned(),
    };
    let path_and_query = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{query}")
    };
    let uri = match Uri::builder()
        .scheme(endpoint.scheme)
        .authority(endpoint.authority.as_str())
        .path_and_query(path_and_query)
        .build()
    {
        Ok(u) => u,
        Err(e) => {
            let e = GatewayError::new(
                StatusCode::BAD_REQUEST,
                "InvalidURI",
                format!("cannot build the upstream URI: {e}"),
            );
            return reject(&ctx, e, Decision::Rejected);
        }
    };

    let signing_view_headers: Vec<(&str, &[u8])> = signed
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let view = RequestView {
        method: parts.method.as_str(),
        path: &path,
        query: &query,
        headers: &signing_view_headers,
        authority: None,
        body_sha256: None,
    };
    let params = SigningParams {
        access_key_id: credentials.access_key_id(),
        secret_access_key: credentials.secret_access_key(),
        session_token: credentials.session_token(),
        region: &auth.region,
        service: &auth.service,
        time: SystemTime::now(),
    };
    let output = gw.signer.sign(
        &view,
        &payload_hash,
        PathMode::for_service(&auth.service),
        &params,
    );
    drop(signing_view_headers);

    let mut headers = HeaderMap::with_capacity(signed.len() + unsigned.len() + 3);
    for (n, v) in signed.into_iter().chain(unsigned) {
        headers.append(n, v);
    }
    let set = |headers: &mut HeaderMap, name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set(&mut headers, "authorization", &output.authorization);
    set(&mut headers, "x-amz-date", &output.x_amz_date);
    if let Some(token) = &output.security_token {
        set(&mut headers, "x-amz-security-token", token);
    }

    let mut upstream_req = Request::new(body);
    *upstream_req.method_mut() = parts.method.clone();
    *upstream_req.uri_mut() = uri;
    *upstream_req.headers_mut() = headers;

    let started = Instant::now();
    let sent = tokio::time::timeout(
        gw.limits.upstream_response_timeout(),
        gw.client.request(upstream_req),
    )
    .await;
    gw.metrics
        .phase
        .upstream
        .observe(started.elapsed().as_secs_f64());
    let response = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let (kind, error) = upstream_error_kind(&e);
            gw.metrics.upstream_errors.with_label_values(&[kind]).inc();
            tracing::warn!(request_id = %request_id, kind, error = %e, "upstream request failed");
            if let Some(r) = &record {
                r.lock().unwrap_or_else(|p| p.into_inner()).reason =
                    format!("upstream {kind} error");
            }
            return reject(&ctx, error, Decision::Allow);
        }
        Err(_) => {
            gw.metrics
                .upstream_errors
                .with_label_values(&["timeout"])
                .inc();
            let e = GatewayError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                "upstream did not answer in time",
            );
            return reject(&ctx, e, Decision::Allow);
        }
    };
    if let Some(r) = &record {
        r.lock().unwrap_or_else(|p| p.into_inner()).upstream_status =
            Some(response.status().as_u16());
    }
    let (mut parts, body) = response.into_parts();
    for h in HOP_BY_HOP {
        parts.headers.remove(h);
    }
    PipelineResponse::from_parts(
        parts,
        body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presign_parameters_are_stripped() {
        let q = "list-type=2&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&prefix=x&X-Amz-Signature=00";
        assert_eq!(strip_presign_params(q), "list-type=2&prefix=x");
    }

    #[test]
    fn virtual_host_buckets() {
        let d = Some("s3.gateway.local");
        assert_eq!(
            virtual_host_bucket("photos.s3.gateway.local:8080", d),
            Some("photos")
        );
        assert_eq!(virtual_host_bucket("s3.gateway.local", d), None);
        assert_eq!(virtual_host_bucket("photos.s3.gateway.local", None), None);
        assert_eq!(virtual_host_bucket("evil.com", d), None);
    }
}
