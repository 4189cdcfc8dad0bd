//! SQLite store: one embedded database file (or a private in-memory one),
//! for a single replica with zero set-up.
//!
//! One [`rusqlite::Connection`] sits behind a mutex; every call runs on
//! tokio's blocking pool. File databases use WAL mode and a busy timeout,
//! so another process (an admin command, say) may read or write the same
//! file; only writes made through this [`SqliteStore`] tick
//! [`Store::changes`], though.
//!
//! Every write runs in one `IMMEDIATE` transaction that also bumps the
//! single-row `meta` change counter, so [`Snapshot::version`] moves with
//! every committed write.

use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::watch;

use super::*;

/// How long a statement waits for another process's lock on a file database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS grants (
    id           TEXT PRIMARY KEY NOT NULL,
    principal    TEXT NOT NULL,
    role         TEXT NOT NULL,
    state        TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_principal ON grants (principal, requested_at);
CREATE INDEX IF NOT EXISTS grants_state ON grants (state);
CREATE TABLE IF NOT EXISTS revoked_credentials (
    access_key_id TEXT PRIMARY KEY NOT NULL,
    actor         TEXT NOT NULL,
    revoked_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    reason        TEXT
);
CREATE TABLE IF NOT EXISTS principal_epochs (
    principal TEXT PRIMARY KEY NOT NULL,
    epoch     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    id      INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (id, version) VALUES (1, 0);
";

/// Opens (creating) the database at `path` (`:memory:` for a private one).
pub async fn open(path: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::open(path).await?))
}

/// The SQLite [`Store`].
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    changes: watch::Sender<u64>,
}

impl SqliteStore {
    /// Opens (creating) the database at `path` (`:memory:` for a private
    /// in-memory one) and creates the schema if needed.
    pub async fn open(path: &str) -> Result<Self, StoreError> {
        if path.is_empty() {
            return Err(StoreError::Backend(
                "sqlite store: empty path (use sqlite:PATH or sqlite::memory:)".into(),
            ));
        }
        let path = path.to_owned();
        let (conn, version) = tokio::task::spawn_blocking(move || open_blocking(&path))
            .await
            .map_err(|e| StoreError::Backend(format!("sqlite open task: {e}")))??;
        let (changes, _) = watch::channel(version);
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                changes,
            }),
        })
    }

    /// Runs `f` on the connection, on the blocking pool.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves no open transaction
            // (rusqlite rolls back on drop), so a poisoned lock is usable.
            let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("sqlite task: {e}")))?
    }

    /// Runs `f` in a write transaction that also bumps the change counter,
    /// commits, then ticks the change channel.
    async fn write<T, F>(&self, what: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql_err(what, e))?;
            let out = f(&tx)?;
            let version: i64 = tx
                .query_row(
                    "UPDATE meta SET version = version + 1 WHERE id = 1 RETURNING version",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| sql_err(what, e))?;
            tx.commit().map_err(|e| sql_err(what, e))?;
            let version = from_i64(version);
            // Still under the connection lock: ticks go out in commit order.
            inner.changes.send_modify(|v| *v = (*v).max(version));
            Ok(out)
        })
        .await
    }
}

fn open_blocking(path: &str) -> Result<(Connection, u64), StoreError> {
    let memory = path == ":memory:";
    let conn = if memory {
        Connection::open_in_memory()
    } else {
        Connection::open(path)
    }
    .map_err(|e| StoreError::Backend(format!("sqlite: opening {path:?}: {e}")))?;
    if !memory {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sql_err("setting the busy timeout", e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| sql_err("enabling WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path, mode, "sqlite store: WAL mode not available");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| sql_err("setting synchronous", e))?;
    }
    conn.execute_batch(&format!("BEGIN IMMEDIATE;{SCHEMA}COMMIT;"))
        .map_err(|e| sql_err("creating the schema", e))?;
    let version: i64 = conn
        .query_row("SELECT version FROM meta WHERE id = 1", [], |r| r.get(0))
        .map_err(|e| sql_err("reading the change counter", e))?;
    Ok((conn, from_i64(version)))
}

fn sql_err(what: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {what}: {e}"))
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn insert_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        let row = GrantRow::new(grant)?;
        self.write("inserting a grant", move |tx| {
            let n = tx
                .execute(
                    "INSERT INTO grants (id, principal, role, state, requested_at, version, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                    params![
                        row.id,
                        row.principal,
                        row.role,
                        row.state,
                        row.requested_at,
                        row.version,
                        row.body
                    ],
                )
                .map_err(|e| sql_err("inserting a grant", e))?;
            if n == 0 {
                return Err(StoreError::Exists(format!("grant {}", row.id)));
            }
            Ok(())
        })
        .await
    }

    async fn update_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        let Some(base) = grant.version.checked_sub(1) else {
            return Err(StoreError::Conflict(grant.id.clone()));
        };
        let base = to_i64("version", base)?;
        let row = GrantRow::new(grant)?;
        self.write("updating a grant", move |tx| {
            let n = tx
                .execute(
                    "UPDATE grants SET principal = ?2, role = ?3, state = ?4,
                         requested_at = ?5, version = ?6, body = ?7
                     WHERE id = ?1 AND version = ?8",
                    params![
                        row.id,
                        row.principal,
                        row.role,
                        row.state,
                        row.requested_at,
                        row.version,
                        row.body,
                        base
                    ],
                )
                .map_err(|e| sql_err("updating a grant", e))?;
            if n == 0 {
                return Err(StoreError::Conflict(row.id));
            }
            Ok(())
        })
        .await
    }

    async fn grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let body: Option<String> = conn
                .query_row("SELECT body FROM grants WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(|e| sql_err("reading a grant", e))?;
            body.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn grants(&self, filter: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
        let mut sql = String::from("SELECT body FROM grants WHERE 1 = 1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(principal) = &filter.principal {
            args.push(principal.clone().into());
            sql.push_str(&format!(" AND principal = ?{}", args.len()));
        }
        if !filter.states.is_empty() {
            let mut marks = Vec::with_capacity(filter.states.len());
            for state in &filter.states {
                args.push(state.as_str().to_owned().into());
                marks.push(format!("?{}", args.len()));
            }
            sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
        }
        sql.push_str(" ORDER BY requested_at DESC, id DESC");
        if filter.limit > 0 {
            let limit = to_i64("limit", filter.limit as u64)?;
            args.push(limit.into());
            sql.push_str(&format!(" LIMIT ?{}", args.len()));
        }
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&sql)
                .map_err(|e| sql_err("listing grants", e))?;
            let bodies = stmt
                .query_map(params_from_iter(args), |r| r.get::<_, String>(0))
                .map_err(|e| sql_err("listing grants", e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| sql_err("listing grants", e))?;
            bodies.iter().map(|b| decode(b)).collect()
        })
        .await
    }

    async fn revoke_credential(&self, revoked: &RevokedCredential) -> Result<(), StoreError> {
        let revoked = revoked.clone();
        let revoked_at = to_i64("revoked_at", revoked.revoked_at)?;
        let expires_at = to_i64("expires_at", revoked.expires_at)?;
        self.write("revoking a credential", move |tx| {
            // The first revocation is kept; a later one can only keep the
            // row around longer.
            tx.execute(
                "INSERT INTO revoked_credentials
                     (access_key_id, actor, revoked_at, expires_at, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (access_key_id) DO UPDATE
                     SET expires_at = max(expires_at, excluded.expires_at)",
                params![
                    revoked.access_key_id,
                    revoked.actor,
                    revoked_at,
                    expires_at,
                    revoked.reason
                ],
            )
            .map_err(|e| sql_err("revoking a credential", e))?;
            Ok(())
        })
        .await
    }

    async fn bump_principal_epoch(&self, principal: &str) -> Result<u64, StoreError> {
        let principal = principal.to_owned();
        self.write("bumping a principal epoch", move |tx| {
            let epoch: i64 = tx
                .query_row(
                    "INSERT INTO principal_epochs (principal, epoch) VALUES (?1, 1)
                     ON CONFLICT (principal) DO UPDATE SET epoch = epoch + 1
                     RETURNING epoch",
                    [&principal],
                    |r| r.get(0),
                )
                .map_err(|e| sql_err("bumping a principal epoch", e))?;
            Ok(from_i64(epoch))
        })
        .await
    }

    async fn snapshot(&self, now: u64) -> Result<Snapshot, StoreError> {
        let now = to_i64("now", now)?;
        self.with_conn(move |conn| {
            let e = |e| sql_err("reading the snapshot", e);
            // One read transaction: a consistent view even if another
            // process writes the file meanwhile.
            let tx = conn.transaction().map_err(e)?;
            let mut snap = Snapshot {
                version: from_i64(
                    tx.query_row("SELECT version FROM meta WHERE id = 1", [], |r| r.get(0))
                        .map_err(e)?,
                ),
                ..Snapshot::default()
            };
            {
                let mut stmt = tx
                    .prepare("SELECT id, body FROM grants WHERE state = 'active'")
                    .map_err(e)?;
                let mut rows = stmt.query([]).map_err(e)?;
                while let Some(row) = rows.next().map_err(e)? {
                    let id: String = row.get(0).map_err(e)?;
                    let body: String = row.get(1).map_err(e)?;
                    snap.active_grants.insert(id, Arc::new(decode(&body)?));
                }
                let mut stmt = tx
                    .prepare("SELECT access_key_id FROM revoked_credentials WHERE expires_at > ?1")
                    .map_err(e)?;
                let mut rows = stmt.query([now]).map_err(e)?;
                while let Some(row) = rows.next().map_err(e)? {
                    snap.revoked_credentials.insert(row.get(0).map_err(e)?);
                }
                let mut stmt = tx
                    .prepare("SELECT principal, epoch FROM principal_epochs")
                    .map_err(e)?;
                let mut rows = stmt.query([]).map_err(e)?;
                while let Some(row) = rows.next().map_err(e)? {
                    let epoch: i64 = row.get(1).map_err(e)?;
                    snap.principal_epochs
                        .insert(row.get(0).map_err(e)?, from_i64(epoch));
                }
            }
            tx.commit().map_err(e)?;
            Ok(snap)
        })
        .await
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    /// A database file in the temp dir, removed (with its WAL files) on drop.
    struct TempDb(std::path::PathBuf);

    impl TempDb {
        fn new(tag: &str) -> Self {
            let mut raw = [0u8; 8];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw).unwrap();
            let suffix: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            Self(std::env::temp_dir().join(format!(
                "countersign-store-{tag}-{}-{suffix}.db",
                std::process::id()
            )))
        }

        fn path(&self) -> &str {
            self.0.to_str().expect("a UTF-8 temp path")
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            for ext in ["", "-wal", "-shm", "-journal"] {
                let mut p = self.0.clone().into_os_string();
                p.push(ext);
                let _ = std::fs::remove_file(p);
            }
        }
    }

    #[tokio::test]
    async fn conformance_in_memory() {
        let store = open(":memory:").await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        conformance::run(store.as_ref()).await;
    }

    #[tokio::test]
    async fn conformance_via_url_dispatcher() {
        let store = crate::store::open("sqlite::memory:").await.unwrap();
        conformance::run(store.as_ref()).await;
    }

    #[tokio::test]
    async fn conformance_on_a_file() {
        let db = TempDb::new("conformance");
        let store = open(db.path()).await.unwrap();
        conformance::run(store.as_ref()).await;
        drop(store);
        assert!(db.0.exists());
    }

    #[tokio::test]
    async fn memory_databases_are_private() {
        let a = open(":memory:").await.unwrap();
        let b = open(":memory:").await.unwrap();
        a.insert_grant(&conformance::grant("g-1", "alice", GrantState::Active, 1))
            .await
            .unwrap();
        assert_eq!(b.grant("g-1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn data_survives_reopening() {
        let db = TempDb::new("reopen");
        let g = conformance::grant("g-1", "alice", GrantState::Active, 100);
        let version = {
            let store = open(db.path()).await.unwrap();
            store.insert_grant(&g).await.unwrap();
            store
                .revoke_credential(&RevokedCredential {
                    access_key_id: "CSGWAAAA".into(),
                    actor: "bob".into(),
                    revoked_at: 100,
                    expires_at: 1_000,
                    reason: None,
                })
                .await
                .unwrap();
            assert_eq!(store.bump_principal_epoch("alice").await.unwrap(), 1);
            store.snapshot(500).await.unwrap().version
        };
        assert_eq!(version, 3);

        let store = open(db.path()).await.unwrap();
        assert_eq!(
            *store.changes().borrow(),
            3,
            "starts from the stored counter"
        );
        assert_eq!(store.grant("g-1").await.unwrap(), Some(g));
        let snap = store.snapshot(500).await.unwrap();
        assert_eq!(snap.version, 3);
        assert!(snap.active_grants.contains_key("g-1"));
        assert!(snap.revoked_credentials.contains("CSGWAAAA"));
        assert_eq!(snap.principal_epochs.get("alice"), Some(&1));
        assert_eq!(store.bump_principal_epoch("alice").await.unwrap(), 2);
        assert_eq!(store.snapshot(500).await.unwrap().version, 4);
    }

    #[tokio::test]
    async fn every_write_ticks_with_the_new_version() {
        let store = open(":memory:").await.unwrap();
        let mut changes = store.changes();
        assert_eq!(*changes.borrow_and_update(), 0);
        store.bump_principal_epoch("alice").await.unwrap();
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), 1);
        // A failed write (conflict) does not bump the counter.
        let mut g = conformance::grant("g-1", "alice", GrantState::Requested, 1);
        g.version = 5;
        assert!(matches!(
            store.update_grant(&g).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(!changes.has_changed().unwrap());
        assert_eq!(store.snapshot(0).await.unwrap().version, 1);
    }

    #[tokio::test]
    async fn empty_path_is_refused() {
        assert!(matches!(open("").await, Err(StoreError::Backend(_))));
    }
}
