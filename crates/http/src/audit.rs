//! The audit trail's HTTP side: every admin change runs inside an audit scope (who, from
//! where, which route), and the store appends the entry in the transaction of the change, with
//! the state before and after taken from the domain objects it reads and writes. A refused or
//! failed request changes nothing and is not an entry; a replayed one (same Idempotency-Key)
//! changes nothing this time and is not one either.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use rouge_identity::Principal;
use rouge_identity::audit::{Scope, within};

/// The scope of an admin change: `status` is the one the API document gives the route.
pub fn scope(principal: &Principal, address: String, method: &Method, route: &str, path: String) -> Scope {
    Scope {
        actor: principal.actor.clone(),
        address,
        action: method.to_string(),
        route: route.to_owned(),
        path,
        status: crate::openapi::success_status(route, method).unwrap_or(200),
    }
}

/// Runs an admin request inside its audit scope.
pub async fn record(principal: Principal, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let route = req.extensions().get::<MatchedPath>().map_or_else(String::new, |m| m.as_str().to_owned());
    let path = req.uri().path().to_owned();
    let address = crate::rest::auth::peer(req.extensions());
    within(scope(&principal, address, &method, &route, path), next.run(req)).await
}
