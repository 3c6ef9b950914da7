//! Reading the audit trail (`audit:read`).

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::state::{AppState, Store};
use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use rouge_identity::{AuditEntry, AuditFilter, Permission};
use rouge_kernel::{FieldError, Validation};
use serde::Serialize;
use utoipa::ToSchema;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new().route("/v1/admin/audit", need(app, Permission::AuditRead, get(list::<S>)))
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass back as `cursor` for older entries; null on the last page.
    pub next_cursor: Option<String>,
}

fn time(v: &mut Validation, key: &str, value: &str) -> Option<i64> {
    v.check(
        key,
        "type",
        chrono::DateTime::parse_from_rfc3339(value)
            .map(|t| t.timestamp_millis())
            .map_err(|_| "an RFC 3339 time, e.g. 2026-11-25T09:00:00Z"),
    )
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "staff", security(("staff" = ["audit:read"])),
    params(
        ("actor" = Option<String>, Query, description = "A staff member's or API key's id"),
        ("route" = Option<String>, Query, description = "A route template, e.g. /v1/admin/products/{id}"),
        ("since" = Option<String>, Query, description = "RFC 3339, inclusive"), ("until" = Option<String>, Query, description = "RFC 3339, exclusive"),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 50"), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list<S: Store>(
    State(app): State<AppState<S>>,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    let pairs: Vec<(String, String)> = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{}", raw.unwrap_or_default()).parse().map_err(|_| bad())?,
    )
    .map_err(|_| bad())?
    .0;
    let mut v = Validation::new();
    let mut f = AuditFilter { limit: 50, ..AuditFilter::default() };
    for (key, value) in &pairs {
        match key.as_str() {
            "actor" => f.actor = v.check(key, "type", uuid::Uuid::try_parse(value).map_err(|_| "a UUID")),
            "route" => f.route = Some(value.clone()),
            "since" => f.since_ms = time(&mut v, key, value),
            "until" => f.until_ms = time(&mut v, key, value),
            "limit" => match value.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => f.limit = n,
                _ => v.push(key, "range", "a whole number from 1 to 100"),
            },
            "cursor" => match crate::page::position::<i64>("audit", value) {
                Ok(n) => f.before_seq = Some(n),
                Err(e) => v.push(e.field, e.code, e.message),
            },
            other => {
                v.push(other.chars().take(40).collect::<String>(), "unknown_parameter", "this filter does not exist")
            }
        }
    }
    v.finish(|| ()).map_err(ApiError::BadQuery)?;
    let items = app.store.audit(&f).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let next_cursor = (items.len() as i64 == f.limit)
        .then(|| items.last().map(|e| crate::page::cursor_after("audit", e.seq)))
        .flatten();
    Ok(Json(AuditPage { items, next_cursor }))
}

fn bad() -> ApiError {
    ApiError::BadQuery(vec![FieldError {
        field: String::new(),
        code: "encoding",
        message: "the query string is not valid URL encoding".into(),
    }])
}
