//! Extractors that turn bad input into problem documents.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use rouge_catalog::FieldError;
use serde::de::DeserializeOwned;

/// A JSON body whose type errors and unknown fields are reported with their path.
pub struct ValidJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| m.trim() == "application/json" || m.trim().ends_with("+json"))
        });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| ApiError::PayloadTooLarge)?;
        parse_json(&bytes).map(ValidJson)
    }
}

/// Every Rouge request body is a JSON object.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so a truncated body is "malformed" rather than a field error.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::MalformedJson(format!("{e}")))?;
    if !value.is_object() {
        return Err(ApiError::Invalid(vec![FieldError {
            field: String::new(),
            code: "type",
            message: "the body must be a JSON object".into(),
        }]));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let at = if path == "." { String::new() } else { path };
        // A missing field is reported by its object's path: name the field itself.
        let missing = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()).map(str::to_owned);
        let (field, code) = match missing {
            Some(name) if at.is_empty() => (name, "required"),
            Some(name) => (format!("{at}.{name}"), "required"),
            None if message.starts_with("unknown field") => (at, "unknown_field"),
            None => (at, "type"),
        };
        ApiError::Invalid(vec![FieldError { field, code, message }])
    })
}

/// The version named by an `If-Match` header (`"v3"`), if any.
pub struct IfMatch(pub Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else { return Ok(IfMatch(None)) };
        let raw = raw.to_str().unwrap_or_default().trim();
        if raw == "*" {
            return Ok(IfMatch(None));
        }
        // An entity tag is quoted (RFC 9110 §8.8.3); anything else is a malformed header, not a
        // failed precondition.
        let tag = raw.strip_prefix("W/").unwrap_or(raw);
        let Some(opaque) = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return Err(ApiError::BadHeader(
                "If-Match must be an entity tag such as \"v3\" (the ETag you read)".into(),
            ));
        };
        opaque
            .strip_prefix('v')
            .and_then(|v| v.parse().ok())
            .map(|v| IfMatch(Some(v)))
            .ok_or_else(|| ApiError::PreconditionFailed("If-Match does not name a version this server issued".into()))
    }
}

/// The admin ETag of a versioned resource.
pub fn version_etag(version: i64) -> String {
    format!("\"v{version}\"")
}
