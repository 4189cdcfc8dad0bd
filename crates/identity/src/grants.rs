//! Just-in-time grants and their life cycle, as pure transitions.
//!
//! ```text
//! requested ──approve (enough approvals)──▶ active ──(until passes)──▶ expired
//!     │                                        └──revoke──▶ revoked
//!     └──deny──▶ denied
//! ```
//!
//! Each transition takes the directory, the actor and `now`, checks who may
//! do it, and returns the new grant with one more history entry; nothing
//! here touches a store. Extending a grant means requesting a new one.

use serde::{Deserialize, Serialize};

use crate::directory::{Approval, Directory};

/// Longest reason or ticket accepted, in bytes.
pub const MAX_TEXT: usize = 1024;

/// Where a grant is in its life cycle, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Waiting for approvals.
    Requested,
    /// Approved; in force from `starts_at` until `ends_at`.
    Active,
    /// Refused by an approver.
    Denied,
    /// Ended early by someone.
    Revoked,
    /// Reached `ends_at` (recorded by the sweeper; an active grant past its
    /// end is treated as expired before that).
    Expired,
}

impl GrantState {
    /// The state as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Active => "active",
            Self::Denied => "denied",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }

    /// Parses [`GrantState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => Self::Requested,
            "active" => Self::Active,
            "denied" => Self::Denied,
            "revoked" => Self::Revoked,
            "expired" => Self::Expired,
            _ => return None,
        })
    }
}

/// One transition in a grant's history: who, when, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantEvent {
    /// Unix seconds.
    pub at: u64,
    /// The principal who acted (`countersign` for automatic steps).
    pub actor: String,
    /// `requested`, `approved`, `activated`, `denied`, `revoked`, `expired`.
    pub action: String,
    /// The reason or comment given, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A just-in-time grant of one role to one principal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `g-` and 16 hex digits.
    pub id: String,
    /// Who holds (or asked for) it.
    pub principal: String,
    /// The role granted.
    pub role: String,
    /// Why it was requested.
    pub reason: Option<String>,
    /// Change or incident ticket, if given.
    pub ticket: Option<String>,
    /// Requested duration, seconds.
    pub duration_secs: u64,
    /// Unix seconds.
    pub requested_at: u64,
    /// Stored state.
    pub state: GrantState,
    /// When it became active (unix seconds).
    pub starts_at: Option<u64>,
    /// When it ends (unix seconds).
    pub ends_at: Option<u64>,
    /// Principals who approved it so far.
    pub approvals: Vec<String>,
    /// Every transition.
    pub history: Vec<GrantEvent>,
    /// Optimistic-concurrency version: bumped by every stored change.
    pub version: u64,
}

impl Grant {
    /// The state at `now`: an active grant past its end is expired.
    pub fn state_at(&self, now: u64) -> GrantState {
        match (self.state, self.ends_at) {
            (GrantState::Active, Some(end)) if now >= end => GrantState::Expired,
            (s, _) => s,
        }
    }

    /// Whether it is in force at `now`.
    pub fn is_active_at(&self, now: u64) -> bool {
        self.state_at(now) == GrantState::Active && self.starts_at.is_some_and(|s| s <= now)
    }
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// No such principal in the directory.
    #[error("no principal {0:?}")]
    UnknownPrincipal(String),
    /// No such role in the directory.
    #[error("no role {0:?}")]
    UnknownRole(String),
    /// The principal is not among the role's requesters.
    #[error("{principal} may not request role {role}")]
    NotARequester {
        /// Who asked.
        principal: String,
        /// The role.
        role: String,
    },
    /// The duration is zero or over the role's maximum.
    #[error("duration {requested}s is not within 1s..={max}s for role {role}")]
    BadDuration {
        /// The role.
        role: String,
        /// Asked for, seconds.
        requested: u64,
        /// The role's maximum, seconds.
        max: u64,
    },
    /// The role needs a reason (or ticket) and none was given.
    #[error("role {role} requires a {what}")]
    Missing {
        /// The role.
        role: String,
        /// `reason` or `ticket`.
        what: &'static str,
    },
    /// A reason, ticket or comment is too long or has control characters.
    #[error("{0} must be at most 1024 bytes without control characters")]
    BadText(&'static str),
    /// The grant is not in a state that allows this.
    #[error("grant {id} is {state}, cannot {action}")]
    WrongState {
        /// The grant.
        id: String,
        /// Its state now.
        state: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// Someone tried to approve their own request.
    #[error("{0} cannot approve their own request")]
    SelfApproval(String),
    /// The approver is not in the role's approver group.
    #[error("{approver} is not in group {group}, which approves role {role}")]
    NotAnApprover {
        /// Who tried.
        approver: String,
        /// The group that may approve.
        group: String,
        /// The role.
        role: String,
    },
    /// The same principal approved twice.
    #[error("{0} has already approved this grant")]
    AlreadyApproved(String),
    /// The actor may not revoke this grant.
    #[error("{actor} may not revoke grant {id}: only its holder, its approvers and operators may")]
    NotAllowedToRevoke {
        /// Who tried.
        actor: String,
        /// The grant.
        id: String,
    },
}

fn check_text(value: Option<&str>, what: &'static str) -> Result<Option<String>, GrantError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.len() > MAX_TEXT || v.chars().any(char::is_control) => {
            Err(GrantError::BadText(what))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// A request for a role, as a principal makes it.
#[derive(Clone, Debug)]
pub struct GrantRequest<'a> {
    /// Who asks (and will hold the grant).
    pub principal: &'a str,
    /// The role.
    pub role: &'a str,
    /// Duration, seconds.
    pub duration_secs: u64,
    /// Why.
    pub reason: Option<&'a str>,
    /// Ticket reference.
    pub ticket: Option<&'a str>,
}

/// The actor the automatic steps are recorded under.
pub const SYSTEM_ACTOR: &str = "countersign";

/// Creates a grant from a request: checks the requester, duration, reason
/// and ticket; a role with automatic approval is active at once.
pub fn request(
    directory: &Directory,
    req: &GrantRequest<'_>,
    id: String,
    now: u64,
) -> Result<Grant, GrantError> {
    if directory.principal(req.principal).is_none() {
        return Err(GrantError::UnknownPrincipal(req.principal.to_owned()));
    }
    let role = directory
        .role(req.role)
        .ok_or_else(|| GrantError::UnknownRole(req.role.to_owned()))?;
    if !directory.may_request(req.principal, role) {
        return Err(GrantError::NotARequester {
            principal: req.principal.to_owned(),
            role: role.name.clone(),
        });
    }
    if req.duration_secs == 0 || req.duration_secs > role.max_duration_secs {
        return Err(GrantError::BadDuration {
            role: role.name.clone(),
            requested: req.duration_secs,
            max: role.max_duration_secs,
        });
    }
    let reason = check_text(req.reason, "reason")?;
    let ticket = check_text(req.ticket, "ticket")?;
    if role.require_reason && reason.is_none() {
        return Err(GrantError::Missing {
            role: role.name.clone(),
            what: "reason",
        });
    }
    if role.require_ticket && ticket.is_none() {
        return Err(GrantError::Missing {
            role: role.name.clone(),
            what: "ticket",
        });
    }
    let mut grant = Grant {
        id,
        principal: req.principal.to_owned(),
        role: role.name.clone(),
        reason: reason.clone(),
        ticket,
        duration_secs: req.duration_secs,
        requested_at: now,
        state: GrantState::Requested,
        starts_at: None,
        ends_at: None,
        approvals: Vec::new(),
        history: vec![GrantEvent {
            at: now,
            actor: req.principal.to_owned(),
            action: "requested".into(),
            note: reason,
        }],
        version: 0,
    };
    if matches!(role.approval, Approval::Automatic) {
        activate(
            &mut grant,
            SYSTEM_ACTOR,
            Some("automatic approval".into()),
            now,
        );
    }
    Ok(grant)
}

fn activate(grant: &mut Grant, actor: &str, note: Option<String>, now: u64) {
    grant.state = GrantState::Active;
    grant.starts_at = Some(now);
    grant.ends_at = Some(now.saturating_add(grant.duration_secs));
    grant.history.push(GrantEvent {
        at: now,
        actor: actor.to_owned(),
        action: "activated".into(),
        note,
    });
}

fn wrong_state(grant: &Grant, now: u64, action: &'static str) -> GrantError {
    GrantError::WrongState {
        id: grant.id.clone(),
        state: grant.state_at(now).as_str(),
        action,
    }
}

/// Records an approval; with enough approvals the grant becomes active for
/// its duration, starting now. Never by the requester; only by members of
/// the role's approver group.
pub fn approve(
    directory: &Directory,
    grant: &Grant,
    approver: &str,
    comment: Option<&str>,
    now: u64,
) -> Result<Grant, GrantError> {
    if grant.state_at(now) != GrantState::Requested {
        return Err(wrong_state(grant, now, "approve"));
    }
    let role = directory
        .role(&grant.role)
        .ok_or_else(|| GrantError::UnknownRole(grant.role.clone()))?;
    if approver == grant.principal {
        return Err(GrantError::SelfApproval(approver.to_owned()));
    }
    let (needed, group) = match &role.approval {
        // Automatic roles are active from the request; nothing to approve.
        Approval::Automatic => return Err(wrong_state(grant, now, "approve")),
        Approval::Approvers { count, group } => (*count, group),
    };
    if !directory.is_member(approver, group) {
        return Err(GrantError::NotAnApprover {
            approver: approver.to_owned(),
            group: group.clone(),
            role: role.name.clone(),
        });
    }
    if grant.approvals.iter().any(|a| a == approver) {
        return Err(GrantError::AlreadyApproved(approver.to_owned()));
    }
    let comment = check_text(comment, "comment")?;
    let mut next = grant.clone();
    next.approvals.push(approver.to_owned());
    next.history.push(GrantEvent {
        at: now,
        actor: approver.to_owned(),
        action: "approved".into(),
        note: comment,
    });
    let approvals = next.approvals.len();
    if approvals >= needed as usize {
        activate(
            &mut next,
            SYSTEM_ACTOR,
            Some(format!("{approvals} of {needed} approvals")),
            now,
        );
    }
    Ok(next)
}

/// Refuses a pending request; only an approver of the role may.
pub fn deny(
    directory: &Directory,
    grant: &Grant,
    approver: &str,
    reason: Option<&str>,
    now: u64,
) -> Result<Grant, GrantError> {
    if grant.state_at(now) != GrantState::Requested {
        return Err(wrong_state(grant, now, "deny"));
    }
    let role = directory
        .role(&grant.role)
        .ok_or_else(|| GrantError::UnknownRole(grant.role.clone()))?;
    if let Approval::Approvers { group, .. } = &role.approval {
        if !directory.is_member(approver, group) {
            return Err(GrantError::NotAnApprover {
                approver: approver.to_owned(),
                group: group.clone(),
                role: role.name.clone(),
            });
        }
    }
    let reason = check_text(reason, "reason")?;
    let mut next = grant.clone();
    next.state = GrantState::Denied;
    next.history.push(GrantEvent {
        at: now,
        actor: approver.to_owned(),
        action: "denied".into(),
        note: reason,
    });
    Ok(next)
}

/// Ends a requested or active grant now. Its holder, a member of the
/// role's approver group, or an operator may.
pub fn revoke(
    directory: &Directory,
    grant: &Grant,
    actor: &str,
    actor_is_operator: bool,
    reason: Option<&str>,
    now: u64,
) -> Result<Grant, GrantError> {
    if !matches!(
        grant.state_at(now),
        GrantState::Requested | GrantState::Active
    ) {
        return Err(wrong_state(grant, now, "revoke"));
    }
    let approver = directory
        .role(&grant.role)
        .is_some_and(|role| directory.approves(actor, role));
    if !(actor_is_operator || approver || actor == grant.principal) {
        return Err(GrantError::NotAllowedToRevoke {
            actor: actor.to_owned(),
            id: grant.id.clone(),
        });
    }
    let reason = check_text(reason, "reason")?;
    let mut next = grant.clone();
    next.state = GrantState::Revoked;
    if next.ends_at.is_some_and(|end| end > now) {
        next.ends_at = Some(now);
    }
    next.history.push(GrantEvent {
        at: now,
        actor: actor.to_owned(),
        action: "revoked".into(),
        note: reason,
    });
    Ok(next)
}

/// Records that an active grant reached its end (the sweeper's step).
pub fn expire(grant: &Grant, now: u64) -> Option<Grant> {
    if grant.state != GrantState::Active || grant.state_at(now) != GrantState::Expired {
        return None;
    }
    let mut next = grant.clone();
    next.state = GrantState::Expired;
    next.history.push(GrantEvent {
        at: now,
        actor: SYSTEM_ACTOR.into(),
        action: "expired".into(),
        note: None,
    });
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::tests::sample;

    fn req<'a>(principal: &'a str, role: &'a str) -> GrantRequest<'a> {
        GrantRequest {
            principal,
            role,
            duration_secs: 120,
            reason: Some("deploy fix"),
            ticket: None,
        }
    }

    #[test]
    fn approval_by_another_group_member_activates() {
        let d = sample();
        let g = request(&d, &req("alice", "uploads-writer"), "g-1".into(), 100).unwrap();
        assert_eq!(g.state, GrantState::Requested);
        let g = approve(&d, &g, "bob", Some("ok"), 110).unwrap();
        assert_eq!(g.state, GrantState::Active);
        assert_eq!((g.starts_at, g.ends_at), (Some(110), Some(230)));
        assert!(g.is_active_at(229));
        assert!(!g.is_active_at(230));
        assert_eq!(g.state_at(230), GrantState::Expired);
        let actions: Vec<_> = g.history.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["requested", "approved", "activated"]);
    }

    #[test]
    fn self_approval_and_outsiders_are_refused() {
        let d = sample();
        // bob is an approver, but not for his own request.
        let g = request(&d, &req("bob", "uploads-writer"), "g-1".into(), 100).unwrap();
        assert_eq!(
            approve(&d, &g, "bob", None, 101),
            Err(GrantError::SelfApproval("bob".into()))
        );
        let g = request(&d, &req("alice", "uploads-writer"), "g-2".into(), 100).unwrap();
        assert!(matches!(
            approve(&d, &g, "carol", None, 101),
            Err(GrantError::NotAnApprover { .. })
        ));
        assert!(matches!(
            deny(&d, &g, "carol", None, 101),
            Err(GrantError::NotAnApprover { .. })
        ));
    }

    #[test]
    fn requests_are_checked() {
        let d = sample();
        assert!(matches!(
            request(&d, &req("carol", "uploads-writer"), "g".into(), 0),
            Err(GrantError::NotARequester { .. })
        ));
        let mut r = req("alice", "uploads-writer");
        r.duration_secs = 7201;
        assert!(matches!(
            request(&d, &r, "g".into(), 0),
            Err(GrantError::BadDuration { .. })
        ));
        r.duration_secs = 60;
        r.reason = Some("  ");
        assert!(matches!(
            request(&d, &r, "g".into(), 0),
            Err(GrantError::Missing { what: "reason", .. })
        ));
        r.reason = Some("a\u{7}b");
        assert_eq!(
            request(&d, &r, "g".into(), 0),
            Err(GrantError::BadText("reason"))
        );
        assert!(matches!(
            request(&d, &req("alice", "nope"), "g".into(), 0),
            Err(GrantError::UnknownRole(_))
        ));
    }

    #[test]
    fn automatic_roles_are_active_at_once_and_revocable() {
        let d = sample();
        let g = request(&d, &req("alice", "reader-plus"), "g-1".into(), 50).unwrap();
        assert_eq!(g.state, GrantState::Active);
        assert!(matches!(
            revoke(&d, &g, "carol", false, None, 60),
            Err(GrantError::NotAllowedToRevoke { .. })
        ));
        let r = revoke(&d, &g, "alice", false, Some("done"), 60).unwrap();
        assert_eq!(r.state, GrantState::Revoked);
        assert_eq!(r.ends_at, Some(60));
        assert!(!r.is_active_at(59 + 1));
        assert!(matches!(
            revoke(&d, &r, "alice", true, None, 61),
            Err(GrantError::WrongState { .. })
        ));
    }

    #[test]
    fn two_approvals_when_the_role_needs_two() {
        let d = sample();
        let g = request(&d, &req("alice", "admin-break-glass"), "g-1".into(), 0).unwrap();
        let g = approve(&d, &g, "bob", None, 1).unwrap();
        assert_eq!(g.state, GrantState::Requested);
        assert_eq!(
            approve(&d, &g, "bob", None, 2),
            Err(GrantError::AlreadyApproved("bob".into()))
        );
        let g = approve(&d, &g, "dave", None, 3).unwrap();
        assert_eq!(g.state, GrantState::Active);
        assert_eq!(g.starts_at, Some(3));
    }

    #[test]
    fn expiry_is_recorded_once() {
        let d = sample();
        let g = request(&d, &req("alice", "reader-plus"), "g-1".into(), 0).unwrap();
        assert!(expire(&g, 119).is_none());
        let e = expire(&g, 120).unwrap();
        assert_eq!(e.state, GrantState::Expired);
        assert!(expire(&e, 500).is_none());
        assert!(matches!(
            approve(&d, &e, "bob", None, 500),
            Err(GrantError::WrongState { .. })
        ));
    }
}
