//! Idempotency keys on the routes that create or charge: the first answer to a key is stored
//! (in the store, for a day) and replayed to every retry with `Idempotent-Replayed: true`;
//! the same key with a different request answers 422, and while the first request runs, 409.
//! Server errors are not stored: a retry with the same key runs again.
//!
//! Answers carry personal data (a checkout's email and addresses), so the stored body is sealed
//! like every other record of it: under a data key of its own, wrapped by the vault's master
//! key, bound to its scope. An answer to a customer names her as its owner and is deleted when
//! her account is erased; `rouge keys rotate` re-wraps the data keys with the rest.

use crate::error::ApiError;
use crate::sealed::{decode, encode};
use crate::state::{AppState, Store};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use rouge_kernel::{Begin, IdempotencyStore, StoredResponse};
use rouge_orders::Sealer;
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const TTL_MS: i64 = 24 * 3600 * 1000;

/// `m` honours Idempotency-Key; with `required`, a request without one is refused (400).
pub fn idempotent<S: Store>(
    app: &AppState<S>,
    required: bool,
    m: MethodRouter<AppState<S>>,
) -> MethodRouter<AppState<S>> {
    m.route_layer(middleware::from_fn_with_state((app.clone(), required), guard::<S>))
}

/// Whether `key` may name a request: 1 to 255 visible ASCII characters (REST's header and
/// GraphQL's `idempotencyKey` alike).
pub fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn guard<S: Store>(State((app, required)): State<(AppState<S>, bool)>, req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get(HEADER) else {
        if required {
            return ApiError::IdempotencyKey("this request charges or creates: send an `Idempotency-Key` header (e.g. a UUID) and reuse it on retries".into())
                .into_response();
        }
        return next.run(req).await;
    };
    let key = match raw.to_str() {
        Ok(k) if valid_key(k) => k.to_owned(),
        _ => {
            return ApiError::IdempotencyKey("`Idempotency-Key` must be 1 to 255 visible ASCII characters".into())
                .into_response();
        }
    };
    let (parts, body) = req.into_parts();
    let owner = customer_of(&app, &parts);
    let Ok(bytes) = axum::body::to_bytes(body, crate::BODY_LIMIT).await else {
        return ApiError::PayloadTooLarge.into_response();
    };
    let auth = parts.headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes).unwrap_or_default();
    let hash = hex(&Sha256::new()
        .chain_update(parts.method.as_str())
        .chain_update(b"\n")
        .chain_update(parts.uri.path())
        .chain_update(b"\n")
        .chain_update(&bytes)
        .finalize());
    // Keys are per caller: two shoppers cannot collide, or read each other's answers.
    let scope = format!("{} {} {}", parts.method, parts.uri.path(), &hex(&Sha256::digest(auth))[..16]);
    let now = chrono::Utc::now().timestamp_millis();
    let lease = app.idempotency_lease.as_millis() as i64;
    // Until then this attempt alone holds the key; a write of its outcome that fails (the
    // store went away) is retried until it lands or that moment comes.
    let held_until = std::time::Instant::now() + app.idempotency_lease.saturating_sub(LEASE_MARGIN);
    let release_later = |app: &AppState<S>, scope: String, key: String| {
        let store = app.store.clone();
        tokio::spawn(until_written(held_until, "free an idempotency key", move || {
            let (store, scope, key) = (store.clone(), scope.clone(), key.clone());
            async move { store.abandon(&scope, &key, now).await }
        }));
    };
    match app.store.begin(&scope, &key, &hash, now, lease, TTL_MS).await {
        Err(e) => {
            // The claim may have been written with only its answer lost: freed once the store
            // answers, so that the client's retry runs instead of waiting out the lease.
            release_later(&app, scope, key);
            ApiError::from(e).into_response()
        }
        Ok(Begin::InFlight) => ApiError::IdempotencyInFlight.into_response(),
        Ok(Begin::Mismatch) => ApiError::IdempotencyMismatch.into_response(),
        Ok(Begin::Done(stored)) => match open(&app, &scope, &stored.body) {
            Ok(body) => {
                metrics::counter!("rouge_idempotent_replays_total").increment(1);
                replay(stored, body)
            }
            Err(e) => {
                tracing::error!(error = %e, "a stored idempotent answer does not open");
                ApiError::Unavailable("the first answer to this key cannot be read".into()).into_response()
            }
        },
        Ok(Begin::Started) => {
            let res = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            if res.status().is_server_error() {
                if let Err(e) = app.store.abandon(&scope, &key, now).await {
                    tracing::warn!(error = %e, "could not free an idempotency key yet; retrying in the background");
                    release_later(&app, scope, key);
                }
                return res;
            }
            let (parts, body) = res.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let keep = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];
            let stored = StoredResponse {
                status: parts.status.as_u16(),
                headers: keep
                    .iter()
                    .filter_map(|h| Some((h.as_str().to_owned(), parts.headers.get(h)?.to_str().ok()?.to_owned())))
                    .collect(),
                body: seal(&app, &scope, &body),
                owner: owner.clone(),
            };
            if let Err(e) = app.store.finish(&scope, &key, &stored).await {
                tracing::warn!(error = %e, "could not store an idempotent answer yet; retrying in the background");
                let store = app.store.clone();
                tokio::spawn(until_written(held_until, "store an idempotent answer", move || {
                    let (store, scope, key, stored) = (store.clone(), scope.clone(), key.clone(), stored.clone());
                    async move { store.finish(&scope, &key, &stored).await }
                }));
            }
            Response::from_parts(parts, Body::from(body))
        }
    }
}

/// How long before its lease runs out an attempt stops writing to its key (another attempt
/// may take the key over then).
const LEASE_MARGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Retries `write` (doubling pauses from a quarter second, at most 2 s) until it succeeds or
/// `deadline` passes. Without it, a key whose attempt failed while the store was away would
/// answer "in flight" to every retry until its lease ran out (a minute by default), long
/// after the store was back.
async fn until_written<F, Fut>(deadline: std::time::Instant, what: &'static str, write: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = rouge_kernel::StoreResult<()>>,
{
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        tokio::time::sleep(pause).await;
        if std::time::Instant::now() >= deadline {
            tracing::warn!(what, "gave up; the key's lease frees it");
            return;
        }
        if write().await.is_ok() {
            tracing::info!(what, "done once the store answered again");
            return;
        }
        pause = (pause * 2).min(std::time::Duration::from_secs(2));
    }
}

/// The customer a request's bearer token names (checked by the gateway, or here).
fn customer_of<S: Store>(app: &AppState<S>, parts: &axum::http::request::Parts) -> Option<String> {
    let claims = match parts.extensions.get::<crate::gateway::Verified>() {
        Some(v) => v.0.clone(),
        None => app.identity.tokens().verify(crate::rest::auth::bearer(&parts.headers)?).ok()?,
    };
    (claims.kind == rouge_identity::Subject::Customer).then(|| claims.sub.to_string())
}

fn seal<S: Store>(app: &AppState<S>, scope: &str, body: &[u8]) -> Vec<u8> {
    encode(&app.sealer.seal(scope, body))
}

fn open<S: Store>(app: &AppState<S>, scope: &str, stored: &[u8]) -> Result<Vec<u8>, String> {
    app.sealer.open(scope, &decode(stored)?)
}

/// Re-wraps every stored answer's data key under the current master key (after a rotation);
/// returns how many changed.
///
/// # Errors
/// When the store fails or an answer does not open.
pub async fn rewrap<S: IdempotencyStore>(store: &S, sealer: &dyn Sealer) -> Result<usize, String> {
    let (mut after, mut changed) = (None::<(String, String)>, 0);
    loop {
        let page = store
            .stored_bodies(after.as_ref().map(|(s, k)| (s.as_str(), k.as_str())), 500)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { return Ok(changed) };
        after = Some((last.scope.clone(), last.key.clone()));
        for b in &page {
            let mut sealed = decode(&b.body)?;
            if let Some((master, key)) = sealer.rewrap(&b.scope, &sealed.master_id, &sealed.key)? {
                (sealed.master_id, sealed.key) = (master, key);
                if store.replace_body(&b.scope, &b.key, &b.body, &encode(&sealed)).await.map_err(|e| e.to_string())? {
                    changed += 1;
                }
            }
        }
    }
}

fn replay(stored: StoredResponse, body: Vec<u8>) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = axum::http::StatusCode::from_u16(stored.status).unwrap_or(axum::http::StatusCode::OK);
    let h = res.headers_mut();
    for (name, value) in stored.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            h.insert(n, v);
        }
    }
    h.insert(REPLAYED, HeaderValue::from_static("true"));
    res
}
