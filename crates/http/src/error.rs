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
    /// 400: a header that does not parse (e.g. an `If-Match` that is no entity tag).
    #[error("{0}")]
    BadHeader(String),
    #[error("{0}")]
    IdempotencyKey(String),
    #[error("a request with this Idempotency-Key is still being processed; retry in a moment")]
    IdempotencyInFlight,
    #[error("this Idempotency-Key was used for a different request; use a new key for a new request")]
    IdempotencyMismatch,
    /// 402: the payment was refused (`code` names why).
    #[error("{1}")]
    PaymentDeclined(String, String),
    #[error("the payment needs the shopper's confirmation: {0}")]
    PaymentRequiresAction(String),
    /// 503 with Retry-After: the provider's answer was lost; a retry with the same key finds out.
    #[error("{0}")]
    PaymentPending(String),
    #[error("{0}")]
    PaymentFailed(String),
    #[error("{0}")]
    InvalidTransition(String),
    #[error("the webhook signature does not verify: {0}")]
    BadSignature(String),
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
    /// A right password for an account whose address was never verified (403).
    #[error("verify your email address first: we have sent you a new link")]
    EmailNotVerified,
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
    /// The request this answers (its path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
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
            BadHeader(_) => (StatusCode::BAD_REQUEST, "bad-header", "Malformed header"),
            IdempotencyKey(_) => (StatusCode::BAD_REQUEST, "idempotency-key", "Idempotency key needed"),
            IdempotencyInFlight => (StatusCode::CONFLICT, "idempotency-in-flight", "Request in progress"),
            IdempotencyMismatch => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused", "Idempotency key reused")
            }
            PaymentDeclined(..) => (StatusCode::PAYMENT_REQUIRED, "payment-declined", "Payment declined"),
            PaymentRequiresAction(_) => {
                (StatusCode::PAYMENT_REQUIRED, "payment-requires-action", "Payment needs confirmation")
            }
            PaymentPending(_) => (StatusCode::SERVICE_UNAVAILABLE, "payment-pending", "Payment outcome not known yet"),
            PaymentFailed(_) => (StatusCode::BAD_GATEWAY, "payment-failed", "Payment provider error"),
            InvalidTransition(_) => (StatusCode::CONFLICT, "invalid-transition", "Not allowed in this state"),
            BadSignature(_) => (StatusCode::BAD_REQUEST, "bad-signature", "Bad signature"),
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large"),
            TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests"),
            LoginLocked(_) => (StatusCode::TOO_MANY_REQUESTS, "login-locked", "Too many failed log-ins"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            EmailNotVerified => (StatusCode::FORBIDDEN, "email-not-verified", "Email not verified"),
            HeadersTooLarge(_) => {
                (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers-too-large", "Request headers too large")
            }
            RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request-timeout", "Request timeout"),
            Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

/// A store's failure where no context's rule says more: a taken key is a conflict, a stale
/// write a failed precondition, an outage 503.
impl From<rouge_kernel::StoreError> for ApiError {
    fn from(e: rouge_kernel::StoreError) -> Self {
        use rouge_kernel::StoreError as E;
        match e {
            E::Duplicate { ref field, .. } => {
                let error = FieldError { field: field.clone(), code: "taken", message: e.to_string() };
                ApiError::Conflict(e.to_string(), vec![error])
            }
            e @ E::Stale => ApiError::PreconditionFailed(e.to_string()),
            E::Unavailable(cause) => ApiError::Unavailable(cause),
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
            CatalogError::Store(cause) => ApiError::Unavailable(cause),
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
            E::Store(e) => e.into(),
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

/// A provider's decline code as one of the stable codes Rouge documents.
fn declined_code(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "insufficient_funds",
        "expired_card" => "expired_card",
        "incorrect_cvc" => "incorrect_cvc",
        "invalid_token" => "invalid_token",
        _ => "card_declined",
    }
}

impl From<rouge_orders::OrdersError> for ApiError {
    fn from(e: rouge_orders::OrdersError) -> Self {
        use rouge_orders::OrdersError as E;
        match e {
            E::Invalid(errors) => ApiError::Invalid(errors),
            E::NotFound(what) => ApiError::NotFound(format!("no such {what}")),
            E::Conflict(msg) => ApiError::Conflict(msg, vec![]),
            E::OutOfStock { sku, requested, available } => {
                rouge_inventory::InventoryError::Insufficient { sku, requested, available }.into()
            }
            E::PaymentDeclined { code, message } => ApiError::PaymentDeclined(code, message),
            E::PaymentRequiresAction { action_url } => ApiError::PaymentRequiresAction(action_url),
            e @ E::PaymentUnknown(_) => ApiError::PaymentPending(e.to_string()),
            e @ E::PaymentFailed(_) => ApiError::PaymentFailed(e.to_string()),
            E::PromotionUsedUp(msg) => {
                let error = FieldError { field: "promotions".into(), code: "used_up", message: msg.clone() };
                ApiError::Conflict(msg, vec![error])
            }
            E::Transition(msg) => ApiError::InvalidTransition(msg),
            e @ E::Stale => ApiError::PreconditionFailed(e.to_string()),
            E::Store(cause) => ApiError::Unavailable(cause),
        }
    }
}

impl From<rouge_reviews::ReviewsError> for ApiError {
    fn from(e: rouge_reviews::ReviewsError) -> Self {
        use rouge_reviews::ReviewsError as E;
        match e {
            E::Invalid(errors) => ApiError::Invalid(errors),
            E::NotFound(what) => ApiError::NotFound(format!("no such {what}")),
            E::Conflict(msg) => ApiError::Conflict(msg, vec![]),
            E::Unavailable(cause) | E::Store(cause) => ApiError::Unavailable(cause),
        }
    }
}

impl From<rouge_promotions::PromotionsError> for ApiError {
    fn from(e: rouge_promotions::PromotionsError) -> Self {
        use rouge_promotions::PromotionsError as E;
        match e {
            E::Invalid(errors) => ApiError::Invalid(errors),
            E::NotFound(what) => ApiError::NotFound(format!("no such {what}")),
            E::Conflict(msg) => {
                let error = FieldError { field: "code".into(), code: "taken", message: msg.clone() };
                ApiError::Conflict(msg, vec![error])
            }
            E::UsedUp(msg) => ApiError::Conflict(msg, vec![]),
            E::Store(cause) => ApiError::Unavailable(cause),
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
            IdentityError::Forbidden(why) => ApiError::Forbidden(why),
            IdentityError::Unverified => ApiError::EmailNotVerified,
            IdentityError::Store(cause) => ApiError::Unavailable(cause),
            IdentityError::Vault(cause) => ApiError::Internal(cause.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.render(None)
    }
}

impl ApiError {
    /// Seconds worth waiting before a retry, for the answers that say so.
    fn retry_after(&self) -> Option<i64> {
        match self {
            ApiError::LoginLocked(secs) => Some((*secs).max(1)),
            ApiError::PaymentPending(_) | ApiError::IdempotencyInFlight => Some(1),
            // The store is restarting or unreachable: worth a retry in a moment.
            ApiError::Unavailable(_) => Some(2),
            _ => None,
        }
    }

    /// What the caller is told (an internal cause is logged, never shown) and the field errors.
    fn detail_and_errors(self) -> (String, Vec<FieldError>) {
        let detail = match &self {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => {
                tracing::error!(%cause, "request failed");
                if matches!(self, ApiError::Internal(_)) {
                    self.to_string()
                } else {
                    "the store does not answer; retry in a moment".into()
                }
            }
            other => other.to_string(),
        };
        let errors = match self {
            ApiError::PaymentDeclined(code, message) => {
                vec![FieldError { field: "payment".into(), code: declined_code(&code), message }]
            }
            ApiError::Invalid(e) | ApiError::BadQuery(e) | ApiError::Conflict(_, e) | ApiError::OutOfStock(_, _, e) => {
                e
            }
            _ => vec![],
        };
        (detail, errors)
    }

    /// The same error as GraphQL reports it, so REST and GraphQL agree: one `extensions.code`
    /// per problem type, the problem's `type`, the same message as its `detail`, and its field
    /// errors (`fields`, and `errors` as in the problem), `retryAfter` and `actionUrl` where
    /// the REST answer carries them.
    pub fn into_graphql(self) -> async_graphql::Error {
        use async_graphql::ErrorExtensions;
        let (_, slug, _) = self.parts();
        let code = match slug {
            "validation-error"
            | "invalid-query"
            | "bad-header"
            | "malformed-json"
            | "idempotency-key"
            | "idempotency-key-reused"
            | "bad-signature"
            | "payload-too-large"
            | "unsupported-media-type" => "BAD_USER_INPUT",
            "unauthorized" => "UNAUTHENTICATED",
            "forbidden" | "email-not-verified" => "FORBIDDEN",
            "not-found" => "NOT_FOUND",
            "conflict" | "invalid-transition" | "idempotency-in-flight" => "CONFLICT",
            "precondition-failed" => "STALE",
            "sold-out" | "insufficient-stock" => "SOLD_OUT",
            "payment-declined" | "payment-requires-action" => "PAYMENT_DECLINED",
            "payment-pending" => "PAYMENT_PENDING",
            "payment-failed" => "PAYMENT_FAILED",
            "too-many-requests" | "login-locked" => "RATE_LIMITED",
            "unavailable" | "request-timeout" => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        let retry_after = self.retry_after();
        let action_url = match &self {
            ApiError::PaymentRequiresAction(url) => Some(url.clone()),
            _ => None,
        };
        let (message, errors) = self.detail_and_errors();
        // A GraphQL client shows the message: say which fields and why.
        let detail: Vec<String> =
            errors.iter().filter(|f| !f.field.is_empty()).map(|f| format!("{}: {}", f.field, f.message)).collect();
        let message = if detail.is_empty() { message } else { format!("{message}: {}", detail.join("; ")) };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            ext.set("type", format!("/problems/{slug}"));
            if !errors.is_empty() {
                ext.set("fields", errors.iter().map(|f| f.field.clone()).collect::<Vec<_>>());
                let list: Vec<async_graphql::Value> = errors
                    .iter()
                    .map(|f| {
                        let mut m = async_graphql::indexmap::IndexMap::new();
                        m.insert(async_graphql::Name::new("field"), async_graphql::Value::from(f.field.clone()));
                        m.insert(async_graphql::Name::new("code"), async_graphql::Value::from(f.code));
                        m.insert(async_graphql::Name::new("message"), async_graphql::Value::from(f.message.clone()));
                        async_graphql::Value::Object(m)
                    })
                    .collect();
                ext.set("errors", list);
            }
            if let Some(secs) = retry_after {
                ext.set("retryAfter", secs);
            }
            if let Some(url) = &action_url {
                ext.set("actionUrl", url.as_str());
            }
        })
    }
}

impl ApiError {
    /// The problem answer naming the request it answers (`instance`); handlers' answers get
    /// theirs from the problem middleware, the gateway's from here.
    pub fn into_response_at(self, path: &str) -> Response {
        self.render(Some(path))
    }

    fn render(self, instance: Option<&str>) -> Response {
        let (status, slug, title) = self.parts();
        let retry_after = self.retry_after();
        let (detail, errors) = self.detail_and_errors();
        let problem = Problem {
            kind: format!("/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            instance: instance.map(str::to_owned),
            errors,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn graphql(e: ApiError) -> (String, String) {
        let err = e.into_graphql();
        let ext = err.extensions.expect("extensions");
        let code = ext.get("code").map(|v| v.to_string().trim_matches('"').to_owned()).unwrap_or_default();
        let kind = ext.get("type").map(|v| v.to_string().trim_matches('"').to_owned()).unwrap_or_default();
        (code, kind)
    }

    /// Every REST problem has its GraphQL code (only an internal error is `INTERNAL`), and
    /// both name the same problem type.
    #[test]
    fn rest_and_graphql_name_each_error_alike() {
        let field = || vec![FieldError { field: "quantity".into(), code: "out_of_range", message: "1 to 99".into() }];
        let cases = [
            (ApiError::Invalid(field()), "BAD_USER_INPUT"),
            (ApiError::BadQuery(field()), "BAD_USER_INPUT"),
            (ApiError::MalformedJson("eof".into()), "BAD_USER_INPUT"),
            (ApiError::Unauthorized("no token".into()), "UNAUTHENTICATED"),
            (ApiError::Forbidden("no".into()), "FORBIDDEN"),
            (ApiError::EmailNotVerified, "FORBIDDEN"),
            (ApiError::NotFound("cart".into()), "NOT_FOUND"),
            (ApiError::Conflict("taken".into(), vec![]), "CONFLICT"),
            (ApiError::InvalidTransition("not shipped".into()), "CONFLICT"),
            (ApiError::PreconditionFailed("stale".into()), "STALE"),
            (ApiError::OutOfStock("sold out".into(), true, vec![]), "SOLD_OUT"),
            (ApiError::PaymentDeclined("card_declined".into(), "no".into()), "PAYMENT_DECLINED"),
            (ApiError::PaymentRequiresAction("https://bank.example/3ds".into()), "PAYMENT_DECLINED"),
            (ApiError::PaymentPending("lost".into()), "PAYMENT_PENDING"),
            (ApiError::PaymentFailed("refused".into()), "PAYMENT_FAILED"),
            (ApiError::LoginLocked(30), "RATE_LIMITED"),
            (ApiError::TooManyRequests("slow down".into()), "RATE_LIMITED"),
            (ApiError::Unavailable("db down".into()), "UNAVAILABLE"),
            (ApiError::Internal("bug".into()), "INTERNAL"),
        ];
        for (e, code) in cases {
            let rest = e.to_string();
            let (_, slug, _) = e.parts();
            let (got, kind) = graphql(e);
            assert_eq!(got, code, "{rest}");
            assert_eq!(kind, format!("/problems/{slug}"), "{rest}");
        }
    }

    /// A store's own failures map the same way from every context: taken → 409 with the
    /// field, stale → 412, outage → 503.
    #[test]
    fn store_errors_map_once() {
        use rouge_kernel::StoreError;
        let taken: ApiError = StoreError::duplicate("slug", "calm-serum").into();
        assert!(matches!(&taken, ApiError::Conflict(_, f) if f[0].field == "slug"), "{taken:?}");
        assert_eq!(ApiError::from(StoreError::Stale).parts().0, StatusCode::PRECONDITION_FAILED);
        let down = ApiError::from(StoreError::Unavailable("refused".into()));
        assert_eq!(down.parts().0, StatusCode::SERVICE_UNAVAILABLE);
        let from_catalog: ApiError = CatalogError::Store("refused".into()).into();
        assert_eq!(from_catalog.parts().0, StatusCode::SERVICE_UNAVAILABLE, "the same outage, the same answer");
        let from_orders: ApiError = rouge_orders::OrdersError::Store("refused".into()).into();
        assert_eq!(from_orders.parts().0, StatusCode::SERVICE_UNAVAILABLE);
        let from_inventory: ApiError =
            rouge_inventory::InventoryError::Store(StoreError::Unavailable("refused".into())).into();
        assert_eq!(from_inventory.parts().0, StatusCode::SERVICE_UNAVAILABLE);
        let from_identity: ApiError = IdentityError::Store("refused".into()).into();
        assert_eq!(from_identity.parts().0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
