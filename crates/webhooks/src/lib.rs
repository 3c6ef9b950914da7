//! Outbound webhooks as the Standard Webhooks specification has them
//! (<https://www.standardwebhooks.com>): each delivery carries `webhook-id`,
//! `webhook-timestamp` and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of
//! `{id}.{timestamp}.{body}` under the endpoint's secret; during a rotation one signature per
//! live secret, space-separated). Secrets are `whsec_` and base64 of 32 random bytes. A target
//! must not be in a private, loopback, link-local or otherwise internal range (no request
//! forgery into the shop's own network) unless a test allows it.
//!
//! Endpoints and deliveries are kept by the store ([`WebhookRepository`]); the server queues
//! events for them and sends what is due.

pub mod endpoint;
pub mod signature;
pub mod target;

pub use endpoint::{Delivery, DeliveryState, Due, Endpoint, Secrets, WebhookRepository};
pub use signature::{Headers, Secret, SecretError, sign};
pub use target::{TargetError, check_target, refused_range, resolve_target};
