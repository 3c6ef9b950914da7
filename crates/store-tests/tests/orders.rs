//! Runs the orders store contract on SQLite and on PostgreSQL with the same test code.

use rouge_store_tests::{harness, orders};

macro_rules! orders_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let db = harness::sqlite().await;
                    orders::$name(db.store.clone()).await;
                }
            )+
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = harness::postgres().await else { return };
                    orders::$name(db.store.clone()).await;
                    db.cleanup().await;
                }
            )+
        }
    };
}

orders_tests!(
    carts_are_versioned_and_leased_to_one_attempt_at_a_time,
    orders_are_placed_once_appended_in_turn_and_listed,
    sealed_contacts_are_rewrapped_and_forgotten,
);
