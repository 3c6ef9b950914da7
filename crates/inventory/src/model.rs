//! Lots, ledger entries and reservations.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// What arrived together at one location: one SKU, one batch number, one expiry date.
/// `on_hand` and `reserved` are a projection of the lot's ledger entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lot {
    pub id: Uuid,
    pub sku: String,
    pub location: String,
    pub batch: String,
    /// `None` for goods without a use-by date (tools, accessories).
    pub expires_on: Option<NaiveDate>,
    pub on_hand: i64,
    pub reserved: i64,
    /// Quarantined stock (returned opened products, a recall) is never sold.
    pub quarantined: bool,
    /// Milliseconds since the Unix epoch.
    pub received_at: i64,
}

impl Lot {
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }

    /// Whether the lot may be sold under `rules`: not quarantined and not expiring on or
    /// before the cut-off date.
    pub fn sellable(&self, rules: &StockRules) -> bool {
        !self.quarantined && self.expires_on.is_none_or(|d| d > rules.cutoff)
    }
}

/// The kinds of movement the ledger records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Movement {
    /// Goods arrived.
    Receive,
    /// A count was corrected (damage, loss, found stock), with a reason.
    Adjust,
    /// Stock left this location for another.
    TransferOut,
    /// Stock arrived from another location.
    TransferIn,
    /// Held for a checkout.
    Reserve,
    /// A hold ended without a sale (expired, cancelled, payment failed).
    Release,
    /// A held quantity was sold: it leaves on-hand and the hold ends.
    Commit,
    /// Sold stock came back (a cancelled order, a return).
    Restock,
}

impl Movement {
    pub fn as_str(self) -> &'static str {
        match self {
            Movement::Receive => "receive",
            Movement::Adjust => "adjust",
            Movement::TransferOut => "transfer_out",
            Movement::TransferIn => "transfer_in",
            Movement::Reserve => "reserve",
            Movement::Release => "release",
            Movement::Commit => "commit",
            Movement::Restock => "restock",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Movement::Receive,
            Movement::Adjust,
            Movement::TransferOut,
            Movement::TransferIn,
            Movement::Reserve,
            Movement::Release,
            Movement::Commit,
            Movement::Restock,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// One line of the ledger. Summing `on_hand_delta` and `reserved_delta` per lot gives the lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    /// Order of entry, increasing.
    pub seq: i64,
    pub lot_id: Uuid,
    pub sku: String,
    pub location: String,
    pub batch: String,
    pub movement: Movement,
    pub on_hand_delta: i64,
    pub reserved_delta: i64,
    pub reason: Option<String>,
    /// What caused it: a reservation, an order, a transfer.
    pub reference: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Held,
    Released,
    Committed,
    /// Sold, then put back (a cancelled order).
    Restocked,
}

impl ReservationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationState::Held => "held",
            ReservationState::Released => "released",
            ReservationState::Committed => "committed",
            ReservationState::Restocked => "restocked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "held" => Some(ReservationState::Held),
            "released" => Some(ReservationState::Released),
            "committed" => Some(ReservationState::Committed),
            "restocked" => Some(ReservationState::Restocked),
            _ => None,
        }
    }
}

/// Stock held for one checkout, lot by lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    pub id: Uuid,
    /// The checkout (or other caller) holding it.
    pub reference: String,
    pub state: ReservationState,
    /// Milliseconds since the Unix epoch; a held reservation past it is released.
    pub expires_at: i64,
    /// The order it was committed to.
    pub order_id: Option<Uuid>,
    pub lines: Vec<crate::Allocation>,
}

/// What may be sold, and when to warn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockRules {
    /// Lots expiring on or before this day are not sold (today plus the shop's window).
    pub cutoff: NaiveDate,
    /// A SKU whose sellable stock falls to this or below emits `inventory.stock_low`.
    pub low_stock: i64,
}

/// A SKU's stock summed over its lots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StockLevel {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    /// What can be sold now: unreserved stock in sellable lots.
    pub available: i64,
    pub lots: Vec<Lot>,
}

impl StockLevel {
    pub fn of(sku: &str, lots: Vec<Lot>, rules: &StockRules) -> Self {
        Self {
            sku: sku.to_owned(),
            on_hand: lots.iter().map(|l| l.on_hand).sum(),
            reserved: lots.iter().map(|l| l.reserved).sum(),
            available: lots.iter().filter(|l| l.sellable(rules)).map(|l| l.available().max(0)).sum(),
            lots,
        }
    }
}

/// A SKU's sellable stock crossed a level (`inventory.stock_out`, `inventory.stock_low`,
/// `inventory.back_in_stock`); the aggregate id is the SKU's name-based UUID (v5, OID namespace).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StockLevelChanged {
    pub sku: String,
    /// Sellable units now.
    pub available: i64,
    /// Sellable units before the change.
    pub before: i64,
}

/// The events a change of a SKU's sellable stock from `before` to `after` calls for.
pub fn level_events(sku: &str, before: i64, after: i64, low_stock: i64) -> Vec<rouge_kernel::DomainEvent> {
    let event = |kind: &str| {
        let payload = StockLevelChanged { sku: sku.to_owned(), available: after, before };
        rouge_kernel::DomainEvent::new(
            "sku",
            Uuid::new_v5(&Uuid::NAMESPACE_OID, sku.as_bytes()),
            kind,
            serde_json::to_value(payload).expect("serialises"),
        )
    };
    if after <= 0 && before > 0 {
        vec![event("inventory.stock_out")]
    } else if after <= low_stock && before > low_stock && after > 0 {
        vec![event("inventory.stock_low")]
    } else if before <= 0 && after > 0 {
        vec![event("inventory.back_in_stock")]
    } else {
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_events_fire_on_crossing_only() {
        let kinds = |b, a| level_events("S", b, a, 5).into_iter().map(|e| e.event_type).collect::<Vec<_>>();
        assert_eq!(kinds(10, 6), Vec::<String>::new());
        assert_eq!(kinds(10, 5), ["inventory.stock_low"]);
        assert_eq!(kinds(5, 4), Vec::<String>::new());
        assert_eq!(kinds(3, 0), ["inventory.stock_out"]);
        assert_eq!(kinds(0, 2), ["inventory.back_in_stock"]);
        assert_eq!(kinds(0, 0), Vec::<String>::new());
    }
}
