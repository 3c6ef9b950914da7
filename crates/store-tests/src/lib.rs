//! One contract suite for every store: the same test code runs against SQLite and
//! PostgreSQL (`tests/contract.rs`), each test on a database of its own.

pub mod behaviour;
pub mod boxes;
pub mod broker;
pub mod contract;
pub mod fixtures;
pub mod harness;
pub mod identity;
pub mod inventory;
pub mod orders;
pub mod promotions;
pub mod raw;
pub mod replenishment;
pub mod reviews;
pub mod subscriptions;
pub mod webhooks;

/// Runs each named contract function of `$module` on a fresh SQLite database and on a fresh
/// PostgreSQL database (skipped, or failed when services are required, without a server):
/// `rouge_store_tests::on_both_stores!(orders: placing_works, listing_works);`
#[macro_export]
macro_rules! on_both_stores {
    ($module:ident: $($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = $crate::harness::sqlite().await;
                    $crate::$module::$name(db.store.clone()).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = $crate::harness::postgres().await else { return };
                    $crate::$module::$name(db.store.clone()).await;
                    db.cleanup().await;
                }
            )+
        }
    };
}
