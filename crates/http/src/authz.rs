//! Admin authorisation: every admin route names the permission it needs; the caller is a staff
//! member (staff access token) or an integration (API key), resolved on each call so that a
//! disabled account or a revoked key stops working at once.

use crate::error::ApiError;
use crate::state::{AppState, Store};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use rouge_identity::{IdentityError, Permission, Principal};

/// `m` answered only for callers holding `p` (401 without a credential, 403 without `p`).
pub fn need<S: Store>(app: &AppState<S>, p: Permission, m: MethodRouter<AppState<S>>) -> MethodRouter<AppState<S>> {
    m.route_layer(middleware::from_fn_with_state((app.clone(), p), check::<S>))
}

async fn check<S: Store>(State((app, p)): State<(AppState<S>, Permission)>, mut req: Request, next: Next) -> Response {
    let Some(token) = crate::rest::auth::bearer(req.headers()) else {
        return ApiError::Unauthorized("admin calls need `Authorization: Bearer <staff token or API key>`".into())
            .into_response();
    };
    let principal = match principal(&app, token).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if !principal.may(p) {
        return ApiError::Forbidden(format!("this needs the `{}` permission", p.as_str())).into_response();
    }
    req.extensions_mut().insert(principal.clone());
    crate::audit::record(principal, req, next).await
}

/// The staff member or integration `token` speaks for: resolved by identity, in this process
/// or (when it runs apart) over HTTP, where staff accounts and API keys live.
pub(crate) async fn principal<S: Store>(app: &AppState<S>, token: &str) -> Result<Principal, ApiError> {
    match &app.peers.identity {
        Some(identity) => crate::peers::principal(identity, token).await,
        None => local_principal(app, token).await.map_err(|e| match e {
            IdentityError::Store(cause) => ApiError::Unavailable(cause),
            _ => ApiError::Unauthorized("the bearer credential is not valid".into()),
        }),
    }
}

/// A staff token, an API key, or (when an external issuer is configured) a token of that
/// issuer whose verified email is a staff member's.
pub(crate) async fn local_principal<S: Store>(app: &AppState<S>, token: &str) -> Result<Principal, IdentityError> {
    let local = app.identity.authorize(token).await;
    let external = matches!(local, Err(IdentityError::BadCredentials))
        && !token.starts_with("rk_")
        && matches!(app.identity.tokens().verify(token), Err(rouge_identity::TokenError::UnknownKey));
    match (&app.oidc, external) {
        (Some(oidc), true) => {
            let email = oidc.verified_email(token).await.map_err(|e| {
                tracing::info!(reason = %e, "external token refused on the admin API");
                IdentityError::BadCredentials
            })?;
            app.identity.external_staff(&email).await
        }
        _ => local,
    }
}

/// The caller of an admin route, as the guard resolved it.
pub struct Caller(pub Principal);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::Internal("an admin route is missing its permission guard".into()))
    }
}
