//! Staff accounts, roles and API keys, and the staff log-in.

use crate::authz::{Caller, need};
use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::idempotency::idempotent;
use crate::page::{ApiKeyPage, RolePage, StaffPage};
use crate::rest::auth::{LoginInput, peer};
use crate::state::{AppState, Store};
use axum::extract::{Path, State};
use axum::http::{Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use rouge_identity::{
    ApiKeyInput, CreatedApiKey, Permission, Role, RoleInput, StaffInput, StaffSession, StaffUpdate, StaffView,
};
use uuid::Uuid;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    use Permission::{ApiKeysManage, StaffManage};
    Router::new()
        .route("/v1/admin/auth/login", post(login::<S>))
        .route(
            "/v1/admin/staff",
            need(app, StaffManage, get(list_staff::<S>).merge(idempotent(app, false, post(create_staff::<S>)))),
        )
        .route("/v1/admin/staff/{id}", need(app, StaffManage, patch(update_staff::<S>)))
        .route(
            "/v1/admin/roles",
            need(app, StaffManage, get(list_roles::<S>).merge(idempotent(app, false, post(create_role::<S>)))),
        )
        .route(
            "/v1/admin/api-keys",
            need(app, ApiKeysManage, get(list_keys::<S>).merge(idempotent(app, false, post(create_key::<S>)))),
        )
        .route("/v1/admin/api-keys/{id}", need(app, ApiKeysManage, delete(revoke_key::<S>)))
}

/// Staff log-in: an access token for the admin API (8 hours), throttled like customers'.
#[utoipa::path(post, path = "/v1/admin/auth/login", tag = "staff", request_body = LoginInput,
    responses((status = 200, body = StaffSession), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login<S: Store>(
    State(app): State<AppState<S>>,
    ext: Extensions,
    ValidJson(input): ValidJson<LoginInput>,
) -> Result<Json<StaffSession>, ApiError> {
    Ok(Json(app.identity.staff_login(&input.email, &input.password, &peer(&ext)).await?))
}

#[utoipa::path(get, path = "/v1/admin/staff", tag = "staff", security(("staff" = ["staff:manage"])),
    params(crate::page::PageQuery),
    responses((status = 200, body = StaffPage), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_staff<S: Store>(
    State(app): State<AppState<S>>,
    paging: crate::page::Paging,
) -> Result<Json<StaffPage>, ApiError> {
    Ok(Json(StaffPage::of(app.identity.list_staff().await?, &paging)))
}

#[utoipa::path(post, path = "/v1/admin/staff", tag = "staff", security(("staff" = ["staff:manage"])), request_body = StaffInput,
    responses((status = 201, body = StaffView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_staff<S: Store>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    ValidJson(input): ValidJson<StaffInput>,
) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(app.identity.create_staff(&caller, input).await?)).into_response())
}

#[utoipa::path(patch, path = "/v1/admin/staff/{id}", tag = "staff", security(("staff" = ["staff:manage"])), request_body = StaffUpdate,
    responses((status = 200, body = StaffView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_staff<S: Store>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    Path(id): Path<Uuid>,
    ValidJson(input): ValidJson<StaffUpdate>,
) -> Result<Json<StaffView>, ApiError> {
    if caller.actor == rouge_identity::Actor::Staff(id) && (input.disabled == Some(true) || input.role_id.is_some()) {
        return Err(ApiError::Conflict("you cannot disable your own account or change your own role".into(), vec![]));
    }
    app.identity.update_staff(&caller, id, input).await.map(Json).map_err(|e| match e {
        rouge_identity::IdentityError::Gone => ApiError::NotFound("no such staff member".into()),
        e => e.into(),
    })
}

#[utoipa::path(get, path = "/v1/admin/roles", tag = "staff", security(("staff" = ["staff:manage"])),
    params(crate::page::PageQuery),
    responses((status = 200, body = RolePage), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_roles<S: Store>(
    State(app): State<AppState<S>>,
    paging: crate::page::Paging,
) -> Result<Json<RolePage>, ApiError> {
    Ok(Json(RolePage::of(app.identity.roles().await?, &paging)))
}

#[utoipa::path(post, path = "/v1/admin/roles", tag = "staff", security(("staff" = ["staff:manage"])), request_body = RoleInput,
    responses((status = 201, body = Role), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_role<S: Store>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    ValidJson(input): ValidJson<RoleInput>,
) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(app.identity.create_role(&caller, input).await?)).into_response())
}

#[utoipa::path(get, path = "/v1/admin/api-keys", tag = "staff", security(("staff" = ["api_keys:manage"])),
    params(crate::page::PageQuery),
    responses((status = 200, body = ApiKeyPage), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_keys<S: Store>(
    State(app): State<AppState<S>>,
    paging: crate::page::Paging,
) -> Result<Json<ApiKeyPage>, ApiError> {
    Ok(Json(ApiKeyPage::of(app.identity.list_api_keys().await?, &paging)))
}

/// Create an API key. Its secret is in this answer only; Rouge keeps a hash.
#[utoipa::path(post, path = "/v1/admin/api-keys", tag = "staff", security(("staff" = ["api_keys:manage"])), request_body = ApiKeyInput,
    responses((status = 201, body = CreatedApiKey), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_key<S: Store>(
    State(app): State<AppState<S>>,
    Caller(caller): Caller,
    ValidJson(input): ValidJson<ApiKeyInput>,
) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(app.identity.create_api_key(&caller, input).await?)).into_response())
}

#[utoipa::path(delete, path = "/v1/admin/api-keys/{id}", tag = "staff", security(("staff" = ["api_keys:manage"])),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_key<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    match app.identity.revoke_api_key(id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(rouge_identity::IdentityError::Gone) => Err(ApiError::NotFound("no such live API key".into())),
        Err(e) => Err(e.into()),
    }
}
