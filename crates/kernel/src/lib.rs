//! Rouge's shared vocabulary. Every bounded context speaks it; nothing here does I/O.

pub mod address;
pub mod cursor;
pub mod delivery;
pub mod email;
pub mod error;
pub mod event;
pub mod id;
pub mod idempotency;
pub mod money;
pub mod otel;
pub mod outbox;
pub mod patch;
pub mod slug;
pub mod store;
pub mod trace;

pub use address::Address;
pub use cursor::Cursor;
pub use delivery::{Claim, DeliveryLog, DeliveryState, FailedDelivery};
pub use error::{FieldError, Validation};
pub use event::DomainEvent;
pub use id::new_id;
pub use idempotency::{Begin, IdempotencyStore, StoredBody, StoredResponse};
pub use money::{Currency, Money};
pub use outbox::{CommitHook, Outbox, Ping, Relays};
pub use patch::merge_patch;
pub use slug::Slug;
pub use store::{StoreError, StoreResult};
pub use trace::TraceContext;
