//! A database made by the last release migrates to this one and keeps its data, on SQLite and
//! on PostgreSQL. The databases in `fixtures/` were made by that release's binary
//! (`scripts/make-upgrade-fixtures.sh`): the demo shop, an owner, an API key, a customer and
//! the README tour's order.

use flate2::read::GzDecoder;
use rouge_catalog::CatalogError;
use rouge_catalog::ports::CatalogRepository;
use rouge_identity::audit::AuditInput;
use rouge_identity::{Actor, AuditRepository, IdentityRepository, StaffRepository};
use rouge_inventory::InventoryRepository;
use rouge_kernel::Outbox;
use rouge_orders::OrdersRepository;
use rouge_store::{PgStore, SqliteStore};
use rouge_store_tests::fixtures;
use rouge_store_tests::harness::{self, TempDir};
use rouge_store_tests::raw::RawRows;
use std::io::Read;
use uuid::Uuid;

const RELEASE: &str = "v0.1";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}.gz", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    GzDecoder::new(std::fs::File::open(&path).expect("the fixture is in the repository"))
        .read_to_end(&mut out)
        .expect("the fixture decompresses");
    out
}

/// What the old database holds, read with its own table names before migrating.
#[derive(Debug)]
struct Before {
    products: Vec<String>,
    slug: (String, String),
    outbox: Vec<String>,
    customers: Vec<String>,
    staff: Vec<String>,
    api_keys: Vec<String>,
    orders: Vec<(String, String)>,
    lots: Vec<String>,
    audit: usize,
}

/// `name` gives the release's name of a table, `text` an id column's value as 32 hex digits.
async fn before(store: &impl RawRows, name: impl Fn(&str) -> &'static str, text: impl Fn(&str) -> String) -> Before {
    let id = text("id");
    let ids = |table: &str, order: &str| format!("SELECT {id} FROM {} ORDER BY {order}", name(table));
    let slug = store
        .raw_strings(&format!(
            "SELECT {id} || ' ' || slug FROM {} WHERE slug = 'lumen-lab-niacinamide-10-serum'",
            name("products")
        ))
        .await;
    let slug = slug[0].split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap();
    let orders =
        store.raw_strings(&format!("SELECT {id} || ' ' || CAST(number AS TEXT) FROM {}", name("orders"))).await;
    Before {
        products: store.raw_strings(&ids("products", "id")).await,
        slug,
        outbox: store.raw_strings(&ids("outbox", "seq")).await,
        customers: store.raw_strings(&ids("customers", "id")).await,
        staff: store.raw_strings(&ids("staff", "id")).await,
        api_keys: store.raw_strings(&ids("api_keys", "id")).await,
        orders: orders.iter().map(|o| o.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap()).collect(),
        lots: store
            .raw_strings(&format!("SELECT CAST(sku AS TEXT) FROM {} WHERE sku LIKE 'LL-%' ORDER BY sku", name("lots")))
            .await,
        audit: store.raw_strings(&ids("audit", "seq")).await.len(),
    }
}

fn uuid(s: &str) -> Uuid {
    s.parse().expect("an id")
}

/// The same checks on both stores, through the repositories only.
async fn keeps_its_data<S>(store: &S, was: Before)
where
    S: CatalogRepository
        + Outbox
        + IdentityRepository
        + StaffRepository
        + AuditRepository
        + OrdersRepository
        + InventoryRepository,
{
    assert!(was.products.len() > 100 && !was.outbox.is_empty() && was.audit > 0, "a shop with data: {was:?}");
    let mut products: Vec<Uuid> = store.products().await.unwrap().iter().map(|p| p.id).collect();
    products.sort();
    let mut expected: Vec<Uuid> = was.products.iter().map(|p| uuid(p)).collect();
    expected.sort();
    assert_eq!(products, expected, "every product, under its id");
    let p = store.product_by_slug(&was.slug.1).await.unwrap().expect("found by its slug");
    assert_eq!(p.id, uuid(&was.slug.0));
    assert!(!p.variants.is_empty());

    let events = store.events_after(0, 100_000).await.unwrap();
    let expected: Vec<Uuid> = was.outbox.iter().map(|e| uuid(e)).collect();
    assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), expected, "the outbox, in order");
    assert_eq!(store.head().await.unwrap(), events.last().unwrap().sequence);

    for id in &was.customers {
        let c = store.customer(uuid(id)).await.unwrap().expect("the customer");
        assert!(c.key.is_some() && c.email.is_some(), "sealed fields kept");
    }
    for id in &was.staff {
        assert!(store.staff(uuid(id)).await.unwrap().is_some(), "staff member {id}");
    }
    for id in &was.api_keys {
        assert!(store.api_key(uuid(id)).await.unwrap().is_some(), "API key {id}");
    }
    let sealed: i64 = store.people_by_master().await.unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!(sealed as usize, was.customers.len() + was.staff.len());

    assert!(!was.orders.is_empty());
    for (id, number) in &was.orders {
        let (order, contact) = store.order(uuid(id)).await.unwrap().expect("the order");
        assert_eq!(order.number.to_string(), *number);
        assert!(contact.is_some(), "the order's sealed contact");
    }
    let mut lots = Vec::new();
    for sku in was.lots.iter().collect::<std::collections::BTreeSet<_>>() {
        lots.extend(store.lots(sku).await.unwrap().into_iter().map(|l| l.sku));
    }
    assert_eq!(lots, was.lots, "stock lots");

    let (chain, head) = store.audit_chain().await.unwrap();
    assert_eq!(rouge_identity::audit::verify(&chain, head), Ok(was.audit), "the audit chain is intact");

    // And the upgraded database takes new writes, under the rules it had: a product (not with
    // a SKU another product has), an audit entry that extends the chain.
    let catalog = rouge_catalog::CatalogService::new(store.clone());
    let taken = catalog.create_product(fixtures::product("Copycat", "lumen-lab", p.variants[0].sku.as_str())).await;
    assert!(matches!(&taken, Err(CatalogError::Conflict(_, f)) if f.field == "sku"), "{taken:?}");
    let fresh = catalog.create_product(fixtures::product("After the upgrade", "lumen-lab", "UPGRADE-1")).await.unwrap();
    assert_eq!(store.product(fresh.id).await.unwrap(), Some(fresh));
    assert_eq!(store.events_after(events.last().unwrap().sequence, 10).await.unwrap().len(), 1);
    let entry = AuditInput {
        id: Uuid::now_v7(),
        at_ms: chrono::Utc::now().timestamp_millis(),
        actor: Actor::Staff(uuid(&was.staff[0])),
        address: "203.0.113.5".into(),
        action: "POST".into(),
        route: "/v1/admin/products".into(),
        path: "/v1/admin/products".into(),
        status: 201,
        before: None,
        after: Some(serde_json::json!({"name": "After the upgrade"})),
    };
    store.append_audit(&entry).await.unwrap();
    let (chain, head) = store.audit_chain().await.unwrap();
    assert_eq!(rouge_identity::audit::verify(&chain, head), Ok(was.audit + 1));
}

#[tokio::test]
async fn a_sqlite_database_of_the_last_release_migrates_and_keeps_its_data() {
    let dir = TempDir::new();
    let path = dir.0.join("shop.db");
    std::fs::write(&path, fixture(&format!("{RELEASE}.sqlite"))).unwrap();
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let was = before(
        &store,
        |t| match t {
            "products" => "catalog_products",
            "outbox" => "outbox",
            "customers" => "identity_customers",
            "staff" => "identity_staff",
            "api_keys" => "identity_api_keys",
            "orders" => "orders",
            "lots" => "stock_lots",
            _ => "audit_log",
        },
        |c| format!("CASE WHEN typeof({c}) = 'blob' THEN lower(hex({c})) ELSE replace({c}, '-', '') END"),
    )
    .await;
    store.migrate().await.expect("the release's database migrates");
    keeps_its_data(&store, was).await;
}

#[tokio::test]
async fn a_postgres_database_of_the_last_release_migrates_and_keeps_its_data() {
    let Some(db) = harness::empty_postgres().await else { return };
    let dump = String::from_utf8(fixture(&format!("{RELEASE}.postgres.sql"))).unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(dump)).execute(db.store.pool()).await.expect("the release's dump loads");
    // The dump empties the search path of the connection it ran on: start afresh.
    let store = PgStore::connect(&db.url).await.unwrap();
    let was = before(
        &store,
        |t| match t {
            "products" => "catalog.products",
            "outbox" => "catalog.outbox",
            "customers" => "identity.customers",
            "staff" => "identity.staff",
            "api_keys" => "identity.api_keys",
            "orders" => "orders.orders",
            "lots" => "inventory.stock_lots",
            _ => "identity.audit_log",
        },
        |c| format!("replace(CAST({c} AS TEXT), '-', '')"),
    )
    .await;
    store.migrate().await.expect("the release's database migrates");
    keeps_its_data(&store, was).await;
    store.close().await;
    db.cleanup().await;
}
