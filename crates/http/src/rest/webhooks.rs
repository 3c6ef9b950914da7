//! Outbound webhooks for staff: register endpoints for event types (the signing secret is shown
//! once), change, disable or delete them, rotate the secret (the previous one keeps signing for a
//! day), read each endpoint's delivery log and replay a delivery. Targets in internal ranges
//! are refused (see `rouge-webhooks`).

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::state::{AppState, Store};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rouge_catalog::FieldError;
use rouge_identity::Permission::WebhooksManage;
use rouge_webhooks::{Delivery, DeliveryState, Endpoint, Secret};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

type Res = Result<Response, ApiError>;

/// The event types endpoints may ask for and are sent: every documented one but the account
/// emails' requests (Rouge's own plumbing: a sealed link for the mailer alone).
pub fn event_types() -> &'static [&'static str] {
    static TYPES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    TYPES.get_or_init(|| crate::asyncapi::event_types().into_iter().filter(|t| *t != "EmailRequested").collect())
}

/// How long a rotated-out secret keeps signing.
const ROTATION_MS: i64 = 24 * 3600 * 1000;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new()
        .route(
            "/v1/admin/webhooks",
            need(app, WebhooksManage, get(list::<S>).merge(idempotent(app, false, post(create::<S>)))),
        )
        .route(
            "/v1/admin/webhooks/{id}",
            need(app, WebhooksManage, get(read::<S>).patch(update::<S>).delete(remove::<S>)),
        )
        .route(
            "/v1/admin/webhooks/{id}/rotate-secret",
            need(app, WebhooksManage, idempotent(app, false, post(rotate::<S>))),
        )
        .route("/v1/admin/webhooks/{id}/deliveries", need(app, WebhooksManage, get(deliveries::<S>)))
        .route(
            "/v1/admin/webhooks/{id}/deliveries/{event}/replay",
            need(app, WebhooksManage, idempotent(app, false, post(replay::<S>))),
        )
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// http(s), to a public address.
    pub url: String,
    /// Event types to send (`*` for every one).
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// Enabling again clears its failures and reason.
    pub enabled: Option<bool>,
}

/// An endpoint with its signing secret: shown when made and when rotated, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_…`: verify deliveries with it (Standard Webhooks).
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub items: Vec<Endpoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<Delivery>,
}

fn field(field: &str, code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), code, message: message.into() }
}

fn check(app_allows_internal: bool, url: &str, types: &[String], description: &str) -> Result<(), ApiError> {
    let mut errors = vec![];
    if let Err(e) = rouge_webhooks::check_target(url, app_allows_internal) {
        errors.push(field("url", "target", e.to_string()));
    }
    let known = event_types();
    if types.is_empty() {
        errors.push(field("event_types", "required", "name at least one event type, or `*`"));
    }
    for (i, t) in types.iter().enumerate() {
        if t != "*" && !known.contains(&t.as_str()) {
            errors.push(field(
                &format!("event_types[{i}]"),
                "unknown_value",
                format!("one of: *, {}", known.join(", ")),
            ));
        }
    }
    if description.chars().count() > 200 {
        errors.push(field("description", "length", "at most 200 characters"));
    }
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Invalid(errors)) }
}

async fn found<S: Store>(app: &AppState<S>, id: Uuid) -> Result<Endpoint, ApiError> {
    app.store.endpoint(id).await?.map(|(e, _)| e).ok_or_else(|| ApiError::NotFound("no such webhook endpoint".into()))
}

/// Register an endpoint. Its secret is in the answer, once.
#[utoipa::path(post, path = "/v1/admin/webhooks", tag = "webhooks", request_body = EndpointInput,
    security(("staff" = ["webhooks:manage"])),
    responses((status = 201, body = EndpointWithSecret), (status = 422, body = Problem)))]
pub async fn create<S: Store>(State(app): State<AppState<S>>, ValidJson(input): ValidJson<EndpointInput>) -> Res {
    Ok((StatusCode::CREATED, Json(create_endpoint(&app, input).await?)).into_response())
}

/// Registers an endpoint (REST and GraphQL): its secret is in the answer, once.
///
/// # Errors
/// `Invalid` for a refused target or unknown event types.
pub async fn create_endpoint<S: Store>(
    app: &AppState<S>,
    input: EndpointInput,
) -> Result<EndpointWithSecret, ApiError> {
    let url = input.url.trim().to_owned();
    check(app.webhooks_allow_internal, &url, &input.event_types, &input.description)?;
    let now = chrono::Utc::now().timestamp_millis();
    let endpoint = Endpoint {
        id: Uuid::now_v7(),
        url,
        description: input.description,
        event_types: input.event_types,
        enabled: true,
        disabled_reason: None,
        failures: 0,
        created_at: now,
        updated_at: now,
    };
    let secret = Secret::generate().expose();
    app.store.create_endpoint(&endpoint, &seal_secret(app.sealer.as_ref(), endpoint.id, &secret)).await?;
    Ok(EndpointWithSecret { endpoint, secret })
}

/// Whose a sealed secret is (its data key is bound to the endpoint).
fn owner(endpoint: Uuid) -> String {
    format!("webhook:{endpoint}")
}

/// A signing secret as it is stored: sealed by the shop's keys.
fn seal_secret(sealer: &dyn rouge_orders::Sealer, endpoint: Uuid, secret: &str) -> String {
    crate::sealed::seal_text(sealer, &owner(endpoint), secret)
}

/// An endpoint's signing secrets in the clear, to sign a delivery with: the current one, and
/// the previous one while it is still valid at `now` (ms).
///
/// # Errors
/// When a secret does not open (its master key is missing from the key directory).
pub fn open_secrets(
    sealer: &dyn rouge_orders::Sealer,
    endpoint: Uuid,
    secrets: &rouge_webhooks::Secrets,
    now: i64,
) -> Result<(String, Option<String>), String> {
    let open = |s: &str| crate::sealed::open_text(sealer, &owner(endpoint), s);
    let previous = secrets.previous.as_ref().filter(|(_, until)| *until > now).map(|(s, _)| open(s)).transpose()?;
    Ok((open(&secrets.current)?, previous))
}

/// Seals every endpoint's secrets still stored in the clear (from before they were sealed)
/// and re-wraps those sealed under an older master key (after `rouge keys rotate`); returns
/// how many endpoints changed.
///
/// # Errors
/// When the store fails or a secret cannot be re-wrapped.
pub async fn reseal_secrets<S: Store>(store: &S, sealer: &dyn rouge_orders::Sealer) -> Result<usize, String> {
    let mut changed = 0;
    for e in store.endpoints().await.map_err(|e| e.to_string())? {
        let Some((_, secrets)) = store.endpoint(e.id).await.map_err(|e| e.to_string())? else { continue };
        let reseal = |s: &str| crate::sealed::reseal_text(sealer, &owner(e.id), s);
        let current = reseal(&secrets.current)?;
        let previous = secrets.previous.as_ref().map(|(s, _)| reseal(s)).transpose()?.flatten();
        if current.is_none() && previous.is_none() {
            continue;
        }
        let now = current.as_deref().unwrap_or(&secrets.current);
        if store.replace_secrets(e.id, &secrets.current, now, previous.as_deref()).await.map_err(|e| e.to_string())? {
            changed += 1;
        }
    }
    Ok(changed)
}

/// Every endpoint (no secrets).
#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "webhooks", security(("staff" = ["webhooks:manage"])),
    responses((status = 200, body = EndpointList)))]
pub async fn list<S: Store>(State(app): State<AppState<S>>) -> Res {
    Ok(Json(EndpointList { items: app.store.endpoints().await? }).into_response())
}

#[utoipa::path(get, path = "/v1/admin/webhooks/{id}", tag = "webhooks", security(("staff" = ["webhooks:manage"])),
    responses((status = 200, body = Endpoint), (status = 404, body = Problem)))]
pub async fn read<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Res {
    Ok(Json(found(&app, id).await?).into_response())
}

/// Change its URL, event types or description, or disable or enable it.
#[utoipa::path(patch, path = "/v1/admin/webhooks/{id}", tag = "webhooks", request_body = EndpointPatch,
    security(("staff" = ["webhooks:manage"])),
    responses((status = 200, body = Endpoint), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    ValidJson(p): ValidJson<EndpointPatch>,
) -> Res {
    Ok(Json(update_endpoint(&app, id, p).await?).into_response())
}

/// Changes an endpoint (REST and GraphQL).
///
/// # Errors
/// `NotFound`; `Invalid`.
pub async fn update_endpoint<S: Store>(app: &AppState<S>, id: Uuid, p: EndpointPatch) -> Result<Endpoint, ApiError> {
    let mut e = found(app, id).await?;
    if let Some(url) = p.url {
        e.url = url.trim().to_owned();
    }
    if let Some(t) = p.event_types {
        e.event_types = t;
    }
    if let Some(d) = p.description {
        e.description = d;
    }
    match p.enabled {
        Some(true) if !e.enabled => {
            e.enabled = true;
            e.disabled_reason = None;
            e.failures = 0;
        }
        Some(false) if e.enabled => {
            e.enabled = false;
            e.disabled_reason = Some("disabled by staff".into());
        }
        _ => {}
    }
    check(app.webhooks_allow_internal, &e.url, &e.event_types, &e.description)?;
    e.updated_at = chrono::Utc::now().timestamp_millis();
    app.store.update_endpoint(&e).await?;
    Ok(e)
}

/// Delete it and its delivery log.
#[utoipa::path(delete, path = "/v1/admin/webhooks/{id}", tag = "webhooks", security(("staff" = ["webhooks:manage"])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn remove<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Res {
    if !app.store.delete_endpoint(id).await? {
        return Err(ApiError::NotFound("no such webhook endpoint".into()));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new secret; deliveries carry signatures by both for a day, so receivers switch over.
#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/rotate-secret", tag = "webhooks",
    security(("staff" = ["webhooks:manage"])),
    responses((status = 200, body = EndpointWithSecret), (status = 404, body = Problem)))]
pub async fn rotate<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Res {
    Ok(Json(rotate_secret(&app, id).await?).into_response())
}

/// A new secret for an endpoint (REST and GraphQL).
///
/// # Errors
/// `NotFound`.
pub async fn rotate_secret<S: Store>(app: &AppState<S>, id: Uuid) -> Result<EndpointWithSecret, ApiError> {
    let endpoint = found(app, id).await?;
    let secret = Secret::generate().expose();
    let sealed = seal_secret(app.sealer.as_ref(), id, &secret);
    app.store.rotate_secret(id, &sealed, chrono::Utc::now().timestamp_millis() + ROTATION_MS).await?;
    Ok(EndpointWithSecret { endpoint, secret })
}

/// Its deliveries, newest first: `state` (pending, delivered, failed) and `limit` (1–100, 50).
#[utoipa::path(get, path = "/v1/admin/webhooks/{id}/deliveries", tag = "webhooks",
    security(("staff" = ["webhooks:manage"])),
    params(("state" = Option<String>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = DeliveryList), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn deliveries<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    RawQuery(raw): RawQuery,
) -> Res {
    let (mut state, mut limit, mut errors) = (None, 50, vec![]);
    for (k, v) in crate::page::query_pairs(&raw.unwrap_or_default()) {
        match k.as_str() {
            "state" => match DeliveryState::parse(&v) {
                Some(s) => state = Some(s),
                None => errors.push(field("state", "unknown_value", "pending, delivered or failed")),
            },
            "limit" => match v.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => limit = n,
                _ => errors.push(field("limit", "range", "a whole number from 1 to 100")),
            },
            other => errors.push(field(other, "unknown_parameter", "accepted: state, limit")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::BadQuery(errors));
    }
    Ok(Json(DeliveryList { items: endpoint_deliveries(&app, id, state, limit).await? }).into_response())
}

/// An endpoint's deliveries, newest first (REST and GraphQL).
///
/// # Errors
/// `NotFound`.
pub async fn endpoint_deliveries<S: Store>(
    app: &AppState<S>,
    id: Uuid,
    state: Option<DeliveryState>,
    limit: i64,
) -> Result<Vec<Delivery>, ApiError> {
    found(app, id).await?;
    Ok(app.store.deliveries(id, state, limit).await?)
}

/// Send a delivery again (its attempts start over); it keeps its `webhook-id`.
#[utoipa::path(post, path = "/v1/admin/webhooks/{id}/deliveries/{event}/replay", tag = "webhooks",
    security(("staff" = ["webhooks:manage"])),
    responses((status = 202), (status = 404, body = Problem)))]
pub async fn replay<S: Store>(State(app): State<AppState<S>>, Path((id, event)): Path<(Uuid, Uuid)>) -> Res {
    if !app.store.replay(id, event, chrono::Utc::now().timestamp_millis()).await? {
        return Err(ApiError::NotFound("no such delivery".into()));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
