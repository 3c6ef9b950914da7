CREATE TABLE catalog_products (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row per variant SKU, so that a SKU belongs to one product in the whole catalogue.
CREATE TABLE catalog_skus (
    sku TEXT PRIMARY KEY NOT NULL,
    product_id TEXT NOT NULL REFERENCES catalog_products(id)
);
CREATE INDEX catalog_skus_product ON catalog_skus(product_id);

CREATE TABLE catalog_brands (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);

CREATE TABLE catalog_categories (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);

CREATE TABLE catalog_attributes (
    id TEXT PRIMARY KEY NOT NULL,
    product_type TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (product_type, name)
);

-- Transactional outbox: written in the same transaction as the state change it reports.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    occurred_at TEXT NOT NULL
);
