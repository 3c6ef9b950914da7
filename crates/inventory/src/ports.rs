//! What inventory needs from a store.

use crate::model::{LedgerEntry, Lot, Reservation, StockRules};
use std::future::Future;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("not enough stock of {sku}: {requested} asked, {available} available")]
    Insufficient { sku: String, requested: i64, available: i64 },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] rouge_kernel::StoreError),
}

pub type InventoryResult<T> = Result<T, InventoryError>;

/// One SKU and quantity a reservation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRequest {
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    pub id: Uuid,
    pub reference: String,
    /// One line per SKU.
    pub lines: Vec<LineRequest>,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
}

/// The inventory repository. Every method that moves stock writes its ledger entries, the
/// lots they change and its events (`inventory.stock_low`, `inventory.stock_out`,
/// `inventory.back_in_stock`, judged by `rules`) in one transaction, and never lets a lot's
/// on-hand or reserved quantity fall below zero or reserved exceed on-hand, whatever runs
/// concurrently.
pub trait InventoryRepository: Clone + Send + Sync + 'static {
    /// Adds `quantity` to the lot of (`sku`, `location`, `batch`), creating it.
    ///
    /// # Errors
    /// `Conflict` when the batch is already stocked there with another expiry date.
    fn receive(
        &self,
        lot: &Lot,
        quantity: i64,
        reference: Option<&str>,
        rules: &StockRules,
    ) -> impl Future<Output = InventoryResult<Lot>> + Send;

    /// Changes a lot's on-hand quantity by `delta` (negative for losses).
    ///
    /// # Errors
    /// `NotFound`; `Insufficient` when the lot would hold less than it has reserved.
    fn adjust(
        &self,
        lot_id: Uuid,
        delta: i64,
        reason: &str,
        rules: &StockRules,
    ) -> impl Future<Output = InventoryResult<Lot>> + Send;

    /// Moves unreserved stock of a lot to the same batch at another location.
    ///
    /// # Errors
    /// `NotFound`; `Insufficient` when the lot has less unreserved stock than asked.
    fn transfer(
        &self,
        lot_id: Uuid,
        to_location: &str,
        quantity: i64,
        rules: &StockRules,
    ) -> impl Future<Output = InventoryResult<(Lot, Lot)>> + Send;

    /// # Errors
    /// `NotFound`.
    fn set_quarantine(
        &self,
        lot_id: Uuid,
        quarantined: bool,
        rules: &StockRules,
    ) -> impl Future<Output = InventoryResult<Lot>> + Send;

    /// # Errors
    /// `Store` when the store cannot be read.
    fn lot(&self, id: Uuid) -> impl Future<Output = InventoryResult<Option<Lot>>> + Send;

    /// Every lot of a SKU.
    ///
    /// # Errors
    /// `Store` when the store cannot be read.
    fn lots(&self, sku: &str) -> impl Future<Output = InventoryResult<Vec<Lot>>> + Send;

    /// Every SKU that has lots, with its sellable stock under `rules` (unreserved units in lots
    /// neither quarantined nor expiring on or before the cutoff), in one query.
    ///
    /// # Errors
    /// `Store` when the store cannot be read.
    fn sellable_by_sku(&self, rules: &StockRules) -> impl Future<Output = InventoryResult<Vec<(String, i64)>>> + Send;

    /// Every lot carrying a batch number, at every location.
    ///
    /// # Errors
    /// `Store` when the store cannot be read.
    fn lots_of_batch(&self, batch: &str) -> impl Future<Output = InventoryResult<Vec<Lot>>> + Send;

    /// Holds every line first-expired-first-out from sellable lots, all or nothing. A request
    /// whose `reference` already holds a reservation gets that one back (a retried checkout
    /// holds its stock once).
    ///
    /// # Errors
    /// `Insufficient` (for the first SKU short) when any line cannot be held in full.
    fn reserve(
        &self,
        request: &ReserveRequest,
        rules: &StockRules,
    ) -> impl Future<Output = InventoryResult<Reservation>> + Send;

    /// # Errors
    /// `Store` when the store cannot be read.
    fn reservation(&self, id: Uuid) -> impl Future<Output = InventoryResult<Option<Reservation>>> + Send;

    /// Ends a held reservation without a sale. Releasing a released reservation changes nothing.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when it was committed.
    fn release(
        &self,
        id: Uuid,
        reason: &str,
        rules: &StockRules,
    ) -> impl Future<Output = InventoryResult<Reservation>> + Send;

    /// Sells a held reservation to `order_id`. Committing again to the same order changes nothing.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when it was released or committed to another order.
    fn commit(&self, id: Uuid, order_id: Uuid) -> impl Future<Output = InventoryResult<Reservation>> + Send;

    /// Gives a cancelled order's units back: a committed reservation's go back into their lots,
    /// a still-held one is released (the order was cancelled before its stock was committed).
    /// Restocking twice changes nothing.
    ///
    /// # Errors
    /// `NotFound`.
    fn restock(&self, id: Uuid, rules: &StockRules) -> impl Future<Output = InventoryResult<Reservation>> + Send;

    /// Takes sold units back (a return): into the lots they left when `sellable`, otherwise
    /// into a quarantined lot of the same batch at the `quarantine` location (opened beauty
    /// products are not resold). Returns the lots that received them.
    ///
    /// # Errors
    /// `NotFound`; `Conflict` when the reservation was not committed or did not sell that many.
    fn take_back(
        &self,
        id: Uuid,
        units: &[LineRequest],
        sellable: bool,
        rules: &StockRules,
    ) -> impl Future<Output = InventoryResult<Vec<Lot>>> + Send;

    /// Held reservations whose time ran out before `now`, at most `limit`.
    ///
    /// # Errors
    /// `Store` when the store cannot be read.
    fn expired(&self, now: i64, limit: i64) -> impl Future<Output = InventoryResult<Vec<Uuid>>> + Send;

    /// Committed reservations that took stock from a batch: (order, SKU, quantity).
    ///
    /// # Errors
    /// `Store` when the store cannot be read.
    fn orders_of_batch(&self, batch: &str) -> impl Future<Output = InventoryResult<Vec<(Uuid, String, i64)>>> + Send;

    /// Ledger entries of a SKU after `after` (a `seq`), oldest first, at most `limit`.
    ///
    /// # Errors
    /// `Store` when the store cannot be read.
    fn ledger(
        &self,
        sku: &str,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = InventoryResult<Vec<LedgerEntry>>> + Send;

    /// Lots whose quantities differ from the sums of their ledger entries:
    /// (lot, on-hand and reserved stored, on-hand and reserved by the ledger).
    ///
    /// # Errors
    /// `Store` when the store cannot be read.
    fn discrepancies(&self) -> impl Future<Output = InventoryResult<Vec<(Uuid, [i64; 4])>>> + Send;

    /// Recomputes every lot from the ledger; returns how many lots changed.
    ///
    /// # Errors
    /// `Store` when the store cannot be written.
    fn rebuild(&self) -> impl Future<Output = InventoryResult<u64>> + Send;
}
