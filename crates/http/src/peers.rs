//! The contexts' typed clients over HTTP (see [`crate::remote`]): what orders ask of the
//! catalogue and inventory, what every service asks identity of a bearer token, what identity
//! asks orders of a customer, when those services run in other processes. Each speaks the
//! wire of [`crate::rest::internal`].

use crate::error::ApiError;
use crate::remote::{Remote, RemoteError};
use crate::rest::internal::{
    CallerAnswer, CallerQuery, CommitBody, Done, ReleaseBody, ReserveBody, Reserved, SkusQuery, TakeBackBody,
};
use futures::future::BoxFuture;
use rouge_orders::{Catalog, SkuView, Stock, StockError};
use uuid::Uuid;

impl From<RemoteError> for ApiError {
    fn from(e: RemoteError) -> Self {
        match e {
            e @ RemoteError::Unavailable { .. } => ApiError::Unavailable(e.to_string()),
            RemoteError::Refused { status, problem, service } => {
                let detail = problem.get("detail").and_then(|d| d.as_str()).unwrap_or_default().to_owned();
                match status {
                    401 => ApiError::Unauthorized(detail),
                    403 => ApiError::Forbidden(detail),
                    404 => ApiError::NotFound(detail),
                    409 => ApiError::Conflict(detail, vec![]),
                    // Anything else is a call this version should not make: a bug, said so.
                    _ => {
                        ApiError::Internal(format!("the {service} service refused an internal call: {status} {detail}"))
                    }
                }
            }
        }
    }
}

/// The catalogue service, as orders see it.
#[derive(Clone)]
pub struct RemoteCatalog(pub Remote);

impl Catalog for RemoteCatalog {
    fn skus<'a>(&'a self, skus: &'a [String]) -> BoxFuture<'a, Result<Vec<Option<SkuView>>, String>> {
        Box::pin(async move {
            let views: Vec<Option<SkuView>> = self
                .0
                .post("/internal/v1/skus", &SkusQuery { skus: skus.to_vec() })
                .await
                .map_err(|e| e.to_string())?;
            if views.len() != skus.len() {
                return Err(format!("asked {} variants, got {}", skus.len(), views.len()));
            }
            Ok(views)
        })
    }
}

/// The inventory service, as orders see it.
#[derive(Clone)]
pub struct RemoteStock(pub Remote);

fn stock_error(e: RemoteError) -> StockError {
    match e {
        e @ RemoteError::Unavailable { .. } => StockError::Unavailable(e.to_string()),
        e @ RemoteError::Refused { .. } => StockError::Failed(e.to_string()),
    }
}

impl RemoteStock {
    async fn done<B: serde::Serialize + Send + Sync>(&self, path: String, body: B) -> Result<(), StockError> {
        self.0.post::<_, Done>(&path, &body).await.map(|_| ()).map_err(stock_error)
    }

    /// Every SKU's sellable stock (for the storefront's availability).
    ///
    /// # Errors
    /// When inventory cannot be asked.
    pub async fn sellable(&self) -> Result<Vec<(String, i64)>, RemoteError> {
        self.0.get("/internal/v1/sellable").await
    }
}

impl RemoteStock {
    async fn hold(&self, body: ReserveBody) -> Result<Uuid, StockError> {
        match self.0.post("/internal/v1/reservations", &body).await.map_err(stock_error)? {
            Reserved::Held(id) => Ok(id),
            Reserved::Insufficient { sku, requested, available } => {
                Err(StockError::Insufficient { sku, requested, available })
            }
        }
    }
}

impl Stock for RemoteStock {
    fn reserve<'a>(
        &'a self,
        reference: &'a str,
        lines: &'a [(String, i64)],
    ) -> BoxFuture<'a, Result<Uuid, StockError>> {
        Box::pin(self.hold(ReserveBody { reference: reference.to_owned(), lines: lines.to_vec(), until: None }))
    }

    fn set_aside<'a>(
        &'a self,
        reference: &'a str,
        lines: &'a [(String, i64)],
        until: i64,
    ) -> BoxFuture<'a, Result<Uuid, StockError>> {
        Box::pin(self.hold(ReserveBody { reference: reference.to_owned(), lines: lines.to_vec(), until: Some(until) }))
    }

    fn commit(&self, reservation: Uuid, order: Uuid) -> BoxFuture<'_, Result<(), StockError>> {
        Box::pin(self.done(format!("/internal/v1/reservations/{reservation}/commit"), CommitBody { order_id: order }))
    }

    fn release<'a>(&'a self, reservation: Uuid, reason: &'a str) -> BoxFuture<'a, Result<(), StockError>> {
        Box::pin(self.done(
            format!("/internal/v1/reservations/{reservation}/release"),
            ReleaseBody { reason: reason.to_owned() },
        ))
    }

    fn restock(&self, reservation: Uuid) -> BoxFuture<'_, Result<(), StockError>> {
        Box::pin(self.done(format!("/internal/v1/reservations/{reservation}/restock"), serde_json::json!({})))
    }

    fn take_back<'a>(
        &'a self,
        reservation: Uuid,
        units: &'a [(String, i64)],
        sellable: bool,
    ) -> BoxFuture<'a, Result<(), StockError>> {
        Box::pin(self.done(
            format!("/internal/v1/reservations/{reservation}/take-back"),
            TakeBackBody { units: units.to_vec(), sellable },
        ))
    }
}

/// The customer a bearer token speaks for, asked of the identity service.
///
/// # Errors
/// Identity's answer (401, 403), or 503 when it cannot be asked.
pub async fn customer(identity: &Remote, token: &str) -> Result<Uuid, ApiError> {
    match identity.post("/internal/v1/callers", &CallerQuery::Customer(token.to_owned())).await? {
        CallerAnswer::Customer(id) => Ok(id),
        CallerAnswer::Staff(_) => Err(ApiError::Forbidden("this route is for customers".into())),
    }
}

/// The staff member or integration a bearer credential speaks for, asked of identity.
///
/// # Errors
/// Identity's answer (401), or 503 when it cannot be asked.
pub async fn principal(identity: &Remote, token: &str) -> Result<rouge_identity::Principal, ApiError> {
    match identity.post("/internal/v1/callers", &CallerQuery::Staff(token.to_owned())).await? {
        CallerAnswer::Staff(p) => Ok(p),
        CallerAnswer::Customer(_) => Err(ApiError::Unauthorized("the bearer credential is not valid".into())),
    }
}

/// Destroys the sealed contact of a customer's orders (identity's erasure), in the orders
/// service.
///
/// # Errors
/// 503 when orders cannot be asked.
pub async fn forget_orders_of(orders: &Remote, customer: Uuid) -> Result<u64, ApiError> {
    let done: Done = orders.post(&format!("/internal/v1/customers/{customer}/forget"), &serde_json::json!({})).await?;
    Ok(done.changed)
}

/// A customer's orders as her data export shows them, from the orders service.
///
/// # Errors
/// 503 when orders cannot be asked.
pub async fn orders_of(orders: &Remote, customer: Uuid) -> Result<serde_json::Value, ApiError> {
    Ok(orders.get(&format!("/internal/v1/customers/{customer}/orders")).await?)
}

/// One of the payments service's providers, as orders see it: every call goes to the payments
/// service, which holds the provider's credentials.
pub struct RemotePayment {
    pub remote: Remote,
    pub name: &'static str,
}

impl RemotePayment {
    async fn call<B: serde::Serialize + Send + Sync, T: serde::de::DeserializeOwned>(
        &self,
        call: &str,
        body: B,
    ) -> rouge_payments::PaymentResult<T> {
        use crate::rest::internal::Paid;
        use rouge_payments::PaymentError;
        let path = format!("/internal/v1/payments/{}/{call}", self.name);
        match self.remote.post::<_, Paid<T>>(&path, &body).await {
            Ok(Paid::Done(t)) => Ok(t),
            Ok(Paid::Unreachable(why)) => Err(PaymentError::Unreachable(why)),
            Ok(Paid::Rejected(why)) => Err(PaymentError::Rejected(why)),
            // Not asked, or its answer lost: the same as the provider's answer lost (a retry with
            // the same key asks again, and never charges twice).
            Err(e @ RemoteError::Unavailable { .. }) => Err(PaymentError::Unreachable(e.to_string())),
            Err(RemoteError::Refused { problem, .. }) => Err(PaymentError::Rejected(
                problem.get("detail").and_then(|d| d.as_str()).unwrap_or("refused").to_owned(),
            )),
        }
    }

    fn payment_call(payment_id: &str, amount: i64, idempotency_key: &str) -> crate::rest::internal::PaymentCall {
        crate::rest::internal::PaymentCall {
            payment_id: payment_id.to_owned(),
            amount,
            idempotency_key: idempotency_key.to_owned(),
        }
    }
}

impl rouge_payments::PaymentProvider for RemotePayment {
    fn name(&self) -> &'static str {
        self.name
    }

    fn authorize(
        &self,
        req: rouge_payments::AuthorizeRequest,
    ) -> BoxFuture<'_, rouge_payments::PaymentResult<rouge_payments::Outcome>> {
        Box::pin(self.call("authorize", req))
    }

    fn capture(
        &self,
        payment_id: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> BoxFuture<'_, rouge_payments::PaymentResult<()>> {
        Box::pin(self.call("capture", Self::payment_call(payment_id, amount, idempotency_key)))
    }

    fn void(&self, payment_id: &str) -> BoxFuture<'_, rouge_payments::PaymentResult<()>> {
        Box::pin(self.call("void", Self::payment_call(payment_id, 0, "")))
    }

    fn refund(
        &self,
        payment_id: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> BoxFuture<'_, rouge_payments::PaymentResult<String>> {
        Box::pin(self.call("refund", Self::payment_call(payment_id, amount, idempotency_key)))
    }

    fn lookup(
        &self,
        idempotency_key: &str,
    ) -> BoxFuture<'_, rouge_payments::PaymentResult<Option<rouge_payments::Outcome>>> {
        Box::pin(self.call("lookup", Self::payment_call("", 0, idempotency_key)))
    }
}

/// Customers' segments, asked of the identity service (for promotions kept for segments).
#[derive(Clone)]
pub struct RemoteProfiles(pub Remote);

impl rouge_promotions::Profiles for RemoteProfiles {
    fn segments(&self, customer: Uuid) -> BoxFuture<'_, Result<Vec<String>, String>> {
        Box::pin(async move {
            self.0.get(&format!("/internal/v1/profiles/{customer}/segments")).await.map_err(|e| e.to_string())
        })
    }
}

/// The live offers, asked of the orders service (its public `GET /v1/offers`).
#[derive(Clone)]
pub struct RemoteOffers(pub Remote);

impl rouge_promotions::OfferSource for RemoteOffers {
    fn live(&self) -> BoxFuture<'_, Result<Vec<rouge_promotions::Offer>, String>> {
        use crate::rest::promotions::OfferList;
        Box::pin(async move { self.0.get::<OfferList>("/v1/offers").await.map(|l| l.items).map_err(|e| e.to_string()) })
    }
}

/// What a review copies of a beauty profile (she may hide each part on the review).
pub fn reviewer_of(p: &rouge_identity::BeautyProfile) -> rouge_reviews::ReviewerProfile {
    rouge_reviews::ReviewerProfile {
        skin_type: p.skin_type,
        concerns: p.concerns.clone(),
        age_band: p.age_band,
        shade: p.shade.as_ref().map(|s| rouge_reviews::ReviewerShade { undertone: s.undertone, depth: s.depth }),
    }
}

/// Reviewers' profiles, asked of the identity service.
#[derive(Clone)]
pub struct RemoteReviewers(pub Remote);

impl rouge_reviews::Reviewers for RemoteReviewers {
    fn profile(&self, customer: Uuid) -> BoxFuture<'_, Result<rouge_reviews::ReviewerProfile, String>> {
        Box::pin(async move {
            self.0.get(&format!("/internal/v1/profiles/{customer}/reviewer")).await.map_err(|e| e.to_string())
        })
    }
}
