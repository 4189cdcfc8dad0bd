//! Prometheus metrics, registered once per gateway.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The gateway's metrics.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by service, decision and status.
    pub requests: IntCounterVec,
    /// Time spent per phase: verify, authorize, upstream.
    pub phase_seconds: HistogramVec,
    /// Upstream failures by kind: connect, timeout, credentials, body.
    pub upstream_errors: IntCounterVec,
    /// Client connections open now.
    pub open_connections: IntGauge,
    /// The per-phase histograms, resolved once (label lookups hash and lock).
    pub phase: Phases,
    /// Grant transitions by action (requested, approved, activated, denied, revoked, expired).
    pub grant_transitions: IntCounterVec,
    /// Credentials issued, and revoked (one credential or all of a principal's).
    pub credential_events: IntCounterVec,
    /// Admin API calls refused as unauthenticated, by reason.
    pub admin_auth_failures: IntCounterVec,
    /// Reloads of the grants snapshot from the store, by result.
    pub snapshot_reloads: IntCounterVec,
    /// The store's change counter in the snapshot this replica enforces.
    pub snapshot_version: IntGauge,
}

/// One histogram handle per pipeline phase.
#[derive(Clone, Debug)]
pub struct Phases {
    /// SigV4 verification (including buffering a body to hash it).
    pub verify: prometheus::Histogram,
    /// Service-catalog classification.
    pub classify: prometheus::Histogram,
    /// Policy evaluation.
    pub authorize: prometheus::Histogram,
    /// Until upstream response headers.
    pub upstream: prometheus::Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "countersign_requests_total",
                "Requests by service, decision and status",
            ),
            &["service", "decision", "status"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let phase_seconds = HistogramVec::new(
            HistogramOpts::new("countersign_phase_seconds", "Time per pipeline phase").buckets(
                vec![
                    0.000_001, 0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01,
                    0.05, 0.1, 0.5, 1.0, 5.0,
                ],
            ),
            &["phase"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "countersign_upstream_errors_total",
                "Upstream failures by kind",
            ),
            &["kind"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let open_connections = IntGauge::new(
            "countersign_open_connections",
            "Client connections open now",
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let counter = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &[label])
                .unwrap_or_else(|e| unreachable!("static metric definition: {e}"))
        };
        let grant_transitions = counter(
            "countersign_grant_transitions_total",
            "Grant transitions by action",
            "action",
        );
        let credential_events = counter(
            "countersign_credential_events_total",
            "Issued credentials: issued, revoked, sessions_revoked",
            "event",
        );
        let admin_auth_failures = counter(
            "countersign_admin_auth_failures_total",
            "Admin API calls refused as unauthenticated: no_credentials, unknown_token, unknown_certificate",
            "reason",
        );
        let snapshot_reloads = counter(
            "countersign_identity_snapshot_reloads_total",
            "Reloads of grants and revocations from the store, by result",
            "result",
        );
        let snapshot_version = IntGauge::new(
            "countersign_identity_snapshot_version",
            "The store change counter this replica enforces",
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        for c in [
            Box::new(grant_transitions.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(credential_events.clone()),
            Box::new(admin_auth_failures.clone()),
            Box::new(snapshot_reloads.clone()),
            Box::new(snapshot_version.clone()),
            Box::new(requests.clone()),
            Box::new(phase_seconds.clone()),
            Box::new(upstream_errors.clone()),
            Box::new(open_connections.clone()),
        ] {
            registry
                .register(c)
                .unwrap_or_else(|e| unreachable!("unique metric names: {e}"));
        }
        let phase = Phases {
            verify: phase_seconds.with_label_values(&["verify"]),
            classify: phase_seconds.with_label_values(&["classify"]),
            authorize: phase_seconds.with_label_values(&["authorize"]),
            upstream: phase_seconds.with_label_values(&["upstream"]),
        };
        Self {
            registry,
            requests,
            phase_seconds,
            upstream_errors,
            open_connections,
            phase,
            grant_transitions,
            credential_events,
            admin_auth_failures,
            snapshot_reloads,
            snapshot_version,
        }
    }

    /// The registry, for metrics defined next to their code (the proxy's).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}
