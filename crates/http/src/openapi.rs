//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use crate::ops;
use crate::rest::{admin, audit, auth, carts, events, inventory, me, orders, staff, storefront};
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

#[derive(OpenApi)]
#[openapi(
    info(title = "Rouge", description = "Commerce backend for beauty retailers. Errors are RFC 9457 problem+json; money is integer minor units."),
    paths(
        storefront::list_products, storefront::product, storefront::categories, storefront::brands, storefront::ingredient,
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
        carts::shipping_methods, carts::merge, carts::complete, carts::stripe_webhook,
        orders::my_orders, orders::my_order, orders::request_return, orders::guest_order,
        orders::search, orders::staff_order, orders::transition, orders::refund, events::list, events::replay,
        ops::healthz, ops::readyz, ops::metrics_text,
    ),
    modifiers(&AdminAuth),
    tags((name = "storefront", description = "Public catalogue reads"), (name = "admin", description = "Catalogue management (staff token or API key with catalog permissions)"),
        (name = "staff", description = "Staff accounts, roles and API keys"),
        (name = "auth", description = "Customer accounts: register, log in, tokens, password reset"),
        (name = "me", description = "The logged-in customer's own data (customer token)"),
        (name = "checkout", description = "Carts, addresses, shipping, and completing a checkout with a payment"),
        (name = "orders", description = "Orders for staff: search, fulfilment, refunds"),
        (name = "inventory", description = "Stock in lots with batch numbers and expiry dates, its ledger, recalls"),
        (name = "operations", description = "Probes and metrics"))
)]
pub struct ApiDoc;
