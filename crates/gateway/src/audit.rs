//! One audit event per request, written when the response body ends (or
//! the client goes away), so byte counts and outcome are final.

use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use serde::Serialize;

use crate::body::{BoxError, GatewayBody};
use crate::config::{AuditConfig, AuditSink};
use crate::metrics::Metrics;

/// What the gateway decided about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Not decided yet (the request failed before authorization).
    None,
    /// Authentication failed.
    Unauthenticated,
    /// Authorized and forwarded.
    Allow,
    /// Refused by policy.
    Deny,
    /// Refused because the gateway cannot handle it (limits, unsupported).
    Rejected,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Unauthenticated => "unauthenticated",
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Rejected => "rejected",
        }
    }
}

/// The audit record the pipeline stages fill in.
#[derive(Debug, Serialize)]
pub struct AuditRecord {
    /// Event time (RFC 3339, UTC).
    pub time: String,
    /// The gateway's request id.
    pub request_id: String,
    /// Client address.
    pub client: String,
    /// The principal, once authenticated.
    pub principal: Option<String>,
    /// The access key id the client used (not secret).
    pub access_key_id: Option<String>,
    /// Signing service from the credential scope.
    pub service: Option<String>,
    /// Region from the credential scope.
    pub region: Option<String>,
    /// HTTP method.
    pub method: String,
    /// The operation, once classified (`s3:PutObject` style: service and name).
    pub operation: Option<String>,
    /// IAM actions the call needs.
    pub actions: Vec<String>,
    /// Resources the call touches.
    pub resources: Vec<String>,
    /// The statement that decided (allowed or explicitly denied), if any.
    pub statement: Option<String>,
    /// The just-in-time grant the deciding statement came from, if any.
    pub grant: Option<String>,
    /// The IAM role the call was re-signed as (the grant's role's
    /// `upstream_role_arn`); unset: the gateway's own upstream credentials.
    pub upstream_role: Option<String>,
    /// Decision.
    pub decision: Decision,
    /// Why: the failed rule, the policy statement, or the upstream error.
    pub reason: String,
    /// AWS error code answered by the gateway, if any.
    pub error_code: Option<&'static str>,
    /// Status of the upstream response, if the call was forwarded.
    pub upstream_status: Option<u16>,
    /// Status returned to the client.
    pub status: u16,
    /// Request body bytes read from the client.
    pub bytes_in: u64,
    /// Response body bytes sent to the client.
    pub bytes_out: u64,
    /// Total duration, milliseconds.
    pub duration_ms: f64,
    #[serde(skip)]
    started: Option<Instant>,
    #[serde(skip)]
    /// Counter the request body wrappers add to.
    pub bytes_in_counter: Arc<AtomicU64>,
}

impl AuditRecord {
    /// A fresh record.
    pub fn new(request_id: String, client: String, method: String) -> Self {
        Self {
            time: String::new(),
            request_id,
            client,
            principal: None,
            access_key_id: None,
            service: None,
            region: None,
            method,
            operation: None,
            actions: Vec::new(),
            resources: Vec::new(),
            statement: None,
            grant: None,
            upstream_role: None,
            decision: Decision::None,
            reason: String::new(),
            error_code: None,
            upstream_status: None,
            status: 0,
            bytes_in: 0,
            bytes_out: 0,
            duration_ms: 0.0,
            started: Some(Instant::now()),
            bytes_in_counter: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// A unique request id: a per-process random prefix and a counter. Cheaper
/// than a random UUID per request (no `getrandom` system call).
pub fn next_request_id() -> String {
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(rand::random::<u64>);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:08x}-{:04x}-{:04x}-{:016x}",
        prefix >> 32,
        (prefix >> 16) & 0xffff,
        prefix & 0xffff,
        n
    )
}

/// A shared, fillable audit record (one per request, in its extensions).
pub type SharedRecord = Arc<Mutex<AuditRecord>>;

/// Writes audit events to the configured sink.
pub struct AuditLog {
    sink: Option<Mutex<Box<dyn Write + Send>>>,
    metrics: Metrics,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog { .. }")
    }
}

impl AuditLog {
    /// Opens the sink.
    pub fn open(config: &AuditConfig, metrics: Metrics) -> std::io::Result<Self> {
        let sink: Option<Box<dyn Write + Send>> = match config.sink {
            AuditSink::Stdout => Some(Box::new(std::io::LineWriter::new(std::io::stdout()))),
            AuditSink::File => {
                let path = config
                    .path
                    .as_ref()
                    .ok_or_else(|| std::io::Error::other("audit.path is required"))?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                Some(Box::new(std::io::LineWriter::new(file)))
            }
            AuditSink::None => None,
        };
        Ok(Self {
            sink: sink.map(Mutex::new),
            metrics,
        })
    }

    /// Writes one event that is not a pipeline request (a proxy CONNECT
    /// decision, a tunnel closing) as a JSON line to the sink.
    pub fn write_event(&self, event: &impl Serialize) {
        if let Some(sink) = &self.sink {
            if let Ok(line) = serde_json::to_string(event) {
                let mut w = sink.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(w, "{line}");
            }
        }
    }

    fn emit(&self, record: &mut AuditRecord, bytes_out: u64) {
        record.bytes_out = bytes_out;
        record.bytes_in = record.bytes_in_counter.load(Ordering::Relaxed);
        if let Some(started) = record.started.take() {
            record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        }
        record.time = rfc3339_now();
        self.metrics
            .requests
            .with_label_values(&[
                record.service.as_deref().unwrap_or("unknown"),
                record.decision.as_str(),
                &record.status.to_string(),
            ])
            .inc();
        if let Some(sink) = &self.sink {
            if let Ok(line) = serde_json::to_string(&*record) {
                let mut w = sink.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(w, "{line}");
            }
        }
    }
}

pub(crate) fn rfc3339_now() -> String {
    rfc3339(countersign_sigv4::unix_seconds(SystemTime::now()))
}

/// Unsigned unix seconds as RFC 3339 UTC.
pub(crate) fn rfc3339_secs(unix: u64) -> String {
    rfc3339(i64::try_from(unix).unwrap_or(i64::MAX))
}

/// Seconds since the Unix epoch, now (0 before it).
pub(crate) fn unix_now() -> u64 {
    u64::try_from(countersign_sigv4::unix_seconds(SystemTime::now())).unwrap_or(0)
}

/// Unix seconds as RFC 3339 UTC (`2024-08-30T12:36:00Z`).
pub(crate) fn rfc3339(unix: i64) -> String {
    let d = countersign_sigv4::format_amz_date(unix);
    let d = String::from_utf8_lossy(&d);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    )
}

/// The response body, which writes the audit event when it is done or dropped.
pub struct AuditedBody {
    inner: GatewayBody,
    record: SharedRecord,
    log: Arc<AuditLog>,
    bytes_out: u64,
    emitted: bool,
}

impl AuditedBody {
    /// Wraps the response body of a request.
    pub fn new(inner: GatewayBody, record: SharedRecord, log: Arc<AuditLog>) -> Self {
        Self {
            inner,
            record,
            log,
            bytes_out: 0,
            emitted: false,
        }
    }

    fn finish(&mut self) {
        if !self.emitted {
            self.emitted = true;
            let mut r = self.record.lock().unwrap_or_else(|p| p.into_inner());
            self.log.emit(&mut r, self.bytes_out);
        }
    }
}

impl Body for AuditedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes_out += d.len() as u64;
                }
            }
            Poll::Ready(Some(Err(e))) => {
                {
                    let mut r = this.record.lock().unwrap_or_else(|p| p.into_inner());
                    r.reason = format!("{}; response stream failed: {e}", r.reason);
                }
                this.finish();
            }
            Poll::Ready(None) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AuditedBody {
    fn drop(&mut self) {
        self.finish();
    }
}
