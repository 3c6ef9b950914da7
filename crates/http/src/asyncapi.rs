//! The AsyncAPI 3.0 document of every domain event Rouge publishes (`GET /asyncapi.json`): one
//! channel per event type on the `rouge.events` topic exchange (the routing key is the type),
//! its message (the JSON envelope with the event's payload, the headers) and an example. The
//! payload schemas are generated from the types the contexts build their events from (utoipa
//! `ToSchema`, as for the REST document), so the two cannot drift apart; the test suite runs
//! the AsyncAPI parser on the served document (which checks every example against its schema)
//! and checks that every event the shop emits in a full tour is documented.

use serde_json::{Value, json};
use std::sync::LazyLock;
use utoipa::OpenApi;

/// The payload types, for their schemas.
#[derive(OpenApi)]
#[openapi(components(schemas(
    rouge_catalog::Product,
    rouge_catalog::Brand,
    rouge_catalog::Category,
    rouge_catalog::AttributeDefinition,
    rouge_catalog::MoneySchema,
    rouge_orders::OrderEvent,
    rouge_orders::service::OrderRef,
    rouge_identity::CustomerRegistered,
    rouge_identity::CustomerRef,
    rouge_identity::CustomerUpdated,
    rouge_identity::CustomerReclaimed,
    rouge_identity::EmailRequested,
    rouge_inventory::model::StockLevelChanged,
    rouge_promotions::Promotion,
    rouge_reviews::Review,
    rouge_reviews::RatingChanged,
    rouge_reviews::ReviewReported,
    rouge_subscriptions::Subscription,
    rouge_subscriptions::BoxMonth,
    rouge_subscriptions::BoxLocked,
    rouge_subscriptions::Reminder,
)))]
struct Payloads;

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A catalogue event's payload: `{"type": <kind>, "data": <data>}`.
fn catalog(kind: &str, data: Value) -> Value {
    json!({
        "type": "object",
        "required": ["type", "data"],
        "properties": {"type": {"type": "string", "const": kind}, "data": data}
    })
}

/// An order event's payload: the variant of `OrderEvent` tagged `tag`, and the order it is about.
fn order(schemas: &Value, tag: &str) -> Value {
    let variants = schemas["OrderEvent"]["oneOf"].as_array().cloned().unwrap_or_default();
    let variant = variants
        .into_iter()
        .find(|v| v["properties"]["type"]["enum"] == json!([tag]))
        .unwrap_or_else(|| panic!("OrderEvent has no variant tagged {tag}"));
    json!({"allOf": [variant, schema_ref("OrderRef")]})
}

struct Event {
    kind: &'static str,
    aggregate: &'static str,
    summary: &'static str,
    payload: Value,
    example: Value,
}

const PRODUCT_ID: &str = "01a22cd0-83c9-709b-a5d8-773a409010df";
const ORDER_ID: &str = "e281dd0e-9ae9-4477-b888-032ac0942ad6";
const CUSTOMER_ID: &str = "01a22cd1-0b1e-7c3a-9d52-5f0e2a7c4b10";

fn product(status: &str, version: i64) -> Value {
    json!({
        "id": PRODUCT_ID, "slug": "lumen-lab-niacinamide-10-serum", "name": "Niacinamide 10% Serum",
        "brand_id": "01a22cd0-83ab-74d9-8c66-ca37fe9748b1", "product_type": "skincare",
        "category_id": "01a22cd0-83b6-70fc-a192-5a3df7cf56f3", "status": status,
        "description": "A lightweight, fragrance-free serum with 10% niacinamide and zinc.",
        "tags": ["bestseller"], "images": [],
        "variants": [{
            "id": "01a22cd0-83c7-758c-a8ac-0e5ae110c3e7", "sku": "LL-NIA-30", "gtin": null,
            "price": {"amount": 2400, "currency": "EUR"}, "compare_at_price": null,
            "size": {"amount": 30, "unit": "ml"}, "shade": null, "scent": null, "formulation": null, "archived": false
        }],
        "ingredients": [
            {"inci": "Aqua", "allergen": false}, {"inci": "Niacinamide", "allergen": false},
            {"inci": "Zinc PCA", "allergen": false}, {"inci": "Phenoxyethanol", "allergen": false}
        ],
        "free_from": ["fragrance-free", "alcohol-free"],
        "certifications": [{"kind": "vegan", "body": "The Vegan Society", "expires_on": "2028-11-29"}],
        "skin_types": ["oily", "combination"], "concerns": ["acne", "pores"], "hair_types": [],
        "finish": null, "coverage": null, "spf": null, "pao_months": 12, "attributes": {},
        "version": version, "created_at": "2026-11-30T14:16:32Z", "updated_at": "2026-11-30T14:16:32Z"
    })
}

fn order_ref(mut fields: Value) -> Value {
    let about = json!({"order_id": ORDER_ID, "number": 1001, "customer_id": null});
    if let (Some(m), Value::Object(about)) = (fields.as_object_mut(), about) {
        m.extend(about);
    }
    fields
}

/// A subscription after `period` periods, as its events carry it (never its card's token).
fn sub(period: i64, status: &str, failures: i32) -> Value {
    json!({"id": "01a22cd4-0c1d-7e2f-8a3b-4c5d6e7f80b3", "customer_id": CUSTOMER_ID,
        "origin_order_id": "01a22cd4-0c1d-7e2f-8a3b-4c5d6e7f8092", "sku": "LL-NIA-30", "quantity": 1, "cadence_weeks": 6,
        "status": status, "next_at": 1_790_000_000_000_i64, "period": period, "payment_provider": "test",
        "failures": failures,
        "paused_reason": if status == "paused" { json!("3 renewal payments failed") } else { Value::Null },
        "last_order_id": null, "created_at": 1_780_000_000_000_i64, "updated_at": 1_780_000_000_000_i64})
}

const REVIEW_ID: &str = "01a22cd4-0c1d-7e2f-8a3b-4c5d6e7f80a2";

/// A review in the state `status`, as its events carry it.
fn review(status: &str) -> Value {
    json!({"id": REVIEW_ID, "product_id": PRODUCT_ID, "sku": "LL-NIA-30", "rating": 5, "title": "Calmer skin",
        "text": "Two weeks in, fewer breakouts.", "photos": [],
        "reviewer": {"display_name": "Ana S.", "skin_type": "oily", "concerns": ["acne"], "age_band": null, "shade": null},
        "verified_purchase": true, "status": status,
        "rejection_reason": if status == "rejected" { json!("about delivery, not the product") } else { Value::Null },
        "reply": null, "helpful": 0, "created_at": 1_780_000_000_000_i64, "updated_at": 1_780_000_000_000_i64})
}

fn events(schemas: &Value) -> Vec<Event> {
    let ev = |kind, aggregate, summary, payload, example| Event { kind, aggregate, summary, payload, example };
    let level = |available: i64, before: i64| json!({"sku": "LL-NIA-30", "available": available, "before": before});
    let lines = json!([{"product_id": PRODUCT_ID, "sku": "LL-NIA-30", "name": "Niacinamide 10% Serum", "quantity": 2}]);
    vec![
        ev(
            "ProductCreated",
            "product",
            "A product was created.",
            catalog("ProductCreated", schema_ref("Product")),
            json!({"type": "ProductCreated", "data": product("active", 1)}),
        ),
        ev(
            "ProductUpdated",
            "product",
            "A product changed (its new state).",
            catalog("ProductUpdated", schema_ref("Product")),
            json!({"type": "ProductUpdated", "data": product("active", 2)}),
        ),
        ev(
            "ProductArchived",
            "product",
            "A product was archived (unlisted, kept).",
            catalog("ProductArchived", schema_ref("Product")),
            json!({"type": "ProductArchived", "data": product("archived", 3)}),
        ),
        ev(
            "VariantPriceChanged",
            "product",
            "A variant's price changed.",
            catalog(
                "VariantPriceChanged",
                json!({
                    "type": "object", "required": ["product_id", "variant_id", "sku", "old", "new"],
                    "properties": {
                        "product_id": {"type": "string", "format": "uuid"}, "variant_id": {"type": "string", "format": "uuid"},
                        "sku": {"type": "string"}, "old": schema_ref("MoneySchema"), "new": schema_ref("MoneySchema")
                    }
                }),
            ),
            json!({"type": "VariantPriceChanged", "data": {
                "product_id": PRODUCT_ID, "variant_id": "01a22cd0-83c7-758c-a8ac-0e5ae110c3e7", "sku": "LL-NIA-30",
                "old": {"amount": 2400, "currency": "EUR"}, "new": {"amount": 2200, "currency": "EUR"}
            }}),
        ),
        ev(
            "BrandSaved",
            "brand",
            "A brand was created or changed.",
            catalog("BrandSaved", schema_ref("Brand")),
            json!({"type": "BrandSaved", "data": {"id": "01a22cd0-83ab-74d9-8c66-ca37fe9748b1", "name": "Lumen Lab",
                "slug": "lumen-lab", "description": "Lumen Lab is an independent beauty house.", "archived": false, "version": 1}}),
        ),
        ev(
            "CategorySaved",
            "category",
            "A category was created or changed.",
            catalog("CategorySaved", schema_ref("Category")),
            json!({"type": "CategorySaved", "data": {"id": "01a22cd0-83b4-762f-b908-16dfec06f3fc", "name": "Skincare",
                "slug": "skincare", "parent_id": null, "position": 0, "archived": false, "version": 1}}),
        ),
        ev(
            "AttributeDefined",
            "attribute_definition",
            "A product attribute was defined or changed.",
            catalog("AttributeDefined", schema_ref("AttributeDefinition")),
            json!({"type": "AttributeDefined", "data": {"id": "01a22cd0-9c11-7a3e-8f4d-2b6c1e0a9d77", "product_type": "skincare",
                "name": "texture", "label": "Texture", "kind": {"type": "enum", "values": ["gel", "cream", "oil", "balm"]},
                "filterable": true, "archived": false, "version": 1}}),
        ),
        ev(
            "CustomerRegistered",
            "customer",
            "A customer's account was made.",
            schema_ref("CustomerRegistered"),
            json!({"customer_id": CUSTOMER_ID}),
        ),
        ev(
            "EmailVerified",
            "customer",
            "A customer proved her email address.",
            schema_ref("CustomerRef"),
            json!({"customer_id": CUSTOMER_ID}),
        ),
        ev(
            "CustomerUpdated",
            "customer",
            "A customer changed her details (they stay sealed in the store).",
            schema_ref("CustomerUpdated"),
            json!({"customer_id": CUSTOMER_ID, "version": 3}),
        ),
        ev(
            "CustomerReclaimed",
            "customer",
            "An unverified account went to the verified owner of its address.",
            schema_ref("CustomerReclaimed"),
            json!({"customer_id": CUSTOMER_ID, "reason": "unverified account claimed by a verified external identity"}),
        ),
        ev(
            "CustomerErased",
            "customer",
            "A customer was erased (GDPR art. 17).",
            schema_ref("CustomerRef"),
            json!({"customer_id": CUSTOMER_ID}),
        ),
        ev(
            "EmailRequested",
            "customer",
            "An account email is to be sent (its link sealed under the customer's key).",
            schema_ref("EmailRequested"),
            json!({"customer_id": CUSTOMER_ID, "template": "verify_email", "sealed_token": "bm9uY2UuLi5jaXBoZXJ0ZXh0"}),
        ),
        ev(
            "order.placed",
            "order",
            "An order was placed (its stock is held for it).",
            order(schemas, "placed"),
            order_ref(json!({"type": "placed", "customer_id": null, "cart_id": "1a5ec46d-b933-40ed-a4d9-61bef0a84e19",
                "currency": "EUR", "lines": [{"product_id": PRODUCT_ID, "sku": "LL-NIA-30", "name": "Niacinamide 10% Serum",
                    "quantity": 2, "unit_price": 2400, "tax_rate_bp": 2000, "tax": 800, "total": 4800}],
                "totals": {"subtotal": 4800, "discount": 0, "shipping": 490, "tax": 882, "total": 5290},
                "shipping_method": "standard", "country": "FR", "region": null,
                "reservation_id": "01a22cd0-a366-70ad-99e1-8ca55a1364c4"})),
        ),
        ev(
            "order.payment_authorized",
            "order",
            "The order's payment was authorised.",
            order(schemas, "payment_authorized"),
            order_ref(json!({"type": "payment_authorized", "provider": "test",
                "payment_id": "pay_test_1ca7204445be435f95105941c5e2dd94", "amount": 5290})),
        ),
        ev(
            "order.payment_captured",
            "order",
            "The order's payment was captured.",
            order(schemas, "payment_captured"),
            order_ref(json!({"type": "payment_captured", "amount": 5290})),
        ),
        ev(
            "order.shipped",
            "order",
            "Lines of the order were shipped.",
            order(schemas, "shipped"),
            order_ref(
                json!({"type": "shipped", "shipment_id": "01a22cd2-1f0b-7d3c-a1e2-3b4c5d6e7f80", "carrier": "colissimo",
                "tracking": "6A12345678901", "lines": lines}),
            ),
        ),
        ev(
            "order.delivered",
            "order",
            "The order was delivered.",
            order(schemas, "delivered"),
            order_ref(json!({"type": "delivered"})),
        ),
        ev(
            "order.cancelled",
            "order",
            "The order was cancelled (its stock went back).",
            order(schemas, "cancelled"),
            order_ref(json!({"type": "cancelled", "reason": "customer changed her mind"})),
        ),
        ev(
            "order.return_requested",
            "order",
            "A return was requested.",
            order(schemas, "return_requested"),
            order_ref(json!({"type": "return_requested", "return_id": "01a22cd3-5a6b-7c8d-9e0f-1a2b3c4d5e6f",
                "lines": lines, "reason": "too strong for my skin"})),
        ),
        ev(
            "order.return_received",
            "order",
            "A return arrived (back to stock, or to quarantine when opened).",
            order(schemas, "return_received"),
            order_ref(
                json!({"type": "return_received", "return_id": "01a22cd3-5a6b-7c8d-9e0f-1a2b3c4d5e6f", "restock": false}),
            ),
        ),
        ev(
            "order.refunded",
            "order",
            "Money went back to the customer.",
            order(schemas, "refunded"),
            order_ref(json!({"type": "refunded", "refund_id": "re_test_4f1e2d3c", "amount": 4800})),
        ),
        ev(
            "promotion.saved",
            "promotion",
            "A promotion was set up or its rules changed.",
            schema_ref("Promotion"),
            json!({"id": "01a22cd4-0c1d-7e2f-8a3b-4c5d6e7f8091", "name": "Spring serums: 20 % off",
                "benefit": {"kind": "percent_off", "percent_bp": 2000}, "target": {"kind": "category", "slug": "serums"},
                "min_subtotal": null, "audience": "everyone", "requires_code": true, "priority": 0, "exclusive": false,
                "starts_at": null, "ends_at": 1_790_000_000_000_i64, "max_uses": 1000, "max_uses_per_customer": null,
                "active": true, "created_at": 1_780_000_000_000_i64, "updated_at": 1_780_000_000_000_i64}),
        ),
        ev(
            "review.submitted",
            "review",
            "A customer reviewed a delivered purchase (pending moderation).",
            schema_ref("Review"),
            review("pending"),
        ),
        ev(
            "review.approved",
            "review",
            "A moderator approved a review: shoppers see it.",
            schema_ref("Review"),
            review("approved"),
        ),
        ev(
            "review.rejected",
            "review",
            "A moderator rejected a review (the author reads why).",
            schema_ref("Review"),
            review("rejected"),
        ),
        ev("review.replied", "review", "The shop replied under a review.", schema_ref("Review"), review("approved")),
        ev(
            "review.reported",
            "review",
            "A customer reported a review as abusive.",
            schema_ref("ReviewReported"),
            json!({"review_id": REVIEW_ID, "reason": "advertises another shop"}),
        ),
        ev(
            "review.rating_changed",
            "product",
            "A product's rating moved (a review approved, or an approval withdrawn).",
            schema_ref("RatingChanged"),
            json!({"product_id": PRODUCT_ID, "count": 12, "sum": 55, "average": 4.58}),
        ),
        ev(
            "subscription.created",
            "subscription",
            "A customer subscribed to a variant.",
            schema_ref("Subscription"),
            sub(0, "active", 0),
        ),
        ev(
            "subscription.changed",
            "subscription",
            "A subscription's cadence, quantity, date, card or status changed, or a period was skipped.",
            schema_ref("Subscription"),
            sub(1, "active", 0),
        ),
        ev(
            "subscription.renewed",
            "subscription",
            "A period was renewed: its order placed.",
            schema_ref("Subscription"),
            sub(2, "active", 0),
        ),
        ev(
            "subscription.payment_failed",
            "subscription",
            "A renewal's payment was declined; it is tried again at `next_at`.",
            schema_ref("Subscription"),
            sub(2, "active", 1),
        ),
        ev(
            "subscription.paused",
            "subscription",
            "Renewal payments kept failing: the subscription is paused.",
            schema_ref("Subscription"),
            sub(2, "paused", 3),
        ),
        ev(
            "box.saved",
            "box",
            "Staff set a month's beauty box up or changed it (before it is locked).",
            schema_ref("BoxMonth"),
            json!({"month": "2026-12", "box_sku": "BOX-MONTHLY", "items_per_box": 2,
                "pool": [{"sku": "LL-NIA-5", "quantity": 200}, {"sku": "LL-GLOW-5", "quantity": 200}],
                "locked": false, "updated_at": 1_780_000_000_000_i64}),
        ),
        ev(
            "box.locked",
            "box",
            "A month's boxes are final: each subscriber's items, set aside in inventory.",
            schema_ref("BoxLocked"),
            json!({"month": "2026-12", "locked_at": 1_780_000_000_000_i64, "boxes": [{
                "subscription_id": "01a22cd5-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
                "customer_id": "01a22cd5-2b3c-7d4e-8f5a-6b7c8d9e0f1a", "skus": ["LL-NIA-5", "LL-GLOW-5"]}]}),
        ),
        ev(
            "replenishment.reminder_sent",
            "reminder",
            "A customer was emailed that she is about to run out of something she bought (or that an \
             opened product passes its period after opening), with a one-click reorder link.",
            schema_ref("Reminder"),
            json!({"id": "01a22cd6-3c4d-7e5f-8a6b-7c8d9e0f1a2b", "kind": "runout",
                "customer_id": "01a22cd5-2b3c-7d4e-8f5a-6b7c8d9e0f1a", "order_id": "01a22cd3-4e5f-7a6b-8c7d-9e0f1a2b3c4d",
                "sku": "LL-NIA-30", "quantity": 1, "bought_at": 1_780_000_000_000_i64,
                "predicted_at": 1_782_592_000_000_i64, "due_at": 1_781_987_200_000_i64,
                "basis": "1 × 30 ml at about 1.00 ml a day", "state": "sent", "cart_id": null}),
        ),
        ev(
            "inventory.stock_out",
            "sku",
            "A SKU has no sellable stock left.",
            schema_ref("StockLevelChanged"),
            level(0, 2),
        ),
        ev(
            "inventory.stock_low",
            "sku",
            "A SKU's sellable stock fell to the low-stock level.",
            schema_ref("StockLevelChanged"),
            level(4, 6),
        ),
        ev(
            "inventory.back_in_stock",
            "sku",
            "A SKU that had none has sellable stock again.",
            schema_ref("StockLevelChanged"),
            level(120, 0),
        ),
    ]
}

/// The event types documented, in the document's order.
pub fn event_types() -> Vec<&'static str> {
    let schemas = payload_schemas();
    events(&schemas).iter().map(|e| e.kind).collect()
}

fn payload_schemas() -> Value {
    let doc = serde_json::to_value(Payloads::openapi()).expect("the schemas serialise");
    doc["components"]["schemas"].clone()
}

/// A channel's key in the document: the event type with its dots made safe.
fn key(kind: &str) -> String {
    kind.replace('.', "_")
}

fn build() -> Value {
    let mut schemas = payload_schemas();
    let list = events(&schemas);
    schemas["EventEnvelope"] = json!({
        "type": "object",
        "description": "Every event travels in this envelope; `payload` depends on `event_type`.",
        "required": ["id", "sequence", "aggregate_type", "aggregate_id", "event_type", "payload", "occurred_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "The event's id (also the message id): deduplicate by it."},
            "sequence": {"type": "integer", "format": "int64", "description": "Its place in the outbox (commit order)."},
            "aggregate_type": {"type": "string"},
            "aggregate_id": {"type": "string", "format": "uuid"},
            "event_type": {"type": "string", "description": "Also the routing key."},
            "payload": {"type": "object"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "trace": {"type": "string", "description": "The W3C traceparent of what caused it."}
        }
    });
    let headers = json!({
        "type": "object",
        "required": ["aggregate_type", "aggregate_id", "sequence", "schema_version"],
        "properties": {
            "aggregate_type": {"type": "string"},
            "aggregate_id": {"type": "string", "format": "uuid"},
            "sequence": {"type": "integer", "format": "int64"},
            "schema_version": {"type": "integer", "const": 1},
            "traceparent": {"type": "string", "description": "W3C trace context of the request that caused the event."}
        }
    });
    let (mut channels, mut operations, mut messages) = (json!({}), json!({}), json!({}));
    for (i, e) in list.iter().enumerate() {
        let k = key(e.kind);
        let example_id = format!("01a22cd4-0000-7000-8000-{:012x}", i + 1);
        let example_aggregate = e.example["order_id"]
            .as_str()
            .or(e.example["customer_id"].as_str())
            .or(e.example["data"]["id"].as_str())
            .or(e.example["data"]["product_id"].as_str())
            .unwrap_or("5a1c6f3e-8d2b-5e4f-9a0b-1c2d3e4f5a6b")
            .to_owned();
        messages[&k] = json!({
            "name": e.kind,
            "title": e.kind,
            "summary": e.summary,
            "contentType": "application/json",
            "headers": headers,
            "payload": {"allOf": [
                schema_ref("EventEnvelope"),
                {"type": "object", "properties": {
                    "event_type": {"type": "string", "const": e.kind},
                    "aggregate_type": {"type": "string", "const": e.aggregate},
                    "payload": e.payload
                }}
            ]},
            "correlationId": {"description": "The event's id.", "location": "$message.payload#/id"},
            "bindings": {"amqp": {"messageType": e.kind, "bindingVersion": "0.3.0"}},
            "examples": [{
                "name": format!("{}-example", k),
                "headers": {"aggregate_type": e.aggregate, "aggregate_id": example_aggregate, "sequence": 42 + i, "schema_version": 1},
                "payload": {
                    "id": example_id, "sequence": 42 + i, "aggregate_type": e.aggregate, "aggregate_id": example_aggregate,
                    "event_type": e.kind, "payload": e.example, "occurred_at": "2026-11-30T14:16:32Z"
                }
            }]
        });
        channels[&k] = json!({
            "address": e.kind,
            "title": e.kind,
            "description": format!("Routing key `{}` on the `rouge.events` topic exchange. {}", e.kind, e.summary),
            "messages": {&k: {"$ref": format!("#/components/messages/{k}")}},
            "bindings": {"amqp": {
                "is": "routingKey",
                "exchange": {"name": "rouge.events", "type": "topic", "durable": true, "autoDelete": false, "vhost": "/"},
                "bindingVersion": "0.3.0"
            }}
        });
        operations[format!("publish_{k}")] = json!({
            "action": "send",
            "summary": format!("Rouge publishes `{}` once its change is committed.", e.kind),
            "channel": {"$ref": format!("#/channels/{k}")},
            "messages": [{"$ref": format!("#/channels/{k}/messages/{k}")}],
            "bindings": {"amqp": {"deliveryMode": 2, "mandatory": false, "timestamp": true, "bindingVersion": "0.3.0"}}
        });
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Rouge events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every domain event Rouge commits, published (with AMQP_URL set) to the durable topic \
                exchange `rouge.events` in commit order with publisher confirms. Routing key = event type; message \
                id = event id (deduplicate by it: a message may arrive twice); persistent. Bind a queue of your own \
                (`#` for everything, `order.#` for orders).",
            "license": {"name": "Apache-2.0 OR MIT"}
        },
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {
            "host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
            "description": "The broker named by AMQP_URL."
        }},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages}
    })
}

/// The document, built once.
pub static DOCUMENT: LazyLock<Value> = LazyLock::new(build);

/// The AsyncAPI 3.0 document of every domain event published to RabbitMQ.
#[utoipa::path(get, path = "/asyncapi.json", tag = "operations",
    responses((status = 200, description = "AsyncAPI 3.0 (JSON)", body = Object)))]
pub async fn serve() -> axum::Json<Value> {
    axum::Json(DOCUMENT.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_a_channel_an_operation_and_an_example() {
        let doc = &*DOCUMENT;
        let types = event_types();
        assert_eq!(types.len(), doc["channels"].as_object().unwrap().len());
        for t in types {
            let k = key(t);
            assert_eq!(doc["channels"][&k]["address"], t);
            assert_eq!(doc["operations"][format!("publish_{k}")]["action"], "send");
            assert_eq!(doc["components"]["messages"][&k]["examples"][0]["payload"]["event_type"], t);
        }
    }
}
