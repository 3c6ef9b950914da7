//! One error type for the HTTP surface, rendered as RFC 9457 `application/problem+json`.
//! Internal causes are logged once and never echoed to clients.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rouge_catalog::{CatalogError, FieldError};
use rouge_identity::IdentityError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request body must be sent as application/json")]
    UnsupportedMediaType,
    #[error("one or more fields are invalid")]
    Invalid(Vec<FieldError>),
    #[error("one or more query parameters are invalid")]
    BadQuery(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String, Vec<FieldError>),
    /// Not enough stock: 409 `sold-out` when none is left, `insufficient-stock` otherwise.
    #[error("{0}")]
    OutOfStock(String, bool, Vec<FieldError>),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("{0}")]
    TooManyRequests(String),
    /// Too many failed log-ins: 429 with `Retry-After`.
    #[error("too many failed log-ins; try again in {0} s")]
    LoginLocked(i64),
    #[error("{0}")]
    Forbidden(String),
    #[error("the request headers are larger than {0} bytes")]
    HeadersTooLarge(usize),
    #[error("the request took longer than the server allows")]
    RequestTimeout,
    #[error("the service is not ready: {0}")]
    Unavailable(String),
    #[error("an internal error occurred")]
    Internal(String),
}

/// The problem document (RFC 9457) with Rouge's field-level extension `errors`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<FieldErrorSchema>)]
    pub errors: Vec<FieldError>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldErrorSchema {
    /// Dotted path of the field or name of the parameter, e.g. `variants[0].price.amount`.
    field: String,
    /// A stable machine-readable rule name, e.g. `length`, `taken`, `unknown_value`.
    code: String,
    message: String,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON"),
            UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            }
            Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation-error", "Validation failed"),
            BadQuery(_) => (StatusCode::BAD_REQUEST, "invalid-query", "Invalid query parameters"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Conflict(..) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            OutOfStock(_, true, _) => (StatusCode::CONFLICT, "sold-out", "Sold out"),
            OutOfStock(_, false, _) => (StatusCode::CONFLICT, "insufficient-stock", "Not enough stock"),
            PreconditionFailed(_) => (StatusCode::PRECONDITION_FAILED, "precondition-failed", "Precondition failed"),
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large"),
            TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests"),
            LoginLocked(_) => (StatusCode::TOO_MANY_REQUESTS, "login-locked", "Too many failed log-ins"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            HeadersTooLarge(_) => {
                (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers-too-large", "Request headers too large")
            }
            RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request-timeout", "Request timeout"),
            Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Invalid(errors) => ApiError::Invalid(errors),
            CatalogError::NotFound(what) => ApiError::NotFound(format!("no such {what}")),
            CatalogError::Conflict(msg, field) => ApiError::Conflict(msg, vec![field]),
            e @ CatalogError::Stale(_) => ApiError::PreconditionFailed(e.to_string()),
            CatalogError::Store(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<rouge_inventory::InventoryError> for ApiError {
    fn from(e: rouge_inventory::InventoryError) -> Self {
        use rouge_inventory::InventoryError as E;
        match e {
            E::NotFound(what) => ApiError::NotFound(format!("no such {what}")),
            E::Insufficient { sku, requested, available } => ApiError::OutOfStock(
                if available == 0 {
                    format!("{sku} is sold out")
                } else {
                    format!("only {available} of {sku} left; {requested} asked")
                },
                available == 0,
                vec![FieldError {
                    field: "sku".into(),
                    code: if available == 0 { "sold_out" } else { "insufficient_stock" },
                    message: format!("{sku}: {available} available"),
                }],
            ),
            E::Conflict(msg) => ApiError::Conflict(msg, vec![]),
            E::Unavailable(cause) => ApiError::Unavailable(cause),
        }
    }
}

impl From<rouge_inventory::ReceiveError> for ApiError {
    fn from(e: rouge_inventory::ReceiveError) -> Self {
        match e {
            rouge_inventory::ReceiveError::Invalid(errors) => ApiError::Invalid(errors),
            rouge_inventory::ReceiveError::Inventory(e) => e.into(),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Invalid(errors) => ApiError::Invalid(errors),
            e @ (IdentityError::BadCredentials | IdentityError::BadRefresh | IdentityError::Gone) => {
                ApiError::Unauthorized(e.to_string())
            }
            IdentityError::Locked(secs) => ApiError::LoginLocked(secs),
            e @ IdentityError::BadLink => ApiError::Invalid(vec![FieldError {
                field: "token".into(),
                code: "invalid_link",
                message: e.to_string(),
            }]),
            e @ IdentityError::Stale => ApiError::PreconditionFailed(e.to_string()),
            IdentityError::Store(cause) => ApiError::Internal(cause),
            IdentityError::Vault(cause) => ApiError::Internal(cause.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        let retry_after = if let ApiError::LoginLocked(secs) = &self { Some((*secs).max(1)) } else { None };
        let detail = match &self {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => {
                tracing::error!(%cause, "request failed");
                if matches!(self, ApiError::Internal(_)) {
                    self.to_string()
                } else {
                    "the store does not answer".into()
                }
            }
            other => other.to_string(),
        };
        let errors = match self {
            ApiError::Invalid(e) | ApiError::BadQuery(e) | ApiError::Conflict(_, e) | ApiError::OutOfStock(_, _, e) => {
                e
            }
            _ => vec![],
        };
        let problem =
            Problem { kind: format!("/problems/{slug}"), title: title.into(), status: status.as_u16(), detail, errors };
        let mut res = (status, axum::Json(problem)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}
