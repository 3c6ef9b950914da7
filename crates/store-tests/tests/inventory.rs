//! Runs the inventory store contract on SQLite and on PostgreSQL with the same test code.

use rouge_store_tests::{harness, inventory};

macro_rules! inventory_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let db = harness::sqlite().await;
                    inventory::$name(db.store.clone()).await;
                }
            )+
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = harness::postgres().await else { return };
                    inventory::$name(db.store.clone()).await;
                    db.cleanup().await;
                }
            )+
        }
    };
}

inventory_tests!(
    reservations_take_the_soonest_sellable_expiry_and_the_ledger_agrees,
    concurrent_reservations_never_oversell,
    expired_reservations_are_released,
    adjustments_transfers_and_quarantine_keep_stock_whole,
    retries_hold_once_and_cancelling_before_commit_gives_stock_back,
);
