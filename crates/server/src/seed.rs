//! Loading the demo catalogue.

use crate::demo;
use rouge_catalog::{CatalogError, CatalogService};
use rouge_http::Store;

/// Loads the demo shop with `count` products; existing brands and categories are kept.
pub async fn seed_demo<S: Store>(store: &S, count: usize) -> anyhow::Result<usize> {
    let svc = CatalogService::new(store.clone());
    let demo = demo::generate(count);
    let ok_or_taken = |r: Result<(), CatalogError>| match r {
        Ok(()) | Err(CatalogError::Conflict(..)) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("{e}: {e:?}")),
    };
    for b in demo.brands {
        ok_or_taken(svc.create_brand(b).await.map(|_| ()))?;
    }
    for c in demo.categories {
        ok_or_taken(svc.create_category(c).await.map(|_| ()))?;
    }
    let mut created = 0;
    let progress = crate::import::progress_bar(demo.products.len() as u64, "seeding demo products");
    for p in demo.products {
        let name = p.name.clone();
        match svc.create_product(p).await {
            Ok(_) => created += 1,
            Err(e) => tracing::warn!(product = %name, error = ?e, "demo product skipped"),
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    tracing::info!(created, "demo catalogue loaded");
    Ok(created)
}

/// Demo stock for the demo catalogue: one lot per variant at location `main`, most in stock,
/// some low, a few sold out (the featured products always in stock), so that the storefront's availability and a checkout can be
/// tried at once. Variants that already have stock are left alone.
pub async fn seed_demo_stock<S: Store>(store: &S, count: usize) -> anyhow::Result<usize> {
    let inventory = rouge_inventory::InventoryService::new(store.clone());
    let expires = chrono::Utc::now().date_naive() + chrono::Duration::days(540);
    let mut stocked = 0;
    let demo = demo::generate(count);
    for (i, p) in demo.products.iter().enumerate() {
        for (j, v) in p.variants.iter().enumerate() {
            // The featured products (the README's examples) are always well stocked.
            let quantity = if i < demo.featured { 120 } else { [120, 40, 3, 0, 60, 12][(i + j) % 6] };
            if quantity == 0 || !store.lots(&v.sku).await.map_err(|e| anyhow::anyhow!("{e}"))?.is_empty() {
                continue;
            }
            let receipt = rouge_inventory::Receipt {
                sku: v.sku.clone(),
                location: "main".into(),
                batch: format!("DEMO-{:04}", i + 1),
                expires_on: Some(expires),
                quantity,
                reference: Some("demo stock".into()),
            };
            inventory.receive(&receipt).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            stocked += 1;
        }
    }
    tracing::info!(lots = stocked, "demo stock received");
    Ok(stocked)
}

/// The demo shop's promotions (when it has none): a welcome code, a gift with purchase and
/// samples to pick, all on the demo's Lumen Lab minis. Returns how many were set up.
pub async fn seed_demo_promotions<S: Store>(store: &S) -> anyhow::Result<usize> {
    let svc = rouge_promotions::PromotionsService::new(store.clone());
    let err = |e: rouge_promotions::PromotionsError| anyhow::anyhow!("{e}: {e:?}");
    if !svc.list().await.map_err(err)?.is_empty() {
        return Ok(0);
    }
    let input =
        |v: serde_json::Value| -> anyhow::Result<rouge_promotions::PromotionInput> { Ok(serde_json::from_value(v)?) };
    let welcome = svc
        .create(input(serde_json::json!({
            "name": "Welcome: 10 % off", "benefit": {"kind": "percent_off", "percent_bp": 1000},
            "requires_code": true, "max_uses": 1000,
        }))?)
        .await
        .map_err(err)?;
    let code = rouge_promotions::service::CodesInput {
        code: Some("WELCOME10".into()),
        count: None,
        prefix: None,
        max_uses: None,
    };
    svc.add_codes(welcome.promotion.id, &code).await.map_err(err)?;
    svc.create(input(serde_json::json!({
        "name": "A Niacinamide mini with orders from 40.00", "benefit": {"kind": "gift", "sku": "LL-NIA-5"},
        "min_subtotal": 4000, "max_uses": 200,
    }))?)
    .await
    .map_err(err)?;
    svc.create(input(serde_json::json!({
        "name": "Pick two free minis", "benefit": {"kind": "samples", "choose": 2, "skus": ["LL-GLOW-5", "LL-HYA-5"]},
    }))?)
    .await
    .map_err(err)?;
    tracing::info!("demo promotions set up: code WELCOME10, a gift from 40.00, two samples to pick");
    Ok(3)
}

/// The demo shop's reviews (when it has none): a few approved reviews on every product, by
/// reviewers with the skin types and concerns each product is for, so ratings, ratings by skin
/// type and the rating filter and sort show something. They are sample content, not purchases
/// (`verified_purchase: false`, no customer, no order). Returns how many were written.
pub async fn seed_demo_reviews<S: Store>(store: &S) -> anyhow::Result<usize> {
    use rouge_catalog::{AgeBand, SkinType};
    use rouge_reviews::{Review, ReviewStatus, Reviewer, StaffReview};
    let err = |e: rouge_kernel::StoreError| anyhow::anyhow!("{e}");
    if !store.ratings().await.map_err(err)?.is_empty() {
        return Ok(0);
    }
    const NAMES: [&str; 10] =
        ["Camille", "Inès M.", "Sofia", "Léa R.", "Nadia", "Jo", "Amara K.", "Mia", "Chloé B.", "Yasmin"];
    // (rating, title, text) by how happy the reviewer was.
    const SAID: [(u8, &str, &str); 5] = [
        (5, "My holy grail", "Calmer, clearer skin within two weeks; I have repurchased twice."),
        (5, "Exactly what I needed", "Light texture, sinks in fast, no reaction at all."),
        (4, "Really good", "Does what it says; the pump could be better."),
        (3, "Fine, not magic", "Pleasant to use, though I saw little change after a month."),
        (2, "Not for me", "It pilled under make-up and felt tacky on my skin."),
    ];
    let mut products = store.products().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    products.sort_by(|a, b| a.slug.as_str().cmp(b.slug.as_str()));
    let mut written = 0;
    let start = chrono::Utc::now().timestamp_millis() - 90 * 86_400_000;
    for (i, p) in products.iter().filter(|p| !p.variants.is_empty()).enumerate() {
        // 2 to 6 reviews each, the first by someone with the skin type the product is for.
        let n = [4, 2, 3, 6, 3][i % 5];
        for k in 0..n {
            let seed = i * 7 + k * 3;
            let (rating, title, text) = SAID[[0, 2, 1, 0, 3, 2, 4, 1][seed % 8]];
            let skin_type = if p.skin_types.is_empty() {
                SkinType::ALL.get(seed % 5).copied()
            } else {
                Some(p.skin_types[k % p.skin_types.len()])
            };
            let at = start + (seed as i64 % 90) * 86_400_000 + k as i64 * 3_600_000;
            let review = Review {
                id: rouge_kernel::new_id(),
                product_id: p.id,
                sku: p.variants[k % p.variants.len()].sku.to_string(),
                rating,
                title: title.into(),
                text: text.into(),
                photos: vec![],
                reviewer: Reviewer {
                    display_name: NAMES[seed % NAMES.len()].into(),
                    skin_type,
                    concerns: p.concerns.iter().take(1 + k % 2).copied().collect(),
                    age_band: AgeBand::ALL.get(seed % 6).copied(),
                    shade: None,
                },
                verified_purchase: false,
                status: ReviewStatus::Approved,
                rejection_reason: None,
                reply: None,
                helpful: 0,
                created_at: at,
                updated_at: at,
            };
            let r = StaffReview { review, customer_id: None, order_id: None, reports: 0 };
            store.add_review(&r).await.map_err(err)?;
            written += 1;
        }
    }
    tracing::info!(reviews = written, "demo reviews written");
    Ok(written)
}

/// The demo shop's subscribers (run once, on a fresh demo, where every service runs): three
/// customers with beauty profiles, each with an order of the Monthly Discovery Box and a monthly
/// subscription to it, one also subscribed to her serum every six weeks; and this month's box,
/// set up from the Lumen Lab minis and a few retinol serums, and locked (its items set aside).
/// The customers have no password (nobody signs in as them; a password reset would mail their
/// example.com addresses). Returns how many subscriptions were made.
pub async fn seed_demo_subscriptions<S: Store>(app: &rouge_http::AppState<S>) -> anyhow::Result<usize> {
    use rouge_orders::{Address, Caller, CheckoutInput, PaymentInput};
    use rouge_subscriptions::{BoxInput, BoxMonth, PoolItem, SavedPayment, SubscriptionInput};
    let api = |e: rouge_http::error::ApiError| anyhow::anyhow!("{e}");
    let orders_err = |e: rouge_orders::OrdersError| anyhow::anyhow!("{e}");
    // (email, name, profile, a second subscription)
    let subscribers = [
        (
            "ines.demo@example.com",
            "Inès Moreau",
            serde_json::json!({"skin_type": "oily", "concerns": ["acne"], "avoid_ingredients": ["retinol"]}),
            Some("LL-NIA-30"),
        ),
        (
            "sofia.demo@example.com",
            "Sofia Rossi",
            serde_json::json!({"skin_type": "dry", "concerns": ["ageing"]}),
            None,
        ),
        (
            "lea.demo@example.com",
            "Léa Roux",
            serde_json::json!({"skin_type": "combination", "concerns": ["pores"]}),
            None,
        ),
    ];
    let mut made = 0;
    for (i, (email, name, profile, also)) in subscribers.into_iter().enumerate() {
        let customer = app.identity.external_customer(email).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let me = rouge_identity::MeUpdate {
            name: Some(Some(name.into())),
            beauty_profile: Some(serde_json::from_value(profile)?),
            phone: None,
            addresses: None,
        };
        app.identity.update_me(customer, me, None).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let her = Caller { customer: Some(customer) };
        let (cart, _) = app.orders.create_cart(her).await.map_err(orders_err)?;
        let cart = cart.id;
        for sku in std::iter::once("BOX-MONTHLY").chain(also) {
            app.orders.add_line(her, cart, sku, 1).await.map_err(orders_err)?;
        }
        let address = Address {
            name: name.into(),
            line1: format!("{} rue des Lilas", 12 + i),
            city: "Lyon".into(),
            postal_code: "69003".into(),
            country: "FR".into(),
            line2: None,
            region: None,
            phone: None,
        };
        let details = CheckoutInput {
            email: Some(email.into()),
            shipping_address: Some(address),
            billing_address: None,
            shipping_method: Some("standard".into()),
        };
        app.orders.set_checkout(her, cart, details).await.map_err(orders_err)?;
        let card = PaymentInput { provider: "test".into(), token: "tok_visa".into(), off_session_customer: None };
        let (order, _) =
            app.orders.complete(her, cart, &card, &format!("demo-subscriber-{i}")).await.map_err(orders_err)?;
        for (sku, weeks) in std::iter::once(("BOX-MONTHLY", 4)).chain(also.map(|s| (s, 6))) {
            let input = SubscriptionInput {
                order_id: order.order.id,
                sku: sku.into(),
                quantity: 1,
                cadence_weeks: weeks,
                payment: SavedPayment { provider: "test".into(), token: "pm_card_visa".into(), customer: None },
            };
            rouge_http::rest::subscriptions::subscribe_for(app, customer, input).await.map_err(api)?;
            made += 1;
        }
    }
    let month = rouge_subscriptions::month_of(chrono::Utc::now().timestamp_millis());
    let pool = [("LL-NIA-5", 20), ("LL-GLOW-5", 20), ("LL-HYA-5", 20), ("ST-RET-30", 3)]
        .map(|(sku, quantity)| PoolItem { sku: sku.into(), quantity })
        .to_vec();
    let input = BoxInput { box_sku: "BOX-MONTHLY".into(), items_per_box: 2, pool };
    let setup = BoxMonth::new(month.clone(), input, chrono::Utc::now().timestamp_millis());
    app.store.save_box_month(&setup).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let page = rouge_http::rest::boxes::box_page(app, &month, true).await.map_err(api)?;
    tracing::info!(subscriptions = made, %month, boxes = page.boxes.len(), "demo subscriptions made and this month's box locked");
    Ok(made)
}
