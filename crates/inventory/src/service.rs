//! Inventory use cases: validation, the shop's stock rules, and the clock.

use crate::model::{Lot, Reservation, StockLevel, StockRules};
use crate::ports::{InventoryError, InventoryRepository, InventoryResult, LineRequest, ReserveRequest};
use chrono::{NaiveDate, Utc};
use rouge_kernel::{FieldError, Validation};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Goods arriving at a location.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub sku: String,
    /// A location code, e.g. `main` or `paris-store`.
    pub location: String,
    /// The manufacturer's batch (lot) number.
    pub batch: String,
    /// Use-by date of the batch; omit for goods that do not expire.
    pub expires_on: Option<NaiveDate>,
    pub quantity: i64,
    /// A delivery note or purchase order number.
    pub reference: Option<String>,
}

#[derive(Clone)]
pub struct InventoryService<R> {
    repo: R,
    /// Lots expiring within this many days are not sold.
    pub expiry_window_days: i64,
    /// Sellable stock at or below this is "low".
    pub low_stock: i64,
    /// How long a checkout holds stock.
    pub reservation_ttl: chrono::Duration,
}

const MAX_QUANTITY: i64 = 1_000_000;

fn code(v: &mut Validation, field: &str, value: &str) {
    if value.trim().is_empty() || value.len() > 64 || value.chars().any(char::is_control) {
        v.push(field, "invalid", format!("{field} must be 1 to 64 printable characters"));
    }
}

fn quantity(v: &mut Validation, field: &str, q: i64) {
    if !(1..=MAX_QUANTITY).contains(&q) {
        v.push(field, "out_of_range", format!("{field} must be between 1 and {MAX_QUANTITY}"));
    }
}

impl<R: InventoryRepository> InventoryService<R> {
    pub fn new(repo: R) -> Self {
        Self { repo, expiry_window_days: 30, low_stock: 5, reservation_ttl: chrono::Duration::minutes(15) }
    }

    pub fn repo(&self) -> &R {
        &self.repo
    }

    /// The rules as of now.
    pub fn rules(&self) -> StockRules {
        StockRules {
            cutoff: Utc::now().date_naive() + chrono::Duration::days(self.expiry_window_days),
            low_stock: self.low_stock,
        }
    }

    /// # Errors
    /// Field errors for a bad receipt (including an expiry date already past); the store's errors.
    pub async fn receive(&self, r: &Receipt) -> Result<Lot, ReceiveError> {
        let mut v = Validation::new();
        code(&mut v, "sku", &r.sku);
        code(&mut v, "location", &r.location);
        code(&mut v, "batch", &r.batch);
        quantity(&mut v, "quantity", r.quantity);
        if r.expires_on.is_some_and(|d| d <= Utc::now().date_naive()) {
            v.push("expires_on", "expired", "the batch has already expired");
        }
        if r.reference.as_ref().is_some_and(|s| s.len() > 200) {
            v.push("reference", "too_long", "reference must be at most 200 characters");
        }
        v.finish(|| ()).map_err(ReceiveError::Invalid)?;
        let lot = Lot {
            id: rouge_kernel::new_id(),
            sku: r.sku.trim().to_owned(),
            location: r.location.trim().to_owned(),
            batch: r.batch.trim().to_owned(),
            expires_on: r.expires_on,
            on_hand: 0,
            reserved: 0,
            quarantined: false,
            received_at: Utc::now().timestamp_millis(),
        };
        Ok(self.repo.receive(&lot, r.quantity, r.reference.as_deref(), &self.rules()).await?)
    }

    /// # Errors
    /// Field errors for a zero or huge delta or a missing reason; the store's errors.
    pub async fn adjust(&self, lot: Uuid, delta: i64, reason: &str) -> Result<Lot, ReceiveError> {
        let mut v = Validation::new();
        if delta == 0 || delta.abs() > MAX_QUANTITY {
            v.push("delta", "out_of_range", format!("delta must be non-zero and at most {MAX_QUANTITY} either way"));
        }
        if reason.trim().is_empty() || reason.len() > 200 {
            v.push("reason", "required", "say why the count changed (1 to 200 characters)");
        }
        v.finish(|| ()).map_err(ReceiveError::Invalid)?;
        Ok(self.repo.adjust(lot, delta, reason.trim(), &self.rules()).await?)
    }

    /// # Errors
    /// Field errors; the store's errors.
    pub async fn transfer(&self, lot: Uuid, to: &str, qty: i64) -> Result<(Lot, Lot), ReceiveError> {
        let mut v = Validation::new();
        code(&mut v, "to_location", to);
        quantity(&mut v, "quantity", qty);
        v.finish(|| ()).map_err(ReceiveError::Invalid)?;
        if let Some(l) = self.repo.lot(lot).await?
            && l.location == to.trim()
        {
            let mut v = Validation::new();
            v.push("to_location", "same_location", "the lot is already at that location");
            return Err(ReceiveError::Invalid(v.errors().to_vec()));
        }
        Ok(self.repo.transfer(lot, to.trim(), qty, &self.rules()).await?)
    }

    /// # Errors
    /// The store's errors.
    pub async fn set_quarantine(&self, lot: Uuid, quarantined: bool) -> InventoryResult<Lot> {
        self.repo.set_quarantine(lot, quarantined, &self.rules()).await
    }

    /// # Errors
    /// The store's errors.
    pub async fn stock(&self, sku: &str) -> InventoryResult<StockLevel> {
        Ok(StockLevel::of(sku, self.repo.lots(sku).await?, &self.rules()))
    }

    /// Sellable stock of every SKU that has lots (what the storefront's availability shows).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn sellable_by_sku(&self) -> InventoryResult<Vec<(String, i64)>> {
        self.repo.sellable_by_sku(&self.rules()).await
    }

    /// Holds stock for a checkout for the configured time. Lines of the same SKU are merged.
    ///
    /// # Errors
    /// `Insufficient` when any SKU is short; the store's errors.
    pub async fn reserve(&self, reference: &str, lines: &[LineRequest]) -> InventoryResult<Reservation> {
        self.reserve_until(reference, lines, (Utc::now() + self.reservation_ttl).timestamp_millis()).await
    }

    /// Holds stock until `expires_at` (milliseconds since the Unix epoch): units set aside for
    /// a later order, such as a month's beauty boxes. Lines of the same SKU are merged; again
    /// with the same reference: the same reservation.
    ///
    /// # Errors
    /// `Insufficient` when any SKU is short; the store's errors.
    pub async fn reserve_until(
        &self,
        reference: &str,
        lines: &[LineRequest],
        expires_at: i64,
    ) -> InventoryResult<Reservation> {
        let mut merged: Vec<LineRequest> = vec![];
        for l in lines {
            match merged.iter_mut().find(|m| m.sku == l.sku) {
                Some(m) => m.quantity += l.quantity,
                None => merged.push(l.clone()),
            }
        }
        let request =
            ReserveRequest { id: rouge_kernel::new_id(), reference: reference.to_owned(), lines: merged, expires_at };
        self.repo.reserve(&request, &self.rules()).await
    }

    /// # Errors
    /// The store's errors.
    pub async fn release(&self, id: Uuid, reason: &str) -> InventoryResult<Reservation> {
        self.repo.release(id, reason, &self.rules()).await
    }

    /// # Errors
    /// The store's errors.
    pub async fn commit(&self, id: Uuid, order: Uuid) -> InventoryResult<Reservation> {
        self.repo.commit(id, order).await
    }

    /// # Errors
    /// The store's errors.
    pub async fn restock(&self, id: Uuid) -> InventoryResult<Reservation> {
        self.repo.restock(id, &self.rules()).await
    }

    /// # Errors
    /// The store's errors.
    pub async fn take_back(&self, id: Uuid, units: &[LineRequest], sellable: bool) -> InventoryResult<Vec<Lot>> {
        self.repo.take_back(id, units, sellable, &self.rules()).await
    }

    /// Releases every held reservation whose time ran out; returns how many.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn release_expired(&self) -> InventoryResult<usize> {
        let mut released = 0;
        loop {
            let due = self.repo.expired(Utc::now().timestamp_millis(), 200).await?;
            if due.is_empty() {
                return Ok(released);
            }
            for id in due {
                match self.repo.release(id, "expired", &self.rules()).await {
                    Ok(_) => released += 1,
                    // Committed meanwhile by its order: nothing to release.
                    Err(InventoryError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}
