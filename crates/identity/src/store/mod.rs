//! Where grants, credential revocations and principal epochs live, behind
//! one trait: SQLite embedded (one replica, zero set-up) or PostgreSQL
//! (several replicas; changes reach every replica through LISTEN/NOTIFY).
//!
//! The hot path never queries a store: each replica keeps a [`Snapshot`]
//! and reloads it when [`Store::changes`] says something changed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::grants::{Grant, GrantState};

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "postgres")]
pub mod postgres_tls;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The grant changed since it was read (another approver, another
    /// replica); read it again and retry.
    #[error("grant {0} was changed concurrently; retry")]
    Conflict(String),
    /// An insert collided with an existing id.
    #[error("{0} already exists")]
    Exists(String),
    /// The backend failed.
    #[error("store backend: {0}")]
    Backend(String),
}

/// A revoked issued credential, kept until it would have expired anyway.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevokedCredential {
    /// The access key id.
    pub access_key_id: String,
    /// Who revoked it.
    pub actor: String,
    /// Unix seconds.
    pub revoked_at: u64,
    /// When the credential expires (the row can go after that), unix seconds.
    pub expires_at: u64,
    /// Why.
    pub reason: Option<String>,
}

/// Which grants to list.
#[derive(Clone, Debug, Default)]
pub struct GrantFilter {
    /// Only this principal's.
    pub principal: Option<String>,
    /// Only grants stored in one of these states.
    pub states: Vec<GrantState>,
    /// At most this many, newest first (0: no limit).
    pub limit: usize,
}

/// What the hot path needs from the store, held in memory by each replica.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Grants stored as active (some may be past their end: check the time).
    pub active_grants: HashMap<String, Arc<Grant>>,
    /// Revoked access key ids that have not expired yet.
    pub revoked_credentials: HashSet<String>,
    /// Principal → credential epoch (absent: 0).
    pub principal_epochs: HashMap<String, u64>,
    /// Store-wide change counter when this was read.
    pub version: u64,
}

/// The store every replica shares.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Short backend name for logs: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Adds a new grant (its `version` is stored as given, normally 0).
    async fn insert_grant(&self, grant: &Grant) -> Result<(), StoreError>;

    /// Replaces a grant if its stored version is still `grant.version - 1`
    /// (the caller bumps it); otherwise [`StoreError::Conflict`].
    async fn update_grant(&self, grant: &Grant) -> Result<(), StoreError>;

    /// One grant by id.
    async fn grant(&self, id: &str) -> Result<Option<Grant>, StoreError>;

    /// Grants matching `filter`, newest request first.
    async fn grants(&self, filter: &GrantFilter) -> Result<Vec<Grant>, StoreError>;

    /// Records a credential revocation (idempotent).
    async fn revoke_credential(&self, revoked: &RevokedCredential) -> Result<(), StoreError>;

    /// Bumps a principal's credential epoch (revokes every session issued
    /// before) and returns the new epoch.
    async fn bump_principal_epoch(&self, principal: &str) -> Result<u64, StoreError>;

    /// Reads what the hot path needs. `now` drops expired revocations.
    async fn snapshot(&self, now: u64) -> Result<Snapshot, StoreError>;

    /// Ticks whenever something changed, here or (PostgreSQL) on any other
    /// replica. Receivers reload the snapshot on a tick.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// Opens a store from a URL: `sqlite:PATH`, `sqlite::memory:`, or
/// `postgres://…` / `postgresql://…`. A backend whose cargo feature
/// (`sqlite`, `postgres`) is off answers [`StoreError::Backend`].
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        #[cfg(feature = "sqlite")]
        return sqlite::open(path).await;
        #[cfg(not(feature = "sqlite"))]
        {
            let _ = path;
            return Err(StoreError::Backend(
                "SQLite support not compiled in (feature sqlite)".into(),
            ));
        }
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return postgres::open(url).await;
        #[cfg(not(feature = "postgres"))]
        return Err(StoreError::Backend(
            "PostgreSQL support not compiled in (feature postgres)".into(),
        ));
    }
    Err(StoreError::Backend(format!(
        "store URL must start with sqlite: or postgres:// (got {:?})",
        url.split(':').next().unwrap_or_default()
    )))
}

// Row encoding shared by the SQL backends: integer columns are BIGINT /
// INTEGER (i64), and a grant is stored whole as JSON next to the columns
// queries filter on.

/// A stored integer from a `u64`, refused rather than wrapped when too large.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn to_i64(what: &str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Backend(format!("{what} {v} out of range")))
}

/// A stored integer back (negative values, never written, read as 0).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn from_i64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A grant as its stored JSON body.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn encode(grant: &Grant) -> Result<String, StoreError> {
    serde_json::to_string(grant)
        .map_err(|e| StoreError::Backend(format!("encoding grant {}: {e}", grant.id)))
}

/// A grant's column values: the columns queries filter on, and the whole
/// grant as JSON.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
struct GrantRow {
    id: String,
    principal: String,
    role: String,
    state: &'static str,
    requested_at: i64,
    version: i64,
    body: String,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl GrantRow {
    fn new(grant: &Grant) -> Result<Self, StoreError> {
        Ok(Self {
            id: grant.id.clone(),
            principal: grant.principal.clone(),
            role: grant.role.clone(),
            state: grant.state.as_str(),
            requested_at: to_i64("requested_at", grant.requested_at)?,
            version: to_i64("version", grant.version)?,
            body: encode(grant)?,
        })
    }
}

/// A grant from its stored JSON body.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn decode(body: &str) -> Result<Grant, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Backend(format!("decoding a grant: {e}")))
}

/// The next grant id: `g-` and 16 random hex digits.
pub fn new_grant_id() -> String {
    let mut raw = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .expect("the system random source works");
    let mut id = String::with_capacity(18);
    id.push_str("g-");
    for b in raw {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

#[cfg(all(test, any(feature = "sqlite", feature = "postgres")))]
pub(crate) mod conformance {
    //! The behaviour every backend must have, run against each of them
    //! (compiled only with a backend feature: nothing else uses it).

    use super::*;
    use crate::grants::GrantEvent;

    pub(crate) fn grant(id: &str, principal: &str, state: GrantState, at: u64) -> Grant {
        Grant {
            id: id.into(),
            principal: principal.into(),
            role: "uploads-writer".into(),
            reason: Some("why".into()),
            ticket: None,
            duration_secs: 60,
            requested_at: at,
            state,
            starts_at: (state == GrantState::Active).then_some(at),
            ends_at: (state == GrantState::Active).then_some(at + 60),
            approvals: vec![],
            history: vec![GrantEvent {
                at,
                actor: principal.into(),
                action: "requested".into(),
                note: Some("why".into()),
            }],
            version: 0,
        }
    }

    pub(crate) async fn run(store: &dyn Store) {
        let mut changes = store.changes();
        let before = *changes.borrow_and_update();

        let g1 = grant("g-1", "alice", GrantState::Requested, 100);
        store.insert_grant(&g1).await.unwrap();
        assert!(matches!(
            store.insert_grant(&g1).await,
            Err(StoreError::Exists(_))
        ));
        assert_eq!(store.grant("g-1").await.unwrap().as_ref(), Some(&g1));
        assert_eq!(store.grant("g-nope").await.unwrap(), None);

        // Optimistic concurrency: one of two writers from version 0 wins.
        let mut a = g1.clone();
        a.state = GrantState::Active;
        a.starts_at = Some(110);
        a.ends_at = Some(170);
        a.version = 1;
        store.update_grant(&a).await.unwrap();
        let mut b = g1.clone();
        b.state = GrantState::Denied;
        b.version = 1;
        assert!(matches!(
            store.update_grant(&b).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.grant("g-1").await.unwrap().unwrap(), a);

        store
            .insert_grant(&grant("g-2", "bob", GrantState::Requested, 200))
            .await
            .unwrap();
        store
            .insert_grant(&grant("g-3", "alice", GrantState::Active, 300))
            .await
            .unwrap();
        let all = store.grants(&GrantFilter::default()).await.unwrap();
        let ids: Vec<_> = all.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["g-3", "g-2", "g-1"]);
        let alice_active = store
            .grants(&GrantFilter {
                principal: Some("alice".into()),
                states: vec![GrantState::Active],
                limit: 1,
            })
            .await
            .unwrap();
        assert_eq!(alice_active.len(), 1);
        assert_eq!(alice_active[0].id, "g-3");

        let revoked = RevokedCredential {
            access_key_id: "CSGWAAAA".into(),
            actor: "bob".into(),
            revoked_at: 100,
            expires_at: 1_000,
            reason: Some("laptop lost".into()),
        };
        store.revoke_credential(&revoked).await.unwrap();
        store.revoke_credential(&revoked).await.unwrap();
        store
            .revoke_credential(&RevokedCredential {
                access_key_id: "CSGWOLD".into(),
                expires_at: 50,
                ..revoked.clone()
            })
            .await
            .unwrap();
        assert_eq!(store.bump_principal_epoch("alice").await.unwrap(), 1);
        assert_eq!(store.bump_principal_epoch("alice").await.unwrap(), 2);

        let snap = store.snapshot(500).await.unwrap();
        let mut active: Vec<_> = snap.active_grants.keys().cloned().collect();
        active.sort();
        assert_eq!(active, ["g-1", "g-3"]);
        assert!(snap.revoked_credentials.contains("CSGWAAAA"));
        assert!(
            !snap.revoked_credentials.contains("CSGWOLD"),
            "expired revocations are dropped"
        );
        assert_eq!(snap.principal_epochs.get("alice"), Some(&2));
        assert!(snap.version > 0);

        // Every write ticked the change channel.
        tokio::time::timeout(std::time::Duration::from_secs(5), changes.changed())
            .await
            .expect("a change notification")
            .unwrap();
        assert_ne!(*changes.borrow(), before);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn backend_error(url: &str) -> String {
        match open(url).await {
            Err(StoreError::Backend(message)) => message,
            Err(e) => panic!("{url}: unexpected error {e}"),
            Ok(store) => panic!("{url}: opened a {} store", store.backend()),
        }
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused() {
        assert!(backend_error("mysql://db/x").await.contains("\"mysql\""));
    }

    #[cfg(not(feature = "sqlite"))]
    #[tokio::test]
    async fn sqlite_without_its_feature_says_so() {
        let message = backend_error("sqlite::memory:").await;
        assert!(message.contains("feature sqlite"), "{message}");
    }

    #[cfg(not(feature = "postgres"))]
    #[tokio::test]
    async fn postgres_without_its_feature_says_so() {
        for url in ["postgres://localhost/db", "postgresql://localhost/db"] {
            let message = backend_error(url).await;
            assert!(message.contains("feature postgres"), "{message}");
        }
    }
}
