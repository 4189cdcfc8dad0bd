//! PostgreSQL store: several replicas share one database, and every write
//! reaches every replica through `LISTEN`/`NOTIFY`.
//!
//! - One connection runs the queries (behind an async mutex, so a replica's
//!   writes are serialized; it is reconnected on the next call if it drops).
//! - Every write runs in one transaction that also bumps the single-row
//!   `meta` change counter and issues `NOTIFY countersign_changes` with the
//!   new counter as payload; PostgreSQL delivers it only on commit.
//! - A second, dedicated connection `LISTEN`s on `countersign_changes` and
//!   ticks [`Store::changes`] on each notification. If it drops, it is
//!   reconnected with a backoff of at most one second and the channel
//!   ticks once reconnected (notifications may have been missed meanwhile).
//!   Every five seconds it also reads the counter from `meta` and ticks if
//!   it moved without a notification; a connection that does not answer
//!   that check is treated as lost.
//! - The schema is created on open if needed, under a transaction-level
//!   advisory lock, so replicas starting together do not race.
//! - Dropping the store stops its background tasks and closes both
//!   connections.
//!
//! - Both connections use TLS (rustls) with `sslmode=verify-full` in the
//!   URL; see [`super::postgres_tls`] for the parameters.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{watch, MappedMutexGuard, Mutex as AsyncMutex, MutexGuard};
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, IsolationLevel, Transaction};

use super::postgres_tls::{Endpoint, Messages};
use super::*;

/// The notification channel every write notifies.
const CHANNEL: &str = "countersign_changes";

/// Advisory lock key serializing schema creation ("cs-store" in ASCII).
const SCHEMA_LOCK: i64 = 0x6373_2d73_746f_7265;

/// How often the listener checks the change counter for a lost notification.
const FALLBACK_EVERY: Duration = Duration::from_secs(5);

/// How long that check may take before the connection is deemed lost.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// First and longest wait between reconnection attempts of the listener.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Connect timeout used when the URL does not set one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const READ_VERSION: &str = "SELECT version FROM meta WHERE id = 1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS grants (
    id           TEXT PRIMARY KEY,
    principal    TEXT NOT NULL,
    role         TEXT NOT NULL,
    state        TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grants_principal ON grants (principal, requested_at);
CREATE INDEX IF NOT EXISTS grants_state ON grants (state);
CREATE TABLE IF NOT EXISTS revoked_credentials (
    access_key_id TEXT PRIMARY KEY,
    actor         TEXT NOT NULL,
    revoked_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    reason        TEXT
);
CREATE TABLE IF NOT EXISTS principal_epochs (
    principal TEXT PRIMARY KEY,
    epoch     BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    id      SMALLINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO meta (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
";

/// Connects and creates the schema if needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(PostgresStore::open(url).await?))
}

/// The PostgreSQL [`Store`].
pub struct PostgresStore {
    endpoint: Endpoint,
    /// The query connection; `None` after it was found closed and could
    /// not be reopened.
    conn: AsyncMutex<Option<QueryConn>>,
    changes: Arc<watch::Sender<u64>>,
    _listener: AbortOnDrop,
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The query client and the task driving its connection.
struct QueryConn {
    client: Client,
    _task: AbortOnDrop,
}

impl QueryConn {
    async fn open(endpoint: &Endpoint) -> Result<Self, StoreError> {
        let (client, mut messages) = endpoint
            .connect()
            .await
            .map_err(|e| pg_err("connecting to PostgreSQL", &e))?;
        let task = tokio::spawn(async move {
            // Polling the messages drives the connection; notices are
            // dropped, an error ends it.
            while let Some(message) = messages.next().await {
                if let Err(e) = message {
                    tracing::warn!(error = %describe(&e), "postgres store: query connection lost");
                    break;
                }
            }
        });
        Ok(Self {
            client,
            _task: AbortOnDrop(task.abort_handle()),
        })
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`
    /// or the key-value form), creates the schema if needed and starts
    /// listening for changes.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let mut endpoint = Endpoint::parse(url)?;
        let config = &mut endpoint.config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("countersign");
        }
        let mut conn = QueryConn::open(&endpoint).await?;
        create_schema(&mut conn.client).await?;

        let mut listener_endpoint = endpoint.clone();
        let name = format!(
            "{} changes",
            endpoint
                .config
                .get_application_name()
                .unwrap_or("countersign")
        );
        listener_endpoint
            .config
            .application_name(&name)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
        let changes = Arc::new(watch::channel(0).0);
        let listener = Listener::connect(&listener_endpoint, &changes)
            .await
            .map_err(|e| StoreError::Backend(format!("postgres store: listening: {e}")))?;
        let task = tokio::spawn(listen(listener_endpoint, changes.clone(), listener));
        tracing::info!(
            tls = endpoint.is_tls(),
            "postgres store: connected and listening"
        );
        Ok(Self {
            endpoint,
            conn: AsyncMutex::new(Some(conn)),
            changes,
            _listener: AbortOnDrop(task.abort_handle()),
        })
    }

    /// The query client, reconnected first if its connection was lost.
    async fn client(&self) -> Result<MappedMutexGuard<'_, Client>, StoreError> {
        let mut guard = self.conn.lock().await;
        let usable = matches!(&*guard, Some(c) if !c.client.is_closed());
        if !usable {
            *guard = None;
            *guard = Some(QueryConn::open(&self.endpoint).await?);
            tracing::info!("postgres store: query connection reopened");
        }
        Ok(MutexGuard::map(guard, |c| {
            &mut c.as_mut().expect("connected just above").client
        }))
    }

    /// Ticks the change channel with a counter read after a local commit.
    fn tick(&self, version: u64) {
        self.changes.send_modify(|v| *v = (*v).max(version));
    }
}

/// Creates the tables if they do not exist yet, one replica at a time.
async fn create_schema(client: &mut Client) -> Result<(), StoreError> {
    let e = |e| pg_err("creating the schema", &e);
    let tx = client.transaction().await.map_err(e)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(e)?;
    tx.batch_execute(SCHEMA).await.map_err(e)?;
    tx.commit().await.map_err(e)
}

/// Bumps the change counter, notifies every replica and commits; returns
/// the new counter.
async fn commit_write(tx: Transaction<'_>, what: &str) -> Result<u64, StoreError> {
    let e = |e| pg_err(what, &e);
    let row = tx
        .query_one(
            "UPDATE meta SET version = version + 1 WHERE id = 1 RETURNING version",
            &[],
        )
        .await
        .map_err(e)?;
    let version: i64 = row.get(0);
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANNEL, &version.to_string()],
    )
    .await
    .map_err(e)?;
    tx.commit().await.map_err(e)?;
    Ok(from_i64(version))
}

/// The error, with its causes (never the connection string).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

fn pg_err(what: &str, e: &tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        let constraint = e
            .as_db_error()
            .and_then(|d| d.constraint())
            .unwrap_or("a row");
        return StoreError::Exists(format!("{what}: {constraint}"));
    }
    StoreError::Backend(format!("postgres store: {what}: {}", describe(e)))
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn insert_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        const WHAT: &str = "inserting a grant";
        let e = |e| pg_err(WHAT, &e);
        let row = GrantRow::new(grant)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(e)?;
        let n = tx
            .execute(
                "INSERT INTO grants (id, principal, role, state, requested_at, version, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                &[
                    &row.id,
                    &row.principal,
                    &row.role,
                    &row.state,
                    &row.requested_at,
                    &row.version,
                    &row.body,
                ],
            )
            .await
            .map_err(e)?;
        if n == 0 {
            return Err(StoreError::Exists(format!("grant {}", grant.id)));
        }
        let version = commit_write(tx, WHAT).await?;
        self.tick(version);
        Ok(())
    }

    async fn update_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        const WHAT: &str = "updating a grant";
        let e = |e| pg_err(WHAT, &e);
        let Some(base) = grant.version.checked_sub(1) else {
            return Err(StoreError::Conflict(grant.id.clone()));
        };
        let base = to_i64("version", base)?;
        let row = GrantRow::new(grant)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(e)?;
        // Under READ COMMITTED a concurrent update of the same row waits for
        // the first to commit, then re-checks `version`: one of them wins.
        let n = tx
            .execute(
                "UPDATE grants SET principal = $2, role = $3, state = $4,
                     requested_at = $5, version = $6, body = $7
                 WHERE id = $1 AND version = $8",
                &[
                    &row.id,
                    &row.principal,
                    &row.role,
                    &row.state,
                    &row.requested_at,
                    &row.version,
                    &row.body,
                    &base,
                ],
            )
            .await
            .map_err(e)?;
        if n == 0 {
            return Err(StoreError::Conflict(grant.id.clone()));
        }
        let version = commit_write(tx, WHAT).await?;
        self.tick(version);
        Ok(())
    }

    async fn grant(&self, id: &str) -> Result<Option<Grant>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT body FROM grants WHERE id = $1", &[&id])
            .await
            .map_err(|e| pg_err("reading a grant", &e))?;
        row.map(|r| decode(r.get(0))).transpose()
    }

    async fn grants(&self, filter: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        let limit = match filter.limit {
            0 => None,
            n => Some(to_i64("limit", n as u64)?),
        };
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT body FROM grants
                 WHERE ($1::text IS NULL OR principal = $1)
                   AND (cardinality($2::text[]) = 0 OR state = ANY($2))
                 ORDER BY requested_at DESC, id DESC
                 LIMIT $3",
                &[&filter.principal, &states, &limit],
            )
            .await
            .map_err(|e| pg_err("listing grants", &e))?;
        rows.iter().map(|r| decode(r.get(0))).collect()
    }

    async fn revoke_credential(&self, revoked: &RevokedCredential) -> Result<(), StoreError> {
        const WHAT: &str = "revoking a credential";
        let e = |e| pg_err(WHAT, &e);
        let revoked_at = to_i64("revoked_at", revoked.revoked_at)?;
        let expires_at = to_i64("expires_at", revoked.expires_at)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(e)?;
        // The first revocation is kept; a later one can only keep the row
        // around longer.
        tx.execute(
            "INSERT INTO revoked_credentials
                 (access_key_id, actor, revoked_at, expires_at, reason)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (access_key_id) DO UPDATE
                 SET expires_at = GREATEST(revoked_credentials.expires_at, EXCLUDED.expires_at)",
            &[
                &revoked.access_key_id,
                &revoked.actor,
                &revoked_at,
                &expires_at,
                &revoked.reason,
            ],
        )
        .await
        .map_err(e)?;
        let version = commit_write(tx, WHAT).await?;
        self.tick(version);
        Ok(())
    }

    async fn bump_principal_epoch(&self, principal: &str) -> Result<u64, StoreError> {
        const WHAT: &str = "bumping a principal epoch";
        let e = |e| pg_err(WHAT, &e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(e)?;
        let row = tx
            .query_one(
                "INSERT INTO principal_epochs (principal, epoch) VALUES ($1, 1)
                 ON CONFLICT (principal) DO UPDATE SET epoch = principal_epochs.epoch + 1
                 RETURNING epoch",
                &[&principal],
            )
            .await
            .map_err(e)?;
        let epoch: i64 = row.get(0);
        let version = commit_write(tx, WHAT).await?;
        self.tick(version);
        Ok(from_i64(epoch))
    }

    async fn snapshot(&self, now: u64) -> Result<Snapshot, StoreError> {
        let e = |e| pg_err("reading the snapshot", &e);
        let now = to_i64("now", now)?;
        let mut client = self.client().await?;
        // One consistent view of all four tables.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(e)?;
        let version: i64 = tx.query_one(READ_VERSION, &[]).await.map_err(e)?.get(0);
        let mut snap = Snapshot {
            version: from_i64(version),
            ..Snapshot::default()
        };
        for row in tx
            .query("SELECT id, body FROM grants WHERE state = 'active'", &[])
            .await
            .map_err(e)?
        {
            snap.active_grants
                .insert(row.get(0), Arc::new(decode(row.get(1))?));
        }
        for row in tx
            .query(
                "SELECT access_key_id FROM revoked_credentials WHERE expires_at > $1",
                &[&now],
            )
            .await
            .map_err(e)?
        {
            snap.revoked_credentials.insert(row.get(0));
        }
        for row in tx
            .query("SELECT principal, epoch FROM principal_epochs", &[])
            .await
            .map_err(e)?
        {
            snap.principal_epochs
                .insert(row.get(0), from_i64(row.get(1)));
        }
        tx.commit().await.map_err(e)?;
        Ok(snap)
    }

    fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// The dedicated `LISTEN` connection.
struct Listener {
    client: Client,
    messages: Messages,
}

impl Listener {
    /// Connects, listens, then reads the change counter into `changes`,
    /// ticking it even if the counter did not move (after a reconnection
    /// every receiver must reload): anything committed later is notified.
    async fn connect(endpoint: &Endpoint, changes: &watch::Sender<u64>) -> Result<Self, String> {
        let (client, mut messages) = endpoint
            .connect()
            .await
            .map_err(|e| format!("connecting to PostgreSQL: {}", describe(&e)))?;
        drive(
            &mut messages,
            changes,
            client.batch_execute(&format!("LISTEN {CHANNEL}")),
        )
        .await?;
        let row = drive(&mut messages, changes, client.query_one(READ_VERSION, &[])).await?;
        let version = from_i64(row.get(0));
        changes.send_modify(|v| *v = (*v).max(version));
        Ok(Self { client, messages })
    }

    /// Handles notifications until the connection is lost; returns why.
    async fn run(&mut self, changes: &watch::Sender<u64>) -> String {
        let start = tokio::time::Instant::now() + FALLBACK_EVERY;
        let mut fallback = tokio::time::interval_at(start, FALLBACK_EVERY);
        fallback.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = self.messages.next() => match message {
                    Some(Ok(message)) => handle(message, changes),
                    Some(Err(e)) => return describe(&e),
                    None => return "connection closed".into(),
                },
                _ = fallback.tick() => {
                    let check = drive(
                        &mut self.messages,
                        changes,
                        self.client.query_one(READ_VERSION, &[]),
                    );
                    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
                        Ok(Ok(row)) => {
                            let version = from_i64(row.get(0));
                            let moved = changes.send_if_modified(|v| {
                                let moved = version > *v;
                                if moved {
                                    *v = version;
                                }
                                moved
                            });
                            if moved {
                                tracing::info!(
                                    version,
                                    "postgres store: change counter moved without a notification"
                                );
                            }
                        }
                        Ok(Err(e)) => return e,
                        Err(_) => {
                            return format!(
                                "no answer to the change counter check within {PROBE_TIMEOUT:?}"
                            )
                        }
                    }
                }
            }
        }
    }
}

/// Awaits `query` while driving the connection's messages (the query only
/// progresses while they are polled).
async fn drive<T>(
    messages: &mut Messages,
    changes: &watch::Sender<u64>,
    query: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    tokio::pin!(query);
    loop {
        tokio::select! {
            result = &mut query => return result.map_err(|e| describe(&e)),
            message = messages.next() => match message {
                Some(Ok(message)) => handle(message, changes),
                Some(Err(e)) => return Err(describe(&e)),
                None => return Err("connection closed".into()),
            },
        }
    }
}

/// Ticks on a notification carrying a newer change counter.
fn handle(message: AsyncMessage, changes: &watch::Sender<u64>) {
    match message {
        AsyncMessage::Notification(n) if n.channel() == CHANNEL => {
            match n.payload().parse::<u64>() {
                Ok(version) => {
                    // Writes through this replica have ticked already.
                    changes.send_if_modified(|v| {
                        let newer = version > *v;
                        if newer {
                            *v = version;
                        }
                        newer
                    });
                }
                // Someone else's NOTIFY: reload to be safe.
                Err(_) => changes.send_modify(|_| {}),
            }
        }
        AsyncMessage::Notice(notice) => {
            tracing::debug!(notice = %notice, "postgres store: notice on the listening connection");
        }
        _ => {}
    }
}

/// The listener task: runs `listener`, and reconnects whenever its
/// connection is lost, then ticks so every receiver reloads.
async fn listen(endpoint: Endpoint, changes: Arc<watch::Sender<u64>>, listener: Listener) {
    let mut current = Some(listener);
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut listener = match current.take() {
            Some(listener) => listener,
            None => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                match Listener::connect(&endpoint, &changes).await {
                    Ok(listener) => {
                        // `connect` ticked the channel (unconditionally):
                        // notifications may have been missed, so reload.
                        backoff = FIRST_BACKOFF;
                        tracing::info!("postgres store: change listener reconnected");
                        listener
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "postgres store: change listener cannot reconnect");
                        continue;
                    }
                }
            }
        };
        let why = listener.run(&changes).await;
        tracing::warn!(error = %why, "postgres store: change listener connection lost; reconnecting");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    /// A fresh database on the test server, for one test.
    struct TestDb {
        admin: Client,
        _admin_task: AbortOnDrop,
        name: String,
        url: String,
    }

    impl TestDb {
        async fn new() -> Self {
            let base = std::env::var("COUNTERSIGN_TEST_POSTGRES_URL").unwrap_or_else(|_| {
                panic!(
                    "COUNTERSIGN_TEST_POSTGRES_URL is not set: run tests/run.sh, or \
                     `source tests/postgres.sh` first, or point it at a PostgreSQL \
                     server where this user may CREATE DATABASE"
                )
            });
            let (admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connecting to the test server: {}", describe(&e)));
            let task = tokio::spawn(async move {
                let _ = connection.await;
            });
            let mut raw = [0u8; 6];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw).unwrap();
            let name: String = std::iter::once("cs_test_".to_owned())
                .chain(raw.iter().map(|b| format!("{b:02x}")))
                .collect();
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {}", describe(&e)));
            let url = with_dbname(&base, &name);
            Self {
                admin,
                _admin_task: AbortOnDrop(task.abort_handle()),
                name,
                url,
            }
        }

        async fn open(&self) -> PostgresStore {
            PostgresStore::open(&self.url).await.unwrap()
        }

        /// Backends connected to this database under `application_name`.
        async fn backends(&self, application_name: &str) -> i64 {
            self.admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = $1 AND application_name = $2",
                    &[&self.name, &application_name],
                )
                .await
                .unwrap()
                .get(0)
        }

        /// Drops the database (best effort).
        async fn drop_db(self) {
            if let Err(e) = self
                .admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await
            {
                eprintln!("dropping {}: {}", self.name, describe(&e));
            }
        }
    }

    /// `url` with its database replaced by `name`.
    fn with_dbname(url: &str, name: &str) -> String {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return format!("{url} dbname={name}");
        }
        let (head, query) = match url.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (url, None),
        };
        let authority_start = head.find("://").unwrap() + 3;
        let base = match head[authority_start..].find('/') {
            Some(slash) => &head[..authority_start + slash],
            None => head,
        };
        match query {
            Some(q) => format!("{base}/{name}?{q}"),
            None => format!("{base}/{name}"),
        }
    }

    #[test]
    fn dbname_replacement() {
        assert_eq!(
            with_dbname("postgres://u@h:1/postgres", "x"),
            "postgres://u@h:1/x"
        );
        assert_eq!(with_dbname("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(
            with_dbname("postgresql://u@h/db?sslmode=disable", "x"),
            "postgresql://u@h/x?sslmode=disable"
        );
        assert_eq!(with_dbname("host=h user=u", "x"), "host=h user=u dbname=x");
    }

    #[tokio::test]
    async fn tls_settings_are_checked_before_connecting() {
        let err = open("postgres://u:secret@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .await
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("sslrootcert /nonexistent/ca.pem"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[tokio::test]
    async fn connection_errors_do_not_leak_the_password() {
        let err = open("postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2")
            .await
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(text.contains("connecting"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn conformance() {
        let db = TestDb::new().await;
        let store = db.open().await;
        assert_eq!(store.backend(), "postgres");
        conformance::run(&store).await;
        // Opening again (schema exists) is fine and sees the data.
        let again = open(&db.url).await.unwrap();
        assert!(again.grant("g-1").await.unwrap().is_some());
        drop((store, again));
        db.drop_db().await;
    }

    /// The test server's PKI (tests/postgres.sh).
    fn tls_dir() -> String {
        std::env::var("COUNTERSIGN_TEST_POSTGRES_TLS_DIR").unwrap_or_else(|_| {
            panic!("COUNTERSIGN_TEST_POSTGRES_TLS_DIR is not set: run tests/run.sh, or `source tests/postgres.sh` first")
        })
    }

    /// The test server's port, from a `postgres://user@127.0.0.1:PORT/db` URL.
    fn port_of(url: &str) -> &str {
        let after = url.rsplit_once(':').expect("a port").1;
        after.split('/').next().expect("a port")
    }

    /// Every connection to `db` (application name, TLS, client DN, user).
    async fn connections(db: &TestDb) -> Vec<(String, bool, Option<String>, String)> {
        db.admin
            .query(
                "SELECT a.application_name, s.ssl, s.client_dn, a.usename::text
                 FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
                 WHERE a.datname = $1 ORDER BY 1",
                &[&db.name],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn over_verified_tls_every_connection_is_encrypted_and_changes_arrive() {
        let db = TestDb::new().await;
        let url = format!(
            "{}?sslmode=verify-full&sslrootcert={}/ca.pem",
            db.url,
            tls_dir()
        );
        let a = PostgresStore::open(&url).await.unwrap();
        let b = PostgresStore::open(&url).await.unwrap();
        let mut b_changes = b.changes();
        b_changes.borrow_and_update();
        a.bump_principal_epoch("alice").await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), b_changes.changed())
            .await
            .expect("the notification arrives over TLS within a second")
            .unwrap();
        assert_eq!(b.snapshot(0).await.unwrap().version, 1);
        let seen = connections(&db).await;
        // Each store: a query connection and a listening one.
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen.iter().all(|(_, ssl, _, _)| *ssl), "{seen:?}");
        assert_eq!(
            seen.iter()
                .filter(|(app, ..)| app == "countersign changes")
                .count(),
            2,
            "{seen:?}"
        );
        drop((a, b));
        db.drop_db().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn tls_refuses_a_server_it_cannot_verify() {
        let db = TestDb::new().await;
        let dir = tls_dir();
        let port = port_of(&db.url);
        let refused = |url: String| async move {
            match PostgresStore::open(&url).await {
                Ok(_) => panic!("{url}: connected"),
                Err(e) => e.to_string(),
            }
        };
        // Another CA; the public roots; the right CA but another host name
        // (the certificate names 127.0.0.1 only; hostaddr keeps the address).
        for url in [
            format!(
                "{}?sslmode=verify-full&sslrootcert={dir}/other-ca.pem",
                db.url
            ),
            format!("{}?sslmode=verify-full&sslrootcert=system", db.url),
            format!(
                "host=localhost hostaddr=127.0.0.1 port={port} user=countersign dbname={} \
                 sslmode=verify-full sslrootcert={dir}/ca.pem",
                db.name
            ),
        ] {
            let text = refused(url.clone()).await;
            assert!(text.contains("certificate"), "{url}: {text}");
        }
        assert!(connections(&db).await.is_empty());
        db.drop_db().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn a_client_certificate_authenticates_the_store() {
        let db = TestDb::new().await;
        let dir = tls_dir();
        // tests/postgres.sh: this role authenticates with a certificate only.
        db.admin
            .batch_execute(
                "DO $$ BEGIN CREATE ROLE countersign_cert LOGIN SUPERUSER;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
            )
            .await
            .unwrap();
        let as_cert_user = db.url.replacen("countersign@", "countersign_cert@", 1);
        let verified = format!("{as_cert_user}?sslmode=verify-full&sslrootcert={dir}/ca.pem");
        let store = PostgresStore::open(&format!(
            "{verified}&sslcert={dir}/client.pem&sslkey={dir}/client.key"
        ))
        .await
        .unwrap();
        store.bump_principal_epoch("alice").await.unwrap();
        let seen = connections(&db).await;
        assert_eq!(seen.len(), 2, "{seen:?}");
        for (_, ssl, dn, user) in &seen {
            assert!(*ssl && user == "countersign_cert", "{seen:?}");
            assert_eq!(dn.as_deref(), Some("/CN=countersign_cert"), "{seen:?}");
        }
        drop(store);
        // Without the certificate the server refuses the role.
        let Err(e) = PostgresStore::open(&verified).await else {
            panic!("connected without a client certificate");
        };
        assert!(e.to_string().contains("certificate"), "{e}");
        db.drop_db().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn replicas_open_concurrently() {
        let db = TestDb::new().await;
        let (a, b, c) = tokio::join!(
            PostgresStore::open(&db.url),
            PostgresStore::open(&db.url),
            PostgresStore::open(&db.url)
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        a.bump_principal_epoch("alice").await.unwrap();
        assert_eq!(c.bump_principal_epoch("alice").await.unwrap(), 2);
        assert_eq!(b.snapshot(0).await.unwrap().version, 2);
        drop((a, b, c));
        db.drop_db().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn a_write_on_one_replica_reaches_the_other_within_a_second() {
        let db = TestDb::new().await;
        let a = db.open().await;
        let b = db.open().await;
        let mut b_changes = b.changes();
        b_changes.borrow_and_update();

        let g = conformance::grant("g-1", "alice", GrantState::Active, 100);
        a.insert_grant(&g).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), b_changes.changed())
            .await
            .expect("B ticks within 1 s of A's write")
            .unwrap();
        let seen = *b_changes.borrow_and_update();
        let snap = b.snapshot(150).await.unwrap();
        assert_eq!(snap.active_grants.get("g-1").map(|g| &**g), Some(&g));
        assert_eq!(snap.version, seen);

        a.bump_principal_epoch("alice").await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), b_changes.changed())
            .await
            .expect("B ticks within 1 s of A's second write")
            .unwrap();
        assert_eq!(
            b.snapshot(150).await.unwrap().principal_epochs.get("alice"),
            Some(&1)
        );

        // A's own writes tick A once each, not again on its notification.
        let mut a_changes = a.changes();
        a_changes.borrow_and_update();
        a.bump_principal_epoch("bob").await.unwrap();
        assert!(a_changes.has_changed().unwrap());
        a_changes.borrow_and_update();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!a_changes.has_changed().unwrap());

        // Dropping a store stops its tasks and closes its connections.
        assert_eq!(db.backends("countersign changes").await, 2);
        drop(a);
        drop(b);
        let mut left = -1;
        for _ in 0..50 {
            left = db.backends("countersign changes").await + db.backends("countersign").await;
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(left, 0, "connections still open after dropping the stores");
        db.drop_db().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn concurrent_updates_from_two_replicas_one_conflicts() {
        let db = TestDb::new().await;
        let a = db.open().await;
        let b = db.open().await;
        for round in 0..20 {
            let g =
                conformance::grant(&format!("g-{round}"), "alice", GrantState::Requested, round);
            a.insert_grant(&g).await.unwrap();
            let mut from_a = g.clone();
            from_a.state = GrantState::Active;
            from_a.version = 1;
            let mut from_b = g.clone();
            from_b.state = GrantState::Denied;
            from_b.version = 1;
            let (ra, rb) = tokio::join!(a.update_grant(&from_a), b.update_grant(&from_b));
            let stored = b.grant(&g.id).await.unwrap().unwrap();
            match (ra, rb) {
                (Ok(()), Err(StoreError::Conflict(_))) => assert_eq!(stored, from_a),
                (Err(StoreError::Conflict(_)), Ok(())) => assert_eq!(stored, from_b),
                other => panic!("round {round}: expected exactly one conflict, got {other:?}"),
            }
        }
        drop((a, b));
        db.drop_db().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn a_change_without_a_notification_is_caught_by_the_periodic_check() {
        let db = TestDb::new().await;
        let b = db.open().await;
        let mut b_changes = b.changes();
        let before = *b_changes.borrow_and_update();
        // A write that notifies nobody (as if the notification were lost).
        let (writer, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(connection);
        writer
            .batch_execute(
                "INSERT INTO principal_epochs VALUES ('alice', 7);
                 UPDATE meta SET version = version + 1",
            )
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        tokio::time::timeout(FALLBACK_EVERY + Duration::from_secs(2), b_changes.changed())
            .await
            .expect("B ticks from its periodic check")
            .unwrap();
        assert!(
            started.elapsed() > Duration::from_millis(500),
            "no notification was sent, so the tick came from the periodic check"
        );
        assert_eq!(*b_changes.borrow_and_update(), before + 1);
        assert_eq!(
            b.snapshot(0).await.unwrap().principal_epochs.get("alice"),
            Some(&7)
        );
        // Nothing moved since: no further tick at the next check.
        tokio::time::sleep(FALLBACK_EVERY + Duration::from_secs(1)).await;
        assert!(!b_changes.has_changed().unwrap());
        drop((writer, b));
        task.abort();
        db.drop_db().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: tests/run.sh starts one and runs ignored tests with COUNTERSIGN_TEST_POSTGRES_URL"]
    async fn the_listener_reconnects_and_ticks() {
        let db = TestDb::new().await;
        let a = db.open().await;
        let b = db.open().await;
        let mut b_changes = b.changes();
        b_changes.borrow_and_update();

        // Cut every listening connection to this database.
        let killed: i64 = db
            .admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = $1 AND application_name = 'countersign changes'",
                &[&db.name],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(killed, 2);
        // B reconnects and ticks (it may have missed notifications).
        tokio::time::timeout(Duration::from_secs(3), b_changes.changed())
            .await
            .expect("B ticks after reconnecting")
            .unwrap();
        b_changes.borrow_and_update();
        // And hears A again.
        a.bump_principal_epoch("alice").await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), b_changes.changed())
            .await
            .expect("B ticks within 1 s of A's write after reconnecting")
            .unwrap();

        // The query connection is reopened on the next call, too.
        db.admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND application_name = 'countersign'",
                &[&db.name],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(a.bump_principal_epoch("alice").await.unwrap(), 2);
        drop((a, b));
        db.drop_db().await;
    }
}
