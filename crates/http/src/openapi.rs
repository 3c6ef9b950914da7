//! The OpenAPI 3.1 document, generated from the handlers' annotations.

mod conventions;
mod examples;

use conventions::Conventions;
use examples::Examples;

use crate::ops;
use crate::rest::{
    admin, audit, auth, boxes, carts, events, inventory, me, orders, payments, promotions, recommendations, reorders,
    reviews, shades, staff, storefront, subscriptions, webhooks,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct AdminAuth;

impl Modify for AdminAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A staff access token from /v1/admin/auth/login, or an API key (rk_…). Each route's scopes name the permission it needs.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "customer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The access token from /v1/auth/login (EdDSA JWT, 15 minutes)"))
                    .build(),
            ),
        );
    }
}

/// POSTs that neither create nor charge: they take no Idempotency-Key (logging in twice is two
/// log-ins; Stripe deduplicates its own webhooks by event id).
pub const NOT_IDEMPOTENT: &[&str] = &[
    "/v1/auth/verify-email",
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/v1/auth/logout",
    "/v1/auth/password-reset",
    "/v1/auth/password-reset/confirm",
    "/v1/admin/auth/login",
    "/v1/payments/stripe/webhook",
    "/v1/admin/recommendations/train",
];

/// Every other POST honours `Idempotency-Key` (the routes wrap it with
/// [`crate::idempotency::idempotent`]; a test replays each one the document lists): the
/// header parameter and the `Idempotent-Replayed` answer header are declared here once.
struct Idempotency;

impl Modify for Idempotency {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{HeaderBuilder, ObjectBuilder, RefOr, Required, Type};
        for (path, item) in doc.paths.paths.iter_mut() {
            let Some(op) = item.post.as_mut().filter(|_| !NOT_IDEMPOTENT.contains(&path.as_str())) else { continue };
            let params = op.parameters.get_or_insert_with(Vec::new);
            params.retain(|p| !matches!(p, RefOr::T(p) if p.name.eq_ignore_ascii_case(crate::idempotency::HEADER)));
            let required = path == "/v1/carts/{id}/complete";
            params.push(RefOr::T(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(if required { Required::True } else { Required::False })
                    .description(Some(
                        "Names this request: a retry with the same key gets the first answer (with \
                         `Idempotent-Replayed: true`); the same key with another request answers 422, \
                         and 409 while the first is running. 1–255 visible ASCII characters, e.g. a UUID.",
                    ))
                    .schema(Some(
                        ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255)),
                    ))
                    .build(),
            ));
            for (status, response) in op.responses.responses.iter_mut() {
                // Every answer but a server error is stored and replayed (after the conventions
                // have added the problem answers).
                if let (false, RefOr::T(r)) = (status.starts_with('5'), response) {
                    let header = HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"]))))
                        .description(Some(
                            "Present when this is the stored answer to an earlier request with the same key",
                        ))
                        .build();
                    r.headers.insert("Idempotent-Replayed".into(), header.into());
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Rouge", description = "Commerce backend for beauty retailers. Errors are RFC 9457 problem+json; money is integer minor units."),
    paths(
        storefront::list_products, storefront::product, storefront::categories, storefront::brands, storefront::ingredient,
        shades::matches,
        webhooks::create, webhooks::list, webhooks::read, webhooks::update, webhooks::remove, webhooks::rotate,
        webhooks::deliveries, webhooks::replay,
        promotions::create, promotions::list, promotions::read, promotions::replace, promotions::add_codes,
        promotions::codes, promotions::offers, reorders::reorder,
        subscriptions::subscribe, subscriptions::mine, subscriptions::read, subscriptions::change, subscriptions::skip,
        subscriptions::all, boxes::set_up, boxes::read, boxes::preview, boxes::lock, boxes::mine,
        reviews::product_reviews, reviews::submit, reviews::mine, reviews::helpful, reviews::report, reviews::queue,
        reviews::staff_read, reviews::moderate, reviews::reply, recommendations::record,
        recommendations::recommendations, recommendations::train_now, recommendations::training, recommendations::report,
        admin::create_product, admin::get_product, admin::update_product, admin::archive_product,
        admin::add_variant, admin::update_variant, admin::archive_variant,
        admin::create_brand, admin::update_brand, admin::archive_brand,
        admin::create_category, admin::update_category, admin::archive_category,
        admin::define_attribute, admin::list_attributes, admin::update_attribute, admin::archive_attribute,
        auth::register, auth::verify_email, auth::login, auth::refresh, auth::logout, auth::request_reset, auth::confirm_reset,
        me::me, me::update_me, me::export, me::erase_me,
        staff::login, staff::list_staff, staff::create_staff, staff::update_staff, staff::list_roles, staff::create_role,
        staff::list_keys, staff::create_key, staff::revoke_key, audit::list,
        inventory::receive, inventory::adjust, inventory::transfer, inventory::quarantine, inventory::stock,
        inventory::ledger, inventory::batch, inventory::batch_orders, inventory::availability,
        carts::create, carts::read, carts::add_line, carts::set_quantity, carts::remove_line, carts::checkout,
        carts::shipping_methods, carts::merge, carts::complete, carts::add_code, carts::remove_code,
        carts::set_samples, payments::stripe_webhook,
        orders::my_orders, orders::my_order, orders::request_return, orders::guest_order,
        orders::search, orders::staff_order, orders::transition, orders::refund, events::list, events::replay,
        ops::healthz, ops::readyz, crate::asyncapi::serve,
    ),
    modifiers(&AdminAuth, &Conventions, &Idempotency, &Examples),
    tags((name = "storefront", description = "Public catalogue reads"), (name = "admin", description = "Catalogue management (staff token or API key with catalog permissions)"),
        (name = "staff", description = "Staff accounts, roles and API keys"),
        (name = "promotions", description = "Promotions and their codes: rules, schedules, budgets (staff with promotions:manage)"),
        (name = "subscriptions", description = "Subscriptions to a variant every N weeks, renewed through the checkout with a saved payment method"),
        (name = "reviews", description = "Verified-purchase reviews with the reviewer's skin type, ratings by skin type, votes, reports; moderation (staff with reviews:moderate)"),
        (name = "recommendations", description = "Behaviour in from storefronts (views, searches, cart changes, wishlist); recommendations out by context, each with its reason, within her constraints"),
        (name = "webhooks", description = "Outbound webhooks: endpoints, their secrets, deliveries (Standard Webhooks signatures)"),
        (name = "auth", description = "Customer accounts: register, log in, tokens, password reset"),
        (name = "me", description = "The logged-in customer's own data (customer token)"),
        (name = "checkout", description = "Carts, addresses, shipping, and completing a checkout with a payment"),
        (name = "orders", description = "Orders for staff: search, fulfilment, refunds"),
        (name = "inventory", description = "Stock in lots with batch numbers and expiry dates, its ledger, recalls"),
        (name = "operations", description = "Probes and metrics"))
)]
pub struct ApiDoc;

/// The status the API document says a route answers on success (its first 2xx response), by
/// route template and method: what an audit entry records, written before the answer exists.
pub fn success_status(route: &str, method: &axum::http::Method) -> Option<u16> {
    use std::collections::HashMap;
    use std::sync::LazyLock;
    static STATUS: LazyLock<HashMap<(String, String), u16>> = LazyLock::new(|| {
        let doc = ApiDoc::openapi();
        let mut out = HashMap::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ];
            for (method, op) in ops {
                let code = op
                    .iter()
                    .flat_map(|o| o.responses.responses.keys())
                    .find_map(|c| c.parse::<u16>().ok().filter(|c| (200..300).contains(c)));
                if let Some(code) = code {
                    out.insert((path.clone(), method.to_owned()), code);
                }
            }
        }
        out
    });
    STATUS.get(&(route.to_owned(), method.as_str().to_owned())).copied()
}
