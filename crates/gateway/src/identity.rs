//! Identity glue: the credential lookup the verifier calls (static keys and
//! issued credentials), keeping each replica's snapshot of grants and
//! revocations current, and recording grant expiries.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use countersign_identity::credentials::is_issued;
use countersign_identity::grants::{self, Grant};
use countersign_identity::store::Store;
use countersign_identity::{Authority, Principal, Session, StoreError};
use countersign_sigv4::static_keys::StaticKey;
use countersign_sigv4::{Credential, CredentialStore, LookupError};
use serde::Serialize;
use tokio::sync::watch;

use crate::Gateway;

/// The caller a request was authenticated as.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The principal.
    pub principal: Arc<Principal>,
    /// The issued session, for issued credentials (static keys have none).
    pub session: Option<Arc<Session>>,
}

impl Caller {
    /// Grants the session carries (none for static keys).
    pub fn grants(&self) -> &[String] {
        self.session
            .as_ref()
            .map_or(&[][..], |s| s.claims.grants.as_slice())
    }
}

/// What a lookup found.
pub enum Found<'a> {
    /// A static key from the configuration.
    Static(&'a StaticKey<Arc<Principal>>),
    /// An issued credential's open session.
    Issued(Arc<Session>),
}

impl Found<'_> {
    /// The caller it stands for.
    pub fn caller(&self) -> Caller {
        match self {
            Found::Static(k) => Caller {
                principal: k.data.clone(),
                session: None,
            },
            Found::Issued(s) => Caller {
                principal: s.principal.clone(),
                session: Some(s.clone()),
            },
        }
    }
}

impl Credential for Found<'_> {
    fn secret_access_key(&self) -> &[u8] {
        match self {
            Found::Static(k) => k.secret_access_key(),
            Found::Issued(s) => s.secret_access_key(),
        }
    }
}

/// Static keys and issued credentials, at one instant.
pub struct Credentials<'g> {
    gateway: &'g Gateway,
    now: u64,
}

impl<'g> Credentials<'g> {
    /// The lookup for a request verified at `now`.
    pub fn new(gateway: &'g Gateway, now: SystemTime) -> Self {
        Self {
            gateway,
            now: u64::try_from(countersign_sigv4::unix_seconds(now)).unwrap_or(0),
        }
    }
}

impl CredentialStore for Credentials<'_> {
    type Credential<'a>
        = Found<'a>
    where
        Self: 'a;

    fn lookup<'a>(
        &'a self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Found<'a>, LookupError> {
        if is_issued(access_key_id) {
            return self
                .gateway
                .identity
                .session(access_key_id, session_token, self.now)
                .map(Found::Issued)
                .map_err(LookupError::from);
        }
        self.gateway
            .keys
            .lookup(access_key_id, session_token)
            .map(Found::Static)
    }
}

/// Builds the authority (key ring, directory, lifetimes) and opens the
/// store named by the configuration, with the snapshot loaded.
pub async fn open(
    config: &crate::Config,
    directory: Arc<countersign_identity::Directory>,
) -> Result<(Arc<Authority>, Arc<dyn Store>), crate::BuildError> {
    let ring = match config.key_ring()? {
        Some(ring) => ring,
        None => {
            tracing::warn!("no key ring configured (identity.key_ring_file or COUNTERSIGN_KEY_RING): issued credentials are valid only until this process exits");
            countersign_identity::KeyRing::ephemeral()
        }
    };
    let (default_ttl_secs, max_ttl_secs) = config.credential_ttls()?;
    let identity = Arc::new(countersign_identity::Authority::new(
        ring,
        directory,
        countersign_identity::authority::AuthorityOptions {
            default_ttl_secs,
            max_ttl_secs,
            ..Default::default()
        },
    ));
    let store_url = config
        .identity
        .store
        .clone()
        .unwrap_or_else(|| "sqlite::memory:".to_owned());
    let store = countersign_identity::store::open(&store_url).await?;
    reload_snapshot(&identity, store.as_ref()).await?;
    Ok((identity, store))
}

/// Reads the store's snapshot into the authority.
pub async fn reload_snapshot(authority: &Authority, store: &dyn Store) -> Result<(), StoreError> {
    let now = crate::audit::unix_now();
    let snapshot = store.snapshot(now).await?;
    authority.install_snapshot(snapshot);
    Ok(())
}

/// One grant transition, as written to the audit log.
#[derive(Debug, Serialize)]
pub struct GrantAuditEvent<'a> {
    /// Event time (RFC 3339).
    pub time: String,
    /// Always `grant`.
    pub event: &'static str,
    /// The grant.
    pub grant_id: &'a str,
    /// Its holder.
    pub principal: &'a str,
    /// The role.
    pub role: &'a str,
    /// What happened: `requested`, `approved`, `activated`, `denied`, `revoked`, `expired`.
    pub action: &'a str,
    /// Who did it.
    pub actor: &'a str,
    /// Why, as given.
    pub note: Option<&'a str>,
    /// The grant's state afterwards.
    pub state: &'static str,
    /// Its end, when active (RFC 3339).
    pub ends_at: Option<String>,
}

/// Writes the history entries of `after` that `before` did not have.
pub fn audit_transition(gateway: &Gateway, before: Option<&Grant>, after: &Grant) {
    let seen = before.map_or(0, |b| b.history.len());
    for event in after.history.iter().skip(seen) {
        gateway
            .metrics
            .grant_transitions
            .with_label_values(&[event.action.as_str()])
            .inc();
        gateway.audit.write_event(&GrantAuditEvent {
            time: crate::audit::rfc3339_secs(event.at),
            event: "grant",
            grant_id: &after.id,
            principal: &after.principal,
            role: &after.role,
            action: &event.action,
            actor: &event.actor,
            note: event.note.as_deref(),
            state: after.state.as_str(),
            ends_at: after.ends_at.map(crate::audit::rfc3339_secs),
        });
    }
}

/// When grants and revocations were last confirmed from the store, and how
/// long that may be ago before issued credentials are refused.
#[derive(Debug)]
pub struct Freshness {
    last_ok: std::sync::atomic::AtomicU64,
    max_staleness_secs: u64,
}

impl Freshness {
    /// Fresh as of now.
    pub fn new(max_staleness_secs: u64) -> Self {
        Self::starting_at(crate::audit::unix_now(), max_staleness_secs)
    }

    /// Fresh as of `now` (unix seconds).
    pub fn starting_at(now: u64, max_staleness_secs: u64) -> Self {
        Self {
            last_ok: std::sync::atomic::AtomicU64::new(now),
            max_staleness_secs,
        }
    }

    /// Records a successful reload at `now`.
    pub fn confirm(&self, now: u64) {
        self.last_ok
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// Seconds since the last successful reload, if that is longer than
    /// allowed (issued credentials must then be refused).
    pub fn stale_for(&self, now: u64) -> Option<u64> {
        let age = now.saturating_sub(self.last_ok.load(std::sync::atomic::Ordering::Relaxed));
        (age > self.max_staleness_secs).then_some(age)
    }
}

/// How often each replica reloads grants and revocations even without a
/// change notification (and so notices an unreachable store).
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Reloads the snapshot and records the outcome in the metrics.
pub async fn refresh(gateway: &Gateway) -> Result<(), StoreError> {
    let result = reload_snapshot(&gateway.identity, gateway.store.as_ref()).await;
    if result.is_ok() {
        gateway.identity_freshness.confirm(crate::audit::unix_now());
    }
    let label = if result.is_ok() { "ok" } else { "error" };
    gateway
        .metrics
        .snapshot_reloads
        .with_label_values(&[label])
        .inc();
    gateway
        .metrics
        .snapshot_version
        .set(i64::try_from(gateway.identity.snapshot().version).unwrap_or(i64::MAX));
    result
}

/// Keeps this replica's snapshot current until `stop`: reloads whenever the
/// store reports a change (local writes; other replicas through
/// PostgreSQL notifications), and records expiries of active grants.
pub async fn run_sync(gateway: Arc<Gateway>, mut stop: watch::Receiver<bool>) {
    let mut changes = gateway.store.changes();
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reload = tokio::time::interval(RELOAD_INTERVAL);
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    tracing::error!("identity store change channel closed; grants are no longer refreshed");
                    return;
                }
                if let Err(e) = refresh(&gateway).await {
                    tracing::warn!(error = %e, "reloading grants failed; retrying on the next change or sweep");
                }
            }
            _ = sweep.tick() => sweep_expired(&gateway).await,
            _ = reload.tick() => {
                if let Err(e) = refresh(&gateway).await {
                    tracing::warn!(error = %e, "periodic reload of grants failed");
                }
            }
        }
    }
}

/// Records `expired` for active grants past their end. Enforcement does
/// not wait for this: a grant past its end is ignored on the hot path.
pub async fn sweep_expired(gateway: &Gateway) {
    let now = crate::audit::unix_now();
    let due: Vec<Arc<Grant>> = gateway
        .identity
        .snapshot()
        .active_grants
        .values()
        .filter(|g| g.ends_at.is_some_and(|end| end <= now))
        .cloned()
        .collect();
    for grant in due {
        let Some(mut expired) = grants::expire(&grant, now) else {
            continue;
        };
        expired.version = grant.version + 1;
        match gateway.store.update_grant(&expired).await {
            Ok(()) => audit_transition(gateway, Some(&grant), &expired),
            // Another replica recorded it first.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => {
                tracing::warn!(grant = %grant.id, error = %e, "recording a grant expiry failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Freshness;

    #[test]
    fn freshness_fails_closed_after_the_limit() {
        let f = Freshness::starting_at(1_000, 30);
        assert_eq!(f.stale_for(1_030), None);
        assert_eq!(f.stale_for(1_031), Some(31));
        // A late, older confirmation does not roll freshness back.
        f.confirm(1_020);
        f.confirm(1_040);
        assert_eq!(f.stale_for(1_060), None);
        assert_eq!(f.stale_for(1_071), Some(31));
    }
}
