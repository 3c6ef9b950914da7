//! Writes the audit trail for admin changes: who, what, from where, before and after. Runs
//! inside the permission guard, after the change: a refused or failed request changes nothing
//! and is not an entry.

use crate::state::{AppState, Store};
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use rouge_identity::{AuditInput, Principal};
use serde_json::Value;
use uuid::Uuid;

/// Fields never written to the trail: secrets, and staff members' personal data (the trail
/// is not encrypted; the staff records are).
fn redact(route: &str, v: &mut Value) {
    let fields: &[&str] = if route.starts_with("/v1/admin/staff") {
        &["email", "name", "password"]
    } else if route.starts_with("/v1/admin/api-keys") {
        &["secret"]
    } else {
        &["password"]
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

/// The ids in a concrete path, by the names the route template gives them.
fn ids(route: &str, path: &str) -> Vec<(String, Uuid)> {
    route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, p)| Some((t.strip_prefix('{')?.strip_suffix('}')?.to_owned(), Uuid::try_parse(p).ok()?)))
        .collect()
}

/// The resource's state before a change, for the routes that change one resource.
async fn before<S: Store>(app: &AppState<S>, route: &str, path: &str) -> Option<Value> {
    let ids = ids(route, path);
    let id = |name: &str| ids.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    match route {
        "/v1/admin/products/{id}" => app.store.product(id("id")?).await.ok()?.map(|p| json(&p)),
        "/v1/admin/products/{id}/variants/{variant_id}" => {
            let p = app.store.product(id("id")?).await.ok()??;
            p.variants.iter().find(|v| Some(v.id) == id("variant_id")).map(json)
        }
        "/v1/admin/brands/{id}" => {
            app.store.brands().await.ok()?.into_iter().find(|b| Some(b.id) == id("id")).map(|b| json(&b))
        }
        "/v1/admin/categories/{id}" => {
            app.store.categories().await.ok()?.into_iter().find(|c| Some(c.id) == id("id")).map(|c| json(&c))
        }
        "/v1/admin/attributes/{id}" => {
            app.store.attributes().await.ok()?.into_iter().find(|a| Some(a.id) == id("id")).map(|a| json(&a))
        }
        "/v1/admin/staff/{id}" => {
            app.identity.list_staff().await.ok()?.into_iter().find(|s| Some(s.id) == id("id")).map(|s| json(&s))
        }
        "/v1/admin/api-keys/{id}" => {
            app.identity.list_api_keys().await.ok()?.into_iter().find(|k| Some(k.id) == id("id")).map(|k| json(&k))
        }
        _ => None,
    }
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Runs the request; when it changed something, appends the entry.
pub async fn record<S: Store>(app: &AppState<S>, principal: Principal, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let route = req.extensions().get::<MatchedPath>().map_or_else(String::new, |m| m.as_str().to_owned());
    let path = req.uri().path().to_owned();
    let address = crate::rest::auth::peer(req.extensions());
    let mut prior = if method == Method::POST { None } else { before(app, &route, &path).await };
    let res = next.run(req).await;
    // A replayed answer (same Idempotency-Key) changed nothing this time.
    if !res.status().is_success() || res.headers().contains_key(crate::idempotency::REPLAYED) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, crate::BODY_LIMIT).await.unwrap_or_default();
    let mut after = serde_json::from_slice::<Value>(&bytes).ok();
    if let Some(v) = after.as_mut() {
        redact(&route, v);
    }
    if let Some(v) = prior.as_mut() {
        redact(&route, v);
    }
    let change = Change { principal, address, action: method.to_string(), route, path, status: parts.status.as_u16() };
    append(app, change, prior, after).await;
    Response::from_parts(parts, Body::from(bytes))
}

/// Who changed what, for the trail.
pub struct Change {
    pub principal: Principal,
    pub address: String,
    /// The HTTP method (GraphQL mutations name the REST method of the same change).
    pub action: String,
    /// The REST route template of the change (GraphQL's name the same), so one filter finds both.
    pub route: String,
    pub path: String,
    pub status: u16,
}

/// Appends an entry for a change already committed.
pub async fn append<S: Store>(app: &AppState<S>, c: Change, before: Option<Value>, after: Option<Value>) {
    let entry = AuditInput {
        id: Uuid::now_v7(),
        at_ms: chrono::Utc::now().timestamp_millis(),
        actor: c.principal.actor,
        address: c.address,
        action: c.action,
        route: c.route,
        path: c.path,
        status: c.status,
        before,
        after,
    };
    if let Err(e) = app.store.append_audit(&entry).await {
        // The change is committed; losing its entry must be loud.
        tracing::error!(error = %e, entry = %entry.id, route = %entry.route, "could not write the audit entry");
    }
}
