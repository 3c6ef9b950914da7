//! The audit trail: every change made through the admin API, who made it, from where, and the
//! state before and after. Entries are hash-chained (each hash covers the entry and the hash
//! before it) and the chain's head is kept apart, so editing, deleting or truncating entries
//! is detected by [`verify`].

use crate::staff::Actor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

/// What the caller records; the store adds the sequence and the hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditInput {
    pub id: Uuid,
    /// Unix milliseconds.
    pub at_ms: i64,
    pub actor: Actor,
    /// The caller's address.
    pub address: String,
    /// `POST`, `PATCH`, `DELETE`, …
    pub action: String,
    /// The route template, e.g. `/v1/admin/products/{id}`.
    pub route: String,
    pub path: String,
    pub status: u16,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditInput,
    pub prev_hash: String,
    pub hash: String,
}

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry chained to `prev`.
pub fn chain_hash(prev: &str, seq: i64, e: &AuditInput) -> String {
    let body = serde_json::to_vec(e).expect("entries serialise");
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(&body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What is wrong with a chain, at the first entry where it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("entry {0} was changed after it was written")]
    Edited(i64),
    #[error("entries are missing before entry {0}")]
    Missing(i64),
    #[error(
        "entries are missing at the end: the head says {expected} entries ending in {hash}, the log ends at {found}"
    )]
    Truncated { expected: i64, found: i64, hash: String },
}

/// Checks every entry (in sequence order) and the head (entry count and last hash).
///
/// # Errors
/// The first break found.
pub fn verify(entries: &[AuditEntry], head: Option<(i64, String)>) -> Result<usize, ChainError> {
    let mut prev = GENESIS.to_owned();
    for (expected_seq, e) in (1..).zip(entries) {
        if e.seq != expected_seq || e.prev_hash != prev {
            return Err(ChainError::Missing(e.seq));
        }
        if chain_hash(&prev, e.seq, &e.entry) != e.hash {
            return Err(ChainError::Edited(e.seq));
        }
        prev = e.hash.clone();
    }
    let (count, last) = head.unwrap_or((0, GENESIS.to_owned()));
    if count != entries.len() as i64 || last != prev {
        return Err(ChainError::Truncated { expected: count, found: entries.len() as i64, hash: last });
    }
    Ok(entries.len())
}

/// The whole trail, oldest first, and its head (entry count, last hash) if anything was written.
pub type AuditChain = (Vec<AuditEntry>, Option<(i64, String)>);

/// Filters for listing the trail.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<Uuid>,
    pub route: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Entries before this sequence (paging backwards from the newest).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let entry = AuditInput {
                    id: Uuid::now_v7(),
                    at_ms: seq,
                    actor: Actor::Staff(Uuid::nil()),
                    address: "203.0.113.1".into(),
                    action: "PATCH".into(),
                    route: "/v1/admin/brands/{id}".into(),
                    path: format!("/v1/admin/brands/{seq}"),
                    status: 200,
                    before: Some(serde_json::json!({"name": "Old"})),
                    after: Some(serde_json::json!({"name": "New"})),
                };
                let hash = chain_hash(&prev, seq, &entry);
                let e = AuditEntry { seq, entry, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_tampering_is_found() {
        let c = chain(4);
        let head = Some((4, c[3].hash.clone()));
        assert_eq!(verify(&c, head.clone()), Ok(4));
        let mut edited = c.clone();
        edited[1].entry.after = Some(serde_json::json!({"name": "Forged"}));
        assert_eq!(verify(&edited, head.clone()), Err(ChainError::Edited(2)));
        let mut deleted = c.clone();
        deleted.remove(2);
        assert_eq!(verify(&deleted, head.clone()), Err(ChainError::Missing(4)));
        let truncated = c[..3].to_vec();
        assert!(matches!(verify(&truncated, head), Err(ChainError::Truncated { expected: 4, found: 3, .. })));
        assert_eq!(verify(&[], None), Ok(0));
    }
}

/// Who is making the changes of the current request, and through which route: set around an
/// admin request (REST or GraphQL) by [`within`]. The store reads it inside each audited
/// change's transaction and appends the entry there, with the state before and after taken
/// from the domain objects it reads and writes: a change and its entry commit together or not
/// at all. The fields are those of [`AuditInput`]; GraphQL's mutations name the REST method and
/// route of the same change, so one filter finds both, and `status` is the one the API answers
/// the change with when it succeeds (an entry exists only for a change that committed).
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub actor: Actor,
    pub address: String,
    pub action: String,
    pub route: String,
    pub path: String,
    pub status: u16,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs `f` (a request's handling) with its changes audited under `scope`.
pub async fn within<F: Future>(scope: Scope, f: F) -> F::Output {
    SCOPE.scope(scope, f).await
}

/// The scope the current task's changes are audited under, if any.
pub fn current() -> Option<Scope> {
    SCOPE.try_with(Scope::clone).ok()
}

impl Scope {
    /// The entry for one change, secrets and staff personal data redacted.
    pub fn entry(&self, mut before: Option<serde_json::Value>, mut after: Option<serde_json::Value>) -> AuditInput {
        for v in before.iter_mut().chain(after.iter_mut()) {
            redact(&self.route, v);
        }
        AuditInput {
            id: Uuid::now_v7(),
            at_ms: chrono::Utc::now().timestamp_millis(),
            actor: self.actor.clone(),
            address: self.address.clone(),
            action: self.action.clone(),
            route: self.route.clone(),
            path: self.path.clone(),
            status: self.status,
            before,
            after,
        }
    }
}

/// Fields never written to the trail: secrets, and staff members' personal data (the trail
/// is not encrypted; the staff records are).
fn redact(route: &str, v: &mut serde_json::Value) {
    use serde_json::Value;
    let fields: &[&str] = if route.starts_with("/v1/admin/staff") {
        &["email", "name", "password", "password_hash", "email_index", "key"]
    } else if route.starts_with("/v1/admin/api-keys") {
        &["secret", "hash"]
    } else {
        &["password", "password_hash"]
    };
    match v {
        Value::Object(map) => {
            for f in fields {
                if let Some(x) = map.get_mut(*f) {
                    *x = Value::String("[redacted]".into());
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| redact(route, i)),
        _ => {}
    }
}

/// A staff member as the trail shows one: what the change is about, none of the sealed
/// personal fields or the password hash.
pub fn staff_view(s: &crate::StaffRecord) -> serde_json::Value {
    serde_json::json!({"id": s.id, "role_id": s.role_id, "created_at": s.created_at, "disabled_at": s.disabled_at})
}

/// An API key as the trail shows one: not its hash.
pub fn api_key_view(k: &crate::ApiKeyRecord) -> serde_json::Value {
    serde_json::json!({
        "id": k.id, "name": k.name, "permissions": k.permissions, "created_by": k.created_by,
        "created_at": k.created_at, "revoked_at": k.revoked_at,
    })
}
