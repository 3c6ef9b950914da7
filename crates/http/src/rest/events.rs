//! Dead letters: events a consumer could not handle after its last attempt (and those still
//! being retried), for staff to inspect and replay (`events:manage`).

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::idempotency::idempotent;
use crate::state::{AppState, Store};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rouge_identity::Permission;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new().route("/v1/admin/dead-letters", need(app, Permission::EventsManage, get(list::<S>))).route(
        "/v1/admin/dead-letters/{consumer}/{event}/replay",
        need(app, Permission::EventsManage, idempotent(app, false, post(replay::<S>))),
    )
}

#[derive(Serialize, ToSchema)]
pub struct DeadLetter {
    pub consumer: String,
    pub event_id: Uuid,
    pub event_type: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// `dead` (out of attempts) or `retrying`.
    pub state: String,
    pub attempts: i32,
    pub last_error: String,
    /// Milliseconds since the Unix epoch.
    pub next_attempt_at: i64,
    pub updated_at: i64,
}

/// Failed deliveries: dead letters first, then events still being retried.
#[utoipa::path(get, path = "/v1/admin/dead-letters", tag = "staff", security(("staff" = ["events:manage"])),
    params(crate::page::PageQuery),
    responses((status = 200, body = crate::page::DeadLetterPage), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list<S: Store>(State(app): State<AppState<S>>, paging: crate::page::Paging) -> Result<Response, ApiError> {
    let items = app.store.failed_deliveries(500).await.map_err(ApiError::from)?;
    let all: Vec<DeadLetter> = items
        .into_iter()
        .map(|d| DeadLetter {
            consumer: d.consumer,
            event_id: d.event.id,
            event_type: d.event.event_type,
            payload: d.event.payload,
            state: serde_json::to_value(d.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            attempts: d.attempts,
            last_error: d.last_error,
            next_attempt_at: d.next_at,
            updated_at: d.updated_at,
        })
        .collect();
    Ok(Json(crate::page::DeadLetterPage::of(all, &paging)).into_response())
}

/// Puts a dead letter back in line with fresh attempts (fix the cause first).
#[utoipa::path(post, path = "/v1/admin/dead-letters/{consumer}/{event}/replay", tag = "staff", security(("staff" = ["events:manage"])),
    responses((status = 202), (status = 404, body = Problem)))]
pub async fn replay<S: Store>(
    State(app): State<AppState<S>>,
    Path((consumer, event)): Path<(String, Uuid)>,
) -> Result<Response, ApiError> {
    let now = chrono::Utc::now().timestamp_millis();
    match app.store.replay_delivery(&consumer, event, now).await? {
        Some(e) => {
            if let Some(redeliver) = &app.redeliver {
                redeliver(consumer, e);
            }
            Ok(StatusCode::ACCEPTED.into_response())
        }
        None => Err(ApiError::NotFound(format!("no dead letter of `{consumer}` for event {event}"))),
    }
}
