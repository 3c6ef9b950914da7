-- Orders (carts, orders, their events) in schema orders; idempotency keys in schema gateway.
CREATE SCHEMA IF NOT EXISTS orders;
CREATE SCHEMA IF NOT EXISTS gateway;

-- A cart: its document (no personal data), its sealed contact, and the lease one checkout
-- attempt holds while it pays.
CREATE TABLE orders.carts (
    id             UUID PRIMARY KEY,
    customer_id    UUID,
    state          TEXT NOT NULL CHECK (state IN ('open', 'completed', 'merged')),
    version        BIGINT NOT NULL,
    doc            JSONB NOT NULL,
    contact_master TEXT,
    contact_key    BYTEA,
    contact        BYTEA,
    lease_key      TEXT,
    lease_until    BIGINT,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX carts_customer ON orders.carts (customer_id, state);

CREATE TABLE orders.order_numbers (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last BIGINT NOT NULL
);
INSERT INTO orders.order_numbers (id, last) VALUES (1, 1000);

-- The projection of each order's events; one order per cart.
CREATE TABLE orders.orders (
    id             UUID PRIMARY KEY,
    number         BIGINT NOT NULL UNIQUE,
    cart_id        UUID NOT NULL UNIQUE,
    customer_id    UUID,
    status         TEXT NOT NULL,
    version        BIGINT NOT NULL,
    placed_at      BIGINT NOT NULL,
    doc            JSONB NOT NULL,
    contact_master TEXT,
    contact_key    BYTEA,
    contact        BYTEA
);
CREATE INDEX orders_customer ON orders.orders (customer_id, number);
CREATE INDEX orders_status ON orders.orders (status, number);

-- Append-only: an order's life.
CREATE TABLE orders.order_events (
    order_id   UUID NOT NULL REFERENCES orders.orders (id),
    seq        BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    data       JSONB NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (order_id, seq)
);

CREATE TABLE gateway.idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status       INTEGER,
    headers      TEXT,
    body         BYTEA,
    started_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON gateway.idempotency_keys (expires_at);
