//! Who exists and what they may ask for: principals, groups and roles.
//!
//! The directory is configuration (it comes from the gateway's TOML file and
//! changes with it); grants, revocations and sessions are state (they live
//! in the [`Store`](crate::store::Store)).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use countersign_policy::{CompiledPolicy, PolicyDocument};

/// A person or a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// A person.
    Person,
    /// A service, job or machine.
    #[default]
    Workload,
}

/// A principal with its standing policies compiled.
pub struct Principal {
    /// Unique name.
    pub name: Arc<str>,
    /// Person or workload.
    pub kind: PrincipalKind,
    /// Tags, visible to policies as `aws:PrincipalTag/<key>`.
    pub tags: BTreeMap<String, String>,
    /// Groups it belongs to (its own list plus groups that name it).
    pub groups: Vec<String>,
    /// Standing policies: (name, document).
    pub policies: Vec<(String, Arc<PolicyDocument>)>,
    /// The standing policies, compiled.
    pub standing: Arc<CompiledPolicy>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// How a role's grants get approved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approval {
    /// Active as soon as requested.
    Automatic,
    /// `count` distinct members of `group`, never the requester.
    Approvers {
        /// Approvals needed (at least 1).
        count: u32,
        /// The group whose members may approve.
        group: String,
    },
}

/// A named bundle of policies that can be granted for a while.
#[derive(Clone, Debug)]
pub struct Role {
    /// Unique name.
    pub name: String,
    /// Its policies: (name, document).
    pub policies: Vec<(String, Arc<PolicyDocument>)>,
    /// Who may request it: principal names and `group:<name>` entries.
    pub requesters: Vec<String>,
    /// Longest grant, seconds.
    pub max_duration_secs: u64,
    /// Approval rule.
    pub approval: Approval,
    /// A reason is required.
    pub require_reason: bool,
    /// A ticket reference is required.
    pub require_ticket: bool,
}

/// A principal as the directory is given it.
#[derive(Clone, Debug)]
pub struct PrincipalSpec {
    /// Unique name.
    pub name: String,
    /// Person or workload.
    pub kind: PrincipalKind,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Groups it says it belongs to.
    pub groups: Vec<String>,
    /// Standing policies: (name, document).
    pub policies: Vec<(String, PolicyDocument)>,
}

/// A group as the directory is given it.
#[derive(Clone, Debug)]
pub struct GroupSpec {
    /// Unique name.
    pub name: String,
    /// Member principals.
    pub members: Vec<String>,
}

/// Why a directory is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Two entries with one name.
    #[error("duplicate {what} {name:?}")]
    Duplicate {
        /// `principal`, `group` or `role`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A reference to something that does not exist.
    #[error("{from}: no {what} {name:?}")]
    Dangling {
        /// Where the reference is.
        from: String,
        /// `principal` or `group`.
        what: &'static str,
        /// The missing name.
        name: String,
    },
    /// A role setting out of range.
    #[error("role {role}: {reason}")]
    BadRole {
        /// The role.
        role: String,
        /// Why.
        reason: String,
    },
    /// Standing policies that do not compile together.
    #[error("principal {principal}: {reason}")]
    Policy {
        /// The principal.
        principal: String,
        /// Why.
        reason: String,
    },
}

/// Principals, groups and roles, validated and indexed.
#[derive(Debug, Default)]
pub struct Directory {
    principals: HashMap<String, Arc<Principal>>,
    groups: HashMap<String, HashSet<String>>,
    roles: HashMap<String, Arc<Role>>,
}

impl Directory {
    /// Validates and indexes. Group membership is the union of a
    /// principal's `groups` and the groups' `members`.
    pub fn new(
        principals: Vec<PrincipalSpec>,
        groups: Vec<GroupSpec>,
        roles: Vec<Role>,
    ) -> Result<Self, DirectoryError> {
        let names: HashSet<String> = principals.iter().map(|p| p.name.clone()).collect();
        if names.len() != principals.len() {
            let mut seen = HashSet::new();
            let dup = principals
                .iter()
                .find(|p| !seen.insert(&p.name))
                .map(|p| p.name.clone())
                .unwrap_or_default();
            return Err(DirectoryError::Duplicate {
                what: "principal",
                name: dup,
            });
        }
        let mut group_members: HashMap<String, HashSet<String>> = HashMap::new();
        for g in &groups {
            if group_members.contains_key(&g.name) {
                return Err(DirectoryError::Duplicate {
                    what: "group",
                    name: g.name.clone(),
                });
            }
            for m in &g.members {
                if !names.contains(m) {
                    return Err(DirectoryError::Dangling {
                        from: format!("group {}", g.name),
                        what: "principal",
                        name: m.clone(),
                    });
                }
            }
            group_members.insert(g.name.clone(), g.members.iter().cloned().collect());
        }
        for p in &principals {
            for g in &p.groups {
                group_members
                    .get_mut(g)
                    .ok_or_else(|| DirectoryError::Dangling {
                        from: format!("principal {}", p.name),
                        what: "group",
                        name: g.clone(),
                    })?
                    .insert(p.name.clone());
            }
        }
        let mut indexed = HashMap::new();
        for p in principals {
            let mut groups: Vec<String> = group_members
                .iter()
                .filter(|(_, m)| m.contains(&p.name))
                .map(|(g, _)| g.clone())
                .collect();
            groups.sort();
            let policies: Vec<(String, Arc<PolicyDocument>)> = p
                .policies
                .into_iter()
                .map(|(n, d)| (n, Arc::new(d)))
                .collect();
            let standing =
                CompiledPolicy::compile(policies.iter().map(|(n, d)| (n.as_str(), d.as_ref())))
                    .map_err(|e| DirectoryError::Policy {
                        principal: p.name.clone(),
                        reason: e.to_string(),
                    })?;
            indexed.insert(
                p.name.clone(),
                Arc::new(Principal {
                    name: p.name.as_str().into(),
                    kind: p.kind,
                    tags: p.tags,
                    groups,
                    policies,
                    standing: Arc::new(standing),
                }),
            );
        }
        let mut role_index = HashMap::new();
        for r in roles {
            let bad = |reason: &str| DirectoryError::BadRole {
                role: r.name.clone(),
                reason: reason.to_owned(),
            };
            if r.max_duration_secs == 0 {
                return Err(bad("max_duration must be positive"));
            }
            if r.policies.is_empty() {
                return Err(bad("needs at least one policy"));
            }
            if let Approval::Approvers { count, group } = &r.approval {
                let members = group_members
                    .get(group)
                    .ok_or_else(|| DirectoryError::Dangling {
                        from: format!("role {}", r.name),
                        what: "group",
                        name: group.clone(),
                    })?;
                if *count == 0 {
                    return Err(bad("approvals must be at least 1"));
                }
                // Nobody can approve their own request, so a group of N can
                // give at most N-1 approvals to one of its own members; the
                // group must at least be able to approve someone.
                if (members.len() as u64) < u64::from(*count) {
                    return Err(bad(
                        "the approver group has fewer members than the approvals needed",
                    ));
                }
            }
            for who in &r.requesters {
                let ok = match who.strip_prefix("group:") {
                    Some(g) => group_members.contains_key(g),
                    None => names.contains(who) || who == "*",
                };
                if !ok {
                    return Err(DirectoryError::Dangling {
                        from: format!("role {} requesters", r.name),
                        what: if who.starts_with("group:") {
                            "group"
                        } else {
                            "principal"
                        },
                        name: who.clone(),
                    });
                }
            }
            if role_index.contains_key(&r.name) {
                return Err(DirectoryError::Duplicate {
                    what: "role",
                    name: r.name.clone(),
                });
            }
            role_index.insert(r.name.clone(), Arc::new(r));
        }
        Ok(Self {
            principals: indexed,
            groups: group_members,
            roles: role_index,
        })
    }

    /// A principal by name.
    pub fn principal(&self, name: &str) -> Option<&Arc<Principal>> {
        self.principals.get(name)
    }

    /// Every principal's name.
    pub fn principal_names(&self) -> impl Iterator<Item = &str> {
        self.principals.keys().map(String::as_str)
    }

    /// A role by name.
    pub fn role(&self, name: &str) -> Option<&Arc<Role>> {
        self.roles.get(name)
    }

    /// All roles, sorted by name.
    pub fn roles(&self) -> Vec<&Arc<Role>> {
        let mut v: Vec<_> = self.roles.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Whether `principal` is a member of `group`.
    pub fn is_member(&self, principal: &str, group: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|m| m.contains(principal))
    }

    /// Whether `principal` is in the approver group of `role` (never true
    /// for automatically approved roles).
    pub fn approves(&self, principal: &str, role: &Role) -> bool {
        matches!(&role.approval, Approval::Approvers { group, .. } if self.is_member(principal, group))
    }

    /// Whether `principal` may request `role`.
    pub fn may_request(&self, principal: &str, role: &Role) -> bool {
        role.requesters
            .iter()
            .any(|who| match who.strip_prefix("group:") {
                Some(g) => self.is_member(principal, g),
                None => who == principal || who == "*",
            })
    }

    /// Number of principals.
    pub fn len(&self) -> usize {
        self.principals.len()
    }

    /// Whether there are no principals.
    pub fn is_empty(&self) -> bool {
        self.principals.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn doc(json: &str) -> PolicyDocument {
        PolicyDocument::parse(json).unwrap()
    }

    pub(crate) const S3_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#;
    pub(crate) const UPLOADS_WRITE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"WriteUploads","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::data/uploads/*"}]}"#;

    /// alice (data team) may request uploads-writer, approved by one of
    /// the sre group (bob, dave); carol is in no group.
    pub(crate) fn sample() -> Directory {
        let person = |name: &str, groups: &[&str]| PrincipalSpec {
            name: name.into(),
            kind: PrincipalKind::Person,
            tags: BTreeMap::from([("team".to_owned(), "data".to_owned())]),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            policies: vec![("s3-read".into(), doc(S3_READ))],
        };
        let role = |name: &str, approval: Approval| Role {
            name: name.into(),
            policies: vec![("uploads-write".into(), Arc::new(doc(UPLOADS_WRITE)))],
            requesters: vec!["group:data".into(), "bob".into()],
            max_duration_secs: 7200,
            approval,
            require_reason: true,
            require_ticket: false,
        };
        Directory::new(
            vec![
                person("alice", &["data"]),
                person("bob", &["sre"]),
                person("carol", &[]),
                person("dave", &[]),
            ],
            vec![
                GroupSpec {
                    name: "sre".into(),
                    members: vec!["dave".into()],
                },
                GroupSpec {
                    name: "data".into(),
                    members: vec![],
                },
            ],
            vec![
                role(
                    "uploads-writer",
                    Approval::Approvers {
                        count: 1,
                        group: "sre".into(),
                    },
                ),
                role("reader-plus", Approval::Automatic),
                role(
                    "admin-break-glass",
                    Approval::Approvers {
                        count: 2,
                        group: "sre".into(),
                    },
                ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn membership_is_the_union_of_both_sides() {
        let d = sample();
        assert!(d.is_member("bob", "sre"));
        assert!(d.is_member("dave", "sre"));
        assert!(d.is_member("alice", "data"));
        assert!(!d.is_member("carol", "sre"));
        assert_eq!(d.principal("bob").unwrap().groups, ["sre"]);
        let role = d.role("uploads-writer").unwrap();
        assert!(d.may_request("alice", role));
        assert!(d.may_request("bob", role));
        assert!(!d.may_request("carol", role));
    }

    #[test]
    fn dangling_references_are_refused() {
        let err = Directory::new(
            vec![],
            vec![GroupSpec {
                name: "g".into(),
                members: vec!["ghost".into()],
            }],
            vec![],
        )
        .unwrap_err();
        assert!(err.to_string().contains("ghost"), "{err}");
    }
}
