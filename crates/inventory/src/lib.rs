//! Inventory: stock per SKU and location, held in lots (a batch number and an expiry date),
//! every movement appended to a ledger from which on-hand, reserved and available are derived.
//! Checkouts reserve stock first-expired-first-out for a while; a reservation is committed
//! when its order is placed, or released (by the shopper, a failed payment, or its expiry).
//!
//! No I/O here: the store implements [`InventoryRepository`].

pub mod fefo;
pub mod model;
pub mod ports;
pub mod service;

pub use fefo::{Allocation, allocate};
pub use model::{LedgerEntry, Lot, Movement, Reservation, ReservationState, StockLevel, StockRules};
pub use ports::{InventoryError, InventoryRepository, LineRequest, ReserveRequest};
pub use service::{InventoryService, Receipt, ReceiveError};
