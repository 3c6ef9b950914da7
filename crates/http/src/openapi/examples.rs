//! An example on every request body, so /docs' "Try it out" starts from a request that works
//! and generated clients' documentation shows one. Each is what a beauty shop would send; the
//! Redocly lint in the test suite checks every example against its schema, and a unit test
//! below that no request body goes without one.

use serde_json::{Value, json};
use utoipa::Modify;
use utoipa::openapi::{OpenApi, RefOr};

pub struct Examples;

fn address() -> Value {
    json!({"name": "Camille Martin", "line1": "12 rue des Lilas", "city": "Lyon", "postal_code": "69003", "country": "FR"})
}

/// The example for a request body, by method and path template.
fn example(method: &str, path: &str) -> Option<Value> {
    let password = "correct horse battery staple";
    Some(match (method, path) {
        ("post", "/v1/admin/products") => json!({
            "name": "Niacinamide 10% Serum", "brand": "lumen-lab", "product_type": "skincare", "category": "serums",
            "status": "active", "description": "A lightweight serum that evens tone and refines pores.",
            "ingredients": ["Aqua", "Niacinamide", "Glycerin", "Zinc PCA", "Phenoxyethanol"],
            "skin_types": ["oily", "combination"], "concerns": ["acne", "pores"],
            "variants": [{"sku": "LL-NIA-30", "price": {"amount": 2400, "currency": "EUR"}, "size": {"amount": 30, "unit": "ml"}}]
        }),
        ("patch", "/v1/admin/products/{id}") => json!({"description": "Now with 1% zinc.", "tags": ["bestseller"]}),
        ("post", "/v1/admin/products/{id}/variants") => {
            json!({"sku": "LL-NIA-60", "price": {"amount": 3900, "currency": "EUR"}, "size": {"amount": 60, "unit": "ml"}})
        }
        ("patch", "/v1/admin/products/{id}/variants/{variant_id}") => {
            json!({"price": {"amount": 2200, "currency": "EUR"}, "compare_at_price": {"amount": 2400, "currency": "EUR"}})
        }
        ("post", "/v1/products/{slug}/reviews") => json!({
            "order_id": "01a22cd4-0c1d-7e2f-8a3b-4c5d6e7f8092", "sku": "LL-NIA-30", "rating": 5, "title": "Calmer skin",
            "text": "Two weeks in, fewer breakouts and no irritation.", "photos": ["https://img.example/r1.jpg"],
            "display_name": "Ana S.", "hide": ["age_band"]
        }),
        ("post", "/v1/subscriptions") => json!({
            "order_id": "01a22cd4-0c1d-7e2f-8a3b-4c5d6e7f8092", "sku": "LL-NIA-30", "quantity": 1, "cadence_weeks": 6,
            "payment": {"provider": "test", "token": "pm_card_visa"}
        }),
        ("post", "/v1/events") => json!({
            "anonymous_id": "v-3f9c2a7e41", "consent": true,
            "events": [
                {"id": "01a22cd4-0c1d-7e2f-8a3b-4c5d6e7f8093", "type": "product_viewed", "product_id": "01a22cd4-0c1d-7e2f-8a3b-4c5d6e7f8094"},
                {"type": "search_made", "query": "vitamin c serum"}
            ]
        }),
        ("patch", "/v1/subscriptions/{id}") => json!({"cadence_weeks": 8, "status": "paused"}),
        ("put", "/v1/subscriptions/{id}/skip") => json!({"period": 3}),
        ("put", "/v1/admin/boxes/{month}") => json!({
            "box_sku": "BOX-MONTHLY", "items_per_box": 3,
            "pool": [{"sku": "LL-NIA-5", "quantity": 200}, {"sku": "LL-GLOW-5", "quantity": 200}, {"sku": "LL-HYA-5", "quantity": 150}]
        }),
        ("put", "/v1/reviews/{id}/report") => json!({"reason": "advertises another shop"}),
        ("put", "/v1/admin/reviews/{id}/moderation") => {
            json!({"decision": "reject", "reason": "about delivery, not the product"})
        }
        ("put", "/v1/admin/reviews/{id}/reply") => json!({"text": "Thank you, Ana! Try it every other day at first."}),
        ("post", "/v1/admin/brands") => json!({"name": "Lumen Lab", "description": "Clinical skincare from Lyon."}),
        ("patch", "/v1/admin/brands/{id}") => json!({"description": "Clinical, fragrance-free skincare from Lyon."}),
        ("post", "/v1/admin/categories") => json!({"name": "Serums", "parent": "skincare", "position": 2}),
        ("patch", "/v1/admin/categories/{id}") => json!({"position": 1}),
        ("post", "/v1/admin/attributes") => json!({
            "product_type": "skincare", "name": "texture", "label": "Texture", "filterable": true,
            "kind": {"type": "enum", "values": ["gel", "cream", "oil", "balm"]}
        }),
        ("patch", "/v1/admin/attributes/{id}") => json!({"label": "Texture on the skin"}),
        ("post", "/v1/admin/inventory/receipts") => json!({
            "sku": "LL-NIA-30", "location": "main", "batch": "B2407", "expires_on": "2028-06-30", "quantity": 120,
            "reference": "PO-1042"
        }),
        ("post", "/v1/admin/inventory/lots/{id}/adjustments") => json!({"delta": -2, "reason": "damaged in transit"}),
        ("post", "/v1/admin/inventory/lots/{id}/transfers") => json!({"to_location": "paris-store", "quantity": 24}),
        ("put", "/v1/admin/inventory/lots/{id}/quarantine") => json!({"quarantined": true}),
        ("post", "/v1/admin/orders/{id}/transitions") => json!({"action": "capture"}),
        ("post", "/v1/admin/orders/{id}/refunds") => json!({"amount": 1200}),
        ("post", "/v1/admin/auth/login") => json!({"email": "owner@shop.example", "password": password}),
        ("post", "/v1/admin/staff") => json!({
            "email": "lea@shop.example", "name": "Léa Dubois", "password": password,
            "role_id": "01960000-0000-7000-8000-000000000002"
        }),
        ("patch", "/v1/admin/staff/{id}") => json!({"disabled": true}),
        ("post", "/v1/admin/webhooks") => json!({
            "url": "https://erp.example.com/rouge", "event_types": ["order.placed", "order.shipped"],
            "description": "ERP order import"
        }),
        ("patch", "/v1/admin/webhooks/{id}") => json!({"enabled": true}),
        ("post", "/v1/admin/promotions") | ("put", "/v1/admin/promotions/{id}") => json!({
            "name": "Spring serums: 20 % off",
            "benefit": {"kind": "percent_off", "percent_bp": 2000},
            "target": {"kind": "category", "slug": "serums"},
            "requires_code": true, "max_uses": 1000, "ends_at": 1_790_000_000_000_i64,
        }),
        ("post", "/v1/admin/promotions/{id}/codes") => json!({"count": 500, "prefix": "VIP-", "max_uses": 1}),
        ("post", "/v1/carts/{id}/codes") => json!({"code": "SPRING20"}),
        ("put", "/v1/carts/{id}/samples") => json!({"skus": ["LL-NIA-2ML", "LL-RET-2ML"]}),
        ("post", "/v1/admin/roles") => {
            json!({"name": "Fulfilment", "permissions": ["orders:read", "orders:write", "inventory:read"]})
        }
        ("post", "/v1/admin/api-keys") => {
            json!({"name": "warehouse scanner", "permissions": ["inventory:read", "inventory:write"]})
        }
        ("post", "/v1/auth/register") => json!({"email": "ana@example.com", "password": password, "name": "Ana Silva"}),
        ("post", "/v1/auth/password-reset/confirm") => {
            json!({"token": "the-token-from-the-emailed-link", "password": "a brand new passphrase"})
        }
        ("post", "/v1/auth/verify-email") => json!({"token": "the-token-from-the-emailed-link"}),
        ("post", "/v1/auth/login") => json!({"email": "ana@example.com", "password": password}),
        ("post", "/v1/auth/refresh") | ("post", "/v1/auth/logout") => {
            json!({"refresh_token": "the refresh_token of the session"})
        }
        ("post", "/v1/auth/password-reset") => json!({"email": "ana@example.com"}),
        ("patch", "/v1/me") => json!({
            "name": "Ana Silva",
            "beauty_profile": {"skin_type": "oily", "concerns": ["acne"], "avoid_ingredients": ["fragrance", "alcohol"]}
        }),
        ("post", "/v1/me/orders/{id}/returns") => {
            json!({"lines": [{"sku": "LL-NIA-30", "quantity": 1}], "reason": "the texture does not suit me"})
        }
        ("post", "/v1/carts/{id}/lines") => json!({"sku": "LL-NIA-30", "quantity": 2}),
        ("patch", "/v1/carts/{id}/lines/{line}") => json!({"quantity": 1}),
        ("put", "/v1/carts/{id}/checkout") => json!({
            "email": "camille@example.com", "shipping_address": address(), "shipping_method": "standard"
        }),
        ("post", "/v1/carts/{id}/complete") => json!({"payment": {"provider": "test", "token": "tok_visa"}}),
        _ => return None,
    })
}

impl Modify for Examples {
    fn modify(&self, doc: &mut OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [
                ("post", item.post.as_mut()),
                ("put", item.put.as_mut()),
                ("patch", item.patch.as_mut()),
                ("delete", item.delete.as_mut()),
            ];
            for (method, op) in ops {
                let Some(RefOr::T(body)) = op.and_then(|op| op.request_body.as_mut()) else { continue };
                let Some(value) = example(method, path) else { continue };
                for content in body.content.values_mut() {
                    if let RefOr::T(content) = content {
                        content.example = Some(value.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi as _;

    #[test]
    fn every_request_body_has_an_example() {
        let doc = crate::openapi::ApiDoc::openapi();
        let mut missing = vec![];
        for (path, item) in &doc.paths.paths {
            let ops = [("POST", &item.post), ("PUT", &item.put), ("PATCH", &item.patch), ("DELETE", &item.delete)];
            for (method, op) in ops {
                let Some(body) = op.as_ref().and_then(|op| op.request_body.as_ref()) else { continue };
                let utoipa::openapi::RefOr::T(body) = body else {
                    missing.push(format!("{method} {path} (a reference)"));
                    continue;
                };
                if body.content.values().any(|c| !matches!(c, utoipa::openapi::RefOr::T(c) if c.example.is_some())) {
                    missing.push(format!("{method} {path}"));
                }
            }
        }
        assert!(missing.is_empty(), "request bodies without an example: {missing:?}");
    }
}
