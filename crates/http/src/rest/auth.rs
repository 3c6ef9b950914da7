//! Customer accounts: register, verify the email, log in and out, refresh, reset a password.
//! Every answer about an email address is the same whether or not it has an account.

use crate::error::{ApiError, Problem};
use crate::extract::ValidJson;
use crate::gateway::Verified;
use crate::state::{AppState, Store};
use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rouge_identity::{IdentityError, RegisterInput, Session, Subject, TokenError};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    Router::new()
        .route("/v1/auth/register", crate::idempotency::idempotent(app, false, post(register::<S>)))
        .route("/v1/auth/verify-email", post(verify_email::<S>))
        .route("/v1/auth/login", post(login::<S>))
        .route("/v1/auth/refresh", post(refresh::<S>))
        .route("/v1/auth/logout", post(logout::<S>))
        .route("/v1/auth/password-reset", post(request_reset::<S>))
        .route("/v1/auth/password-reset/confirm", post(confirm_reset::<S>))
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub status: &'static str,
    pub detail: &'static str,
}

fn accepted(detail: &'static str) -> Response {
    (StatusCode::ACCEPTED, Json(Accepted { status: "accepted", detail })).into_response()
}

/// Register a customer account.
///
/// Answers 202 whether or not the address already has an account; the address's owner gets
/// either a verification link or a note that she already has an account.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterInput,
    responses((status = 202, body = Accepted), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn register<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<RegisterInput>,
) -> Result<Response, ApiError> {
    app.identity.register(input).await?;
    Ok(accepted("if the address can receive email, a message is on its way"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// The token from the emailed link.
    pub token: String,
}

/// Confirm the email address with the emailed link's token.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", request_body = TokenInput,
    responses((status = 204), (status = 422, body = Problem)))]
pub async fn verify_email<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<TokenInput>,
) -> Result<StatusCode, ApiError> {
    app.identity.verify_email(&input.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

/// The calling address, for throttling failed log-ins.
pub fn peer(ext: &Extensions) -> String {
    ext.get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

/// Log in; returns a short-lived access token and a refresh token.
///
/// Repeated failures for one account or from one address make further tries wait, then lock
/// them for a while (429 with `Retry-After`); an unknown email fails like a wrong password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = Session), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login<S: Store>(
    State(app): State<AppState<S>>,
    ext: Extensions,
    ValidJson(input): ValidJson<LoginInput>,
) -> Result<Json<Session>, ApiError> {
    let session = app.identity.login(&input.email, &input.password, &peer(&ext)).await;
    Ok(Json(session?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshInput {
    pub refresh_token: String,
}

/// Trade a refresh token for a new pair. Each refresh token works once; presenting a used one
/// ends the whole session (every token descended from the same log-in).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshInput,
    responses((status = 200, body = Session), (status = 401, body = Problem)))]
pub async fn refresh<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<RefreshInput>,
) -> Result<Json<Session>, ApiError> {
    Ok(Json(app.identity.refresh(&input.refresh_token).await?))
}

/// End the session the refresh token belongs to.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshInput, responses((status = 204)))]
pub async fn logout<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<RefreshInput>,
) -> Result<StatusCode, ApiError> {
    app.identity.logout(&input.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// Ask for a password-reset link (202 whether or not the address has an account).
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, body = Accepted), (status = 422, body = Problem)))]
pub async fn request_reset<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<ResetRequest>,
) -> Result<Response, ApiError> {
    app.identity.request_password_reset(&input.email).await?;
    Ok(accepted("if the address has an account, a reset link is on its way"))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    pub token: String,
    /// 10–256 characters.
    pub password: String,
}

/// Set a new password with the emailed token; every session of the account ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204), (status = 422, body = Problem)))]
pub async fn confirm_reset<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<ResetConfirm>,
) -> Result<StatusCode, ApiError> {
    app.identity.reset_password(&input.token, input.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// A request made by a logged-in customer (a valid customer access token).
pub struct CustomerAuth(pub Uuid);

impl<S: Store> axum::extract::FromRequestParts<AppState<S>> for CustomerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState<S>) -> Result<Self, ApiError> {
        let verified = parts.extensions.get::<Verified>();
        customer(app, bearer(&parts.headers), verified).await.map(CustomerAuth)
    }
}

/// The customer a bearer token speaks for: one of Rouge's customer tokens, or (when an
/// external issuer is configured) a token of that issuer, mapped by its verified email.
///
/// # Errors
/// 401 without a valid token; 403 for a Rouge token that is not a customer's.
/// `verified`: the claims the gateway already checked for this very token, if it did.
pub async fn customer<S: Store>(
    app: &AppState<S>,
    bearer: Option<&str>,
    verified: Option<&Verified>,
) -> Result<Uuid, ApiError> {
    let token = bearer
        .ok_or_else(|| ApiError::Unauthorized("log in and send `Authorization: Bearer <access token>`".into()))?;
    match &app.peers.identity {
        // Sessions live in identity's tables: it says whether this one is still open.
        Some(identity) => crate::peers::customer(identity, token).await,
        None => local_customer(app, token, verified).await,
    }
}

/// [`customer`], answered from this process's identity service.
///
/// # Errors
/// As [`customer`].
pub async fn local_customer<S: Store>(
    app: &AppState<S>,
    token: &str,
    verified: Option<&Verified>,
) -> Result<Uuid, ApiError> {
    let checked = match verified {
        Some(v) => Ok(v.0.clone()),
        None => app.identity.tokens().verify(token),
    };
    match checked {
        Ok(claims) if claims.kind == Subject::Customer => match app.identity.customer_session(&claims).await {
            Ok(id) => Ok(id),
            Err(IdentityError::BadCredentials) => {
                Err(ApiError::Unauthorized("the session of this token has ended; log in again".into()))
            }
            Err(e) => Err(e.into()),
        },
        Ok(_) => Err(ApiError::Forbidden("this route is for customers".into())),
        Err(TokenError::UnknownKey) if app.oidc.is_some() => {
            let oidc = app.oidc.as_ref().expect("checked");
            let email = oidc.verified_email(token).await.map_err(|e| {
                tracing::info!(reason = %e, "external token refused");
                ApiError::Unauthorized("the bearer token is not valid".into())
            })?;
            Ok(app.identity.external_customer(&email).await?)
        }
        Err(e) => Err(ApiError::Unauthorized(e.to_string())),
    }
}
