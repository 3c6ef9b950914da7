//! Black-box API tests: a real server on 127.0.0.1:0 over a fresh store. Every test runs on
//! SQLite and on PostgreSQL with the same code.

mod helpers;
mod smtp;
mod staff;

mod accounts;
mod admin;
mod amqp;
mod audit;
mod backup;
mod bad_input;
mod behaviour;
mod boxes;
mod builders;
mod cache;
mod cdn;
mod checkout;
mod cli;
mod client;
mod crash;
mod deploy;
mod faults;
mod gateway;
mod graphql;
mod inventory;
mod keys;
mod lb;
mod oidc;
mod oneshot;
mod ops;
mod pii;
mod promotions;
mod recommendations;
mod replays;
mod replenishment;
mod reviews;
mod schemathesis;
mod services;
mod sessions;
mod shades;
mod shapes;
mod storefront;
mod subscriptions;
mod traces;
mod webhooks;

/// Declares each test once per store.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::helpers::TestApp::sqlite().await;
                    super::$name(&app).await;
                    app.stop().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(app) = $crate::helpers::TestApp::postgres().await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )+
        }
    };
}
