//! The hot path: access key + session token → session → effective policy.
//!
//! Two caches, each keyed so that a change can never be served stale:
//!
//! | cache | key | lifetime |
//! |---|---|---|
//! | opened session | SHA-256 of the session token | until the credential expires (checked on every hit) |
//! | effective policy | (principal, snapshot version, grants in force) | until its earliest grant ends (per-entry expiry); a grant change is a new version, a grant ending a new set: a different key either way |
//! | a session's last effective policy | the session | while the snapshot version is the same and none of its grants has ended |
//!
//! Revocations, grant changes and principal epochs come from a [`Snapshot`]
//! the gateway installs whenever the store says something changed; every
//! request reads the current one, so a revocation applies to the very next
//! request after the snapshot arrives.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use countersign_policy::{CompiledPolicy, StatementRef};
use sha2::{Digest, Sha256};

use crate::credentials::{Claims, IssuedCredentials, MintError, OpenError};
use crate::directory::{Directory, Principal};
use crate::keyring::KeyRing;
use crate::store::Snapshot;

/// Default credential lifetime: 15 minutes.
pub const DEFAULT_TTL_SECS: u64 = 15 * 60;
/// Longest credential lifetime accepted by default: 12 hours.
pub const DEFAULT_MAX_TTL_SECS: u64 = 12 * 3600;

/// An opened, not yet expired session.
pub struct Session {
    /// The access key id the token is bound to.
    pub access_key_id: String,
    secret_access_key: String,
    /// What the token says.
    pub claims: Claims,
    /// The principal it belongs to.
    pub principal: Arc<Principal>,
    /// The effective policy last used for this session, with the snapshot
    /// version it was looked up at: reused while the version is the same
    /// and its first grant has not ended.
    policy_memo: RwLock<Option<(u64, Arc<EffectivePolicy>)>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal.name)
            .field("grants", &self.claims.grants)
            .field("expires_at", &self.claims.expires_at)
            .finish_non_exhaustive()
    }
}

impl countersign_sigv4::Credential for Session {
    fn secret_access_key(&self) -> &[u8] {
        self.secret_access_key.as_bytes()
    }
}

/// Why a session was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not an issued access key, or its key was retired.
    #[error("unknown or retired access key")]
    UnknownAccessKey,
    /// No session token, or one that does not open for this access key.
    #[error("session token missing or invalid")]
    InvalidToken,
    /// Past its expiry.
    #[error("session expired")]
    Expired,
    /// Revoked (the credential itself, or every session of its principal),
    /// or its principal is no longer in the directory.
    #[error("session revoked")]
    Revoked,
}

impl From<OpenError> for SessionError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::UnknownAccessKey => Self::UnknownAccessKey,
            OpenError::InvalidToken => Self::InvalidToken,
        }
    }
}

impl From<SessionError> for countersign_sigv4::LookupError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::UnknownAccessKey => Self::UnknownAccessKey,
            SessionError::InvalidToken => Self::InvalidToken,
            SessionError::Expired => Self::ExpiredToken,
            SessionError::Revoked => Self::Revoked,
        }
    }
}

/// Why credentials could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No such principal.
    #[error("no principal {0:?}")]
    UnknownPrincipal(String),
    /// A named grant is not active for this principal.
    #[error("grant {0} is not active for this principal")]
    GrantNotActive(String),
    /// Zero or over the maximum.
    #[error("ttl must be within 1..={max}s")]
    BadTtl {
        /// The maximum, seconds.
        max: u64,
    },
    /// Minting failed.
    #[error(transparent)]
    Mint(#[from] MintError),
}

/// A principal's standing policies plus the grants in force, compiled.
pub struct EffectivePolicy {
    /// The compiled policy set.
    pub policy: Arc<CompiledPolicy>,
    /// Policy index → the grant it came from (`None`: standing).
    grant_of_policy: Vec<Option<String>>,
    /// Grants included.
    pub grants: Vec<String>,
    /// The earliest end among them: the entry is stale from then on.
    pub valid_until: Option<u64>,
    /// How long the entry may stay cached: until `valid_until`, measured
    /// from the `now` it was compiled at.
    cache_for: Option<Duration>,
    /// The ids of the grants in force it was compiled for (its cache key).
    key_grants: Vec<String>,
}

impl std::fmt::Debug for EffectivePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EffectivePolicy")
            .field("grants", &self.grants)
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

impl EffectivePolicy {
    /// Standing policies only.
    pub fn standing(principal: &Principal) -> Self {
        Self {
            policy: principal.standing.clone(),
            grant_of_policy: vec![None; principal.policies.len()],
            grants: Vec::new(),
            valid_until: None,
            cache_for: None,
            key_grants: Vec::new(),
        }
    }

    /// The grant a statement belongs to, if it came from one.
    pub fn grant_of(&self, statement: StatementRef) -> Option<&str> {
        self.grant_of_policy
            .get(statement.policy_index())
            .and_then(|g| g.as_deref())
    }
}

/// (principal, snapshot version, fingerprint of the grants in force).
type PolicyKey = (Arc<str>, u64, u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Effective policies leave the cache when their earliest grant ends.
struct UntilFirstGrantEnds;

impl moka::Expiry<PolicyKey, Arc<EffectivePolicy>> for UntilFirstGrantEnds {
    fn expire_after_create(
        &self,
        _key: &PolicyKey,
        value: &Arc<EffectivePolicy>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        value.cache_for
    }
}

/// Settings of an [`Authority`].
#[derive(Clone, Copy, Debug)]
pub struct AuthorityOptions {
    /// Credential lifetime when none is asked for.
    pub default_ttl_secs: u64,
    /// Longest lifetime that may be asked for.
    pub max_ttl_secs: u64,
    /// Most sessions kept open in the cache.
    pub session_cache_capacity: u64,
}

impl Default for AuthorityOptions {
    fn default() -> Self {
        Self {
            default_ttl_secs: DEFAULT_TTL_SECS,
            max_ttl_secs: DEFAULT_MAX_TTL_SECS,
            session_cache_capacity: 100_000,
        }
    }
}

/// Opens sessions, issues credentials and compiles effective policies.
pub struct Authority {
    ring: KeyRing,
    directory: Arc<Directory>,
    options: AuthorityOptions,
    snapshot: RwLock<Arc<Snapshot>>,
    /// The installed snapshot's version, readable without the lock.
    snapshot_version: std::sync::atomic::AtomicU64,
    sessions: moka::sync::Cache<[u8; 32], Arc<Session>>,
    policies: moka::sync::Cache<PolicyKey, Arc<EffectivePolicy>>,
    standing: HashMap<Arc<str>, Arc<EffectivePolicy>>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("ring", &self.ring)
            .field("principals", &self.directory.len())
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// An authority over `directory`, minting with `ring`, starting from an
    /// empty snapshot.
    pub fn new(ring: KeyRing, directory: Arc<Directory>, options: AuthorityOptions) -> Self {
        let standing = directory
            .principal_names()
            .filter_map(|n| directory.principal(n))
            .map(|p| (p.name.clone(), Arc::new(EffectivePolicy::standing(p))))
            .collect();
        Self {
            ring,
            directory,
            options,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            snapshot_version: std::sync::atomic::AtomicU64::new(0),
            sessions: moka::sync::Cache::builder()
                .max_capacity(options.session_cache_capacity)
                .time_to_live(Duration::from_secs(options.max_ttl_secs.max(1)))
                .build(),
            policies: moka::sync::Cache::builder()
                .max_capacity(10_000)
                // Keys name the snapshot version and the grants in force, so
                // a stale entry is never hit; expiry only frees the memory.
                .expire_after(UntilFirstGrantEnds)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            standing,
        }
    }

    /// The directory.
    pub fn directory(&self) -> &Arc<Directory> {
        &self.directory
    }

    /// The key ring.
    pub fn key_ring(&self) -> &KeyRing {
        &self.ring
    }

    /// The options in force.
    pub fn options(&self) -> AuthorityOptions {
        self.options
    }

    /// The snapshot requests are judged against.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the snapshot (after the store changed). An older snapshot
    /// than the one installed is ignored.
    pub fn install_snapshot(&self, snapshot: Snapshot) {
        let mut current = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        if snapshot.version >= current.version {
            self.snapshot_version
                .store(snapshot.version, std::sync::atomic::Ordering::Release);
            *current = Arc::new(snapshot);
        }
    }

    /// The effective policy of an opened session at `now`: the same as
    /// [`Authority::effective_policy`] for its principal and grants, reused
    /// from the session while the snapshot version is unchanged and none of
    /// its grants has ended. A carried grant can only leave force (end, be
    /// revoked), never enter it, so nothing else can change the answer.
    pub fn session_policy(&self, session: &Session, now: u64) -> Arc<EffectivePolicy> {
        if session.claims.grants.is_empty() {
            return self.effective_policy(&session.principal, &[], now);
        }
        // Read before the lookup: a memo is labelled with a version no newer
        // than the snapshot its policy came from, so at worst it is
        // recomputed once more, never reused past a change.
        let version = self
            .snapshot_version
            .load(std::sync::atomic::Ordering::Acquire);
        if let Some((at, policy)) = &*session
            .policy_memo
            .read()
            .unwrap_or_else(|p| p.into_inner())
        {
            if *at == version && policy.valid_until.is_none_or(|end| now < end) {
                return policy.clone();
            }
        }
        let policy = self.effective_policy(&session.principal, &session.claims.grants, now);
        *session
            .policy_memo
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some((version, policy.clone()));
        policy
    }

    /// Opens the session an access key and token present, at `now` (unix
    /// seconds): the token must open for this key, not be expired, not be
    /// revoked, and its principal must still exist at its epoch.
    pub fn session(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
        now: u64,
    ) -> Result<Arc<Session>, SessionError> {
        let token = session_token.ok_or(SessionError::InvalidToken)?;
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let session = match self.sessions.get(&hash) {
            Some(s) => s,
            None => {
                let (claims, secret) = self.ring.open(access_key_id, token)?;
                let principal = self
                    .directory
                    .principal(&claims.principal)
                    .ok_or(SessionError::Revoked)?
                    .clone();
                let s = Arc::new(Session {
                    access_key_id: access_key_id.to_owned(),
                    secret_access_key: secret,
                    claims,
                    principal,
                    policy_memo: RwLock::new(None),
                });
                self.sessions.insert(hash, s.clone());
                s
            }
        };
        // The token is sealed for one access key; a cached token presented
        // with another key is as invalid as an unopened one.
        if session.access_key_id != access_key_id {
            return Err(SessionError::InvalidToken);
        }
        if now >= session.claims.expires_at {
            return Err(SessionError::Expired);
        }
        let snapshot = self.snapshot();
        if snapshot.revoked_credentials.contains(access_key_id) {
            return Err(SessionError::Revoked);
        }
        let epoch = snapshot
            .principal_epochs
            .get(&session.claims.principal)
            .copied()
            .unwrap_or(0);
        if session.claims.epoch < epoch {
            return Err(SessionError::Revoked);
        }
        Ok(session)
    }

    /// The effective policy of `principal` at `now` for a session carrying
    /// `grants`: its standing policies plus those of the grants that are in
    /// force now (active, started, not ended, still this principal's).
    pub fn effective_policy(
        &self,
        principal: &Arc<Principal>,
        grants: &[String],
        now: u64,
    ) -> Arc<EffectivePolicy> {
        let standing = || {
            self.standing
                .get(&principal.name)
                .cloned()
                .unwrap_or_else(|| Arc::new(EffectivePolicy::standing(principal)))
        };
        if grants.is_empty() {
            return standing();
        }
        let snapshot = self.snapshot();
        let in_force = || {
            grants
                .iter()
                .filter_map(|id| snapshot.active_grants.get(id))
                .filter(|g| g.is_active_at(now) && *g.principal == *principal.name)
        };
        // The key carries a fingerprint of the grants in force rather than
        // their ids, so a cache hit allocates nothing; a hit is confirmed
        // against the ids the entry was compiled for.
        let mut fingerprint = FNV_OFFSET;
        let mut count = 0usize;
        for g in in_force() {
            for b in g.id.bytes().chain([0]) {
                fingerprint = (fingerprint ^ u64::from(b)).wrapping_mul(FNV_PRIME);
            }
            count += 1;
        }
        if count == 0 {
            return standing();
        }
        let key: PolicyKey = (principal.name.clone(), snapshot.version, fingerprint);
        let compile = || {
            let grants: Vec<&Arc<crate::Grant>> = in_force().collect();
            Arc::new(self.compile(principal, &grants, now))
        };
        let cached = self.policies.get_with(key, compile);
        let same_grants = cached.key_grants.len() == count
            && in_force()
                .zip(&cached.key_grants)
                .all(|(g, id)| g.id == *id);
        if same_grants {
            cached
        } else {
            // A fingerprint collision: correct, if uncached.
            compile()
        }
    }

    fn compile(
        &self,
        principal: &Principal,
        grants: &[&Arc<crate::Grant>],
        now: u64,
    ) -> EffectivePolicy {
        let mut named: Vec<(String, Arc<countersign_policy::PolicyDocument>)> =
            principal.policies.clone();
        let mut grant_of_policy = vec![None; named.len()];
        let mut included = Vec::new();
        for grant in grants {
            // A role removed from the configuration grants nothing.
            let Some(role) = self.directory.role(&grant.role) else {
                continue;
            };
            for (policy_name, doc) in &role.policies {
                named.push((
                    format!("{}/{policy_name} (grant {})", role.name, grant.id),
                    doc.clone(),
                ));
                grant_of_policy.push(Some(grant.id.clone()));
            }
            included.push(grant.id.clone());
        }
        let valid_until = grants.iter().filter_map(|g| g.ends_at).min();
        match CompiledPolicy::compile(named.iter().map(|(n, d)| (n.as_str(), d.as_ref()))) {
            Ok(policy) => EffectivePolicy {
                policy: Arc::new(policy),
                grant_of_policy,
                grants: included,
                valid_until,
                cache_for: valid_until.map(|end| Duration::from_secs(end.saturating_sub(now))),
                key_grants: grants.iter().map(|g| g.id.clone()).collect(),
            },
            // Every document compiled on its own when the directory was
            // built; if the set does not, grant nothing beyond standing.
            Err(e) => {
                tracing::error!(principal = %principal.name, error = %e, "effective policy does not compile; using standing policies only");
                EffectivePolicy {
                    key_grants: grants.iter().map(|g| g.id.clone()).collect(),
                    ..EffectivePolicy::standing(principal)
                }
            }
        }
    }

    /// Issues credentials for `principal` carrying `grants` (default: every
    /// grant in force for it now), valid for `ttl_secs` (default: the
    /// configured default) but never past the earliest end of its grants.
    pub fn issue(
        &self,
        principal: &str,
        grants: Option<&[String]>,
        ttl_secs: Option<u64>,
        now: u64,
    ) -> Result<IssuedCredentials, IssueError> {
        let principal = self
            .directory
            .principal(principal)
            .ok_or_else(|| IssueError::UnknownPrincipal(principal.to_owned()))?;
        let snapshot = self.snapshot();
        let in_force = |g: &crate::Grant| g.is_active_at(now) && *g.principal == *principal.name;
        let carried: Vec<Arc<crate::Grant>> = match grants {
            Some(ids) => ids
                .iter()
                .map(|id| {
                    snapshot
                        .active_grants
                        .get(id)
                        .filter(|g| in_force(g))
                        .cloned()
                        .ok_or_else(|| IssueError::GrantNotActive(id.clone()))
                })
                .collect::<Result<_, _>>()?,
            None => {
                let mut v: Vec<_> = snapshot
                    .active_grants
                    .values()
                    .filter(|g| in_force(g))
                    .cloned()
                    .collect();
                v.sort_by(|a, b| a.id.cmp(&b.id));
                v
            }
        };
        let ttl = ttl_secs.unwrap_or(self.options.default_ttl_secs);
        if ttl == 0 || ttl > self.options.max_ttl_secs {
            return Err(IssueError::BadTtl {
                max: self.options.max_ttl_secs,
            });
        }
        let mut expires_at = now.saturating_add(ttl);
        if let Some(end) = carried.iter().filter_map(|g| g.ends_at).min() {
            expires_at = expires_at.min(end);
        }
        let claims = Claims {
            principal: principal.name.to_string(),
            grants: carried.iter().map(|g| g.id.clone()).collect(),
            epoch: snapshot
                .principal_epochs
                .get(&*principal.name)
                .copied()
                .unwrap_or(0),
            issued_at: now,
            expires_at,
        };
        Ok(self.ring.mint(&claims)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::tests::sample;
    use crate::grants::{approve, request, GrantRequest};
    use countersign_policy::RequestContext;

    fn authority() -> Authority {
        Authority::new(
            KeyRing::from_keys([(1, crate::KeyState::Active, &[7u8; 32][..])]).unwrap(),
            Arc::new(sample()),
            AuthorityOptions::default(),
        )
    }

    fn active_grant(a: &Authority, id: &str, now: u64) -> crate::Grant {
        let g = request(
            a.directory(),
            &GrantRequest {
                principal: "alice",
                role: "uploads-writer",
                duration_secs: 120,
                reason: Some("fix"),
                ticket: None,
            },
            id.into(),
            now,
        )
        .unwrap();
        approve(a.directory(), &g, "bob", None, now).unwrap()
    }

    fn install(a: &Authority, version: u64, grants: &[&crate::Grant]) {
        a.install_snapshot(Snapshot {
            active_grants: grants
                .iter()
                .map(|g| (g.id.clone(), Arc::new((*g).clone())))
                .collect(),
            version,
            ..Snapshot::default()
        });
    }

    fn allows(p: &EffectivePolicy, action: &str, resource: &str) -> bool {
        p.policy
            .evaluate(&RequestContext::for_request(action, resource))
            .is_allowed()
    }

    #[test]
    fn sessions_open_expire_and_revoke() {
        let a = authority();
        let c = a.issue("alice", None, Some(60), 1_000).unwrap();
        assert_eq!(c.expires_at, 1_060);
        let s = a
            .session(&c.access_key_id, Some(&c.session_token), 1_010)
            .unwrap();
        assert_eq!(&*s.principal.name, "alice");
        // Cached: the same answer, and still bound to its key.
        let other = a.issue("alice", None, Some(60), 1_000).unwrap();
        assert_eq!(
            a.session(&other.access_key_id, Some(&c.session_token), 1_010)
                .unwrap_err(),
            SessionError::InvalidToken
        );
        assert_eq!(
            a.session(&c.access_key_id, Some(&c.session_token), 1_060)
                .unwrap_err(),
            SessionError::Expired
        );
        assert_eq!(
            a.session(&c.access_key_id, None, 1_010).unwrap_err(),
            SessionError::InvalidToken
        );
        a.install_snapshot(Snapshot {
            revoked_credentials: [c.access_key_id.clone()].into(),
            version: 1,
            ..Snapshot::default()
        });
        assert_eq!(
            a.session(&c.access_key_id, Some(&c.session_token), 1_010)
                .unwrap_err(),
            SessionError::Revoked
        );
        assert!(a
            .session(&other.access_key_id, Some(&other.session_token), 1_010)
            .is_ok());
        // Bumping alice's epoch revokes every session issued before.
        a.install_snapshot(Snapshot {
            principal_epochs: [("alice".to_owned(), 1)].into(),
            version: 2,
            ..Snapshot::default()
        });
        assert_eq!(
            a.session(&other.access_key_id, Some(&other.session_token), 1_010)
                .unwrap_err(),
            SessionError::Revoked
        );
        let fresh = a.issue("alice", None, None, 1_000).unwrap();
        assert!(a
            .session(&fresh.access_key_id, Some(&fresh.session_token), 1_010)
            .is_ok());
    }

    #[test]
    fn grants_widen_the_policy_while_in_force() {
        let a = authority();
        let g = active_grant(&a, "g-1", 1_000);
        install(&a, 1, &[&g]);
        let c = a.issue("alice", None, None, 1_000).unwrap();
        // The credential ends with its grant.
        assert_eq!(c.expires_at, 1_120);
        let s = a
            .session(&c.access_key_id, Some(&c.session_token), 1_001)
            .unwrap();
        assert_eq!(s.claims.grants, ["g-1"]);
        let p = a.effective_policy(&s.principal, &s.claims.grants, 1_001);
        assert!(allows(&p, "s3:GetObject", "arn:aws:s3:::data/x"));
        assert!(allows(&p, "s3:PutObject", "arn:aws:s3:::data/uploads/x"));
        assert!(!allows(&p, "s3:PutObject", "arn:aws:s3:::data/other/x"));
        let decision = p.policy.evaluate(&RequestContext::for_request(
            "s3:PutObject",
            "arn:aws:s3:::data/uploads/x",
        ));
        assert_eq!(p.grant_of(decision.deciding.unwrap()), Some("g-1"));
        assert_eq!(p.valid_until, Some(1_120));

        // Past its end the grant no longer applies, same snapshot.
        let p = a.effective_policy(&s.principal, &s.claims.grants, 1_120);
        assert!(!allows(&p, "s3:PutObject", "arn:aws:s3:::data/uploads/x"));

        // Revoked: the next snapshot drops it.
        install(&a, 2, &[]);
        let p = a.effective_policy(&s.principal, &s.claims.grants, 1_002);
        assert!(!allows(&p, "s3:PutObject", "arn:aws:s3:::data/uploads/x"));
        assert!(allows(&p, "s3:GetObject", "arn:aws:s3:::data/x"));
        // An older snapshot arriving late is ignored.
        install(&a, 1, &[&g]);
        assert_eq!(a.snapshot().version, 2);
    }

    #[test]
    fn the_session_memo_never_outlives_a_change_or_a_grant_end() {
        let a = authority();
        let g = active_grant(&a, "g-1", 1_000);
        install(&a, 1, &[&g]);
        let c = a.issue("alice", None, None, 1_000).unwrap();
        let s = a
            .session(&c.access_key_id, Some(&c.session_token), 1_001)
            .unwrap();
        let write = |p: &EffectivePolicy| allows(p, "s3:PutObject", "arn:aws:s3:::data/uploads/x");
        assert!(write(&a.session_policy(&s, 1_001)));
        assert!(write(&a.session_policy(&s, 1_119)), "memo reused");
        assert!(!write(&a.session_policy(&s, 1_120)), "the grant ended");
        // A new snapshot (revocation) invalidates the memo at once.
        let c2 = a.issue("alice", None, None, 1_000).unwrap();
        let s2 = a
            .session(&c2.access_key_id, Some(&c2.session_token), 1_002)
            .unwrap();
        assert!(write(&a.session_policy(&s2, 1_002)));
        install(&a, 2, &[]);
        assert!(!write(&a.session_policy(&s2, 1_003)));
        assert!(allows(
            &a.session_policy(&s2, 1_003),
            "s3:GetObject",
            "arn:aws:s3:::data/x"
        ));
    }

    #[test]
    fn a_grant_of_someone_else_is_not_carried() {
        let a = authority();
        let g = active_grant(&a, "g-1", 1_000);
        install(&a, 1, &[&g]);
        let bob = a.directory().principal("bob").unwrap().clone();
        let p = a.effective_policy(&bob, &["g-1".to_owned()], 1_001);
        assert!(!allows(&p, "s3:PutObject", "arn:aws:s3:::data/uploads/x"));
        assert!(matches!(
            a.issue("bob", Some(&["g-1".to_owned()]), None, 1_001),
            Err(IssueError::GrantNotActive(_))
        ));
        assert!(matches!(
            a.issue("alice", None, Some(0), 1_001),
            Err(IssueError::BadTtl { .. })
        ));
        assert!(matches!(
            a.issue("nobody", None, None, 1_001),
            Err(IssueError::UnknownPrincipal(_))
        ));
    }
}
