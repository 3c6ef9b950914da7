CREATE SCHEMA IF NOT EXISTS catalog;

CREATE TABLE catalog.products (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL CONSTRAINT products_slug_key UNIQUE,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    doc JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX products_doc_gin ON catalog.products USING GIN (doc jsonb_path_ops);

-- One row per variant SKU, so that a SKU belongs to one product in the whole catalogue.
CREATE TABLE catalog.skus (
    sku TEXT CONSTRAINT skus_pkey PRIMARY KEY,
    product_id UUID NOT NULL REFERENCES catalog.products(id)
);
CREATE INDEX skus_product ON catalog.skus(product_id);

CREATE TABLE catalog.brands (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL CONSTRAINT brands_slug_key UNIQUE,
    version BIGINT NOT NULL,
    doc JSONB NOT NULL
);

CREATE TABLE catalog.categories (
    id UUID PRIMARY KEY,
    slug TEXT NOT NULL CONSTRAINT categories_slug_key UNIQUE,
    version BIGINT NOT NULL,
    doc JSONB NOT NULL
);

CREATE TABLE catalog.attributes (
    id UUID PRIMARY KEY,
    product_type TEXT NOT NULL,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    doc JSONB NOT NULL,
    CONSTRAINT attributes_name_key UNIQUE (product_type, name)
);

-- Transactional outbox. Writers take an advisory lock first, so sequence order is commit
-- order and a relay reading "after N" never skips a late-committing lower sequence.
CREATE TABLE catalog.outbox (
    seq BIGSERIAL PRIMARY KEY,
    id UUID NOT NULL UNIQUE,
    aggregate_type TEXT NOT NULL,
    aggregate_id UUID NOT NULL,
    event_type TEXT NOT NULL,
    payload JSONB NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL
);
