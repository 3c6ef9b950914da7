-- Orders: carts, orders and their events; idempotency keys.

-- A cart: its document (no personal data), its sealed contact, and the lease one checkout
-- attempt holds while it pays.
CREATE TABLE carts (
    id             BLOB PRIMARY KEY,
    customer_id    BLOB,
    state          TEXT NOT NULL CHECK (state IN ('open', 'completed', 'merged')),
    version        INTEGER NOT NULL,
    doc            TEXT NOT NULL,
    contact_master TEXT,
    contact_key    BLOB,
    contact        BLOB,
    lease_key      TEXT,
    lease_until    INTEGER,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX carts_customer ON carts (customer_id, state);

CREATE TABLE order_numbers (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
INSERT INTO order_numbers (id, last) VALUES (1, 1000);

-- The projection of each order's events; one order per cart.
CREATE TABLE orders (
    id             BLOB PRIMARY KEY,
    number         INTEGER NOT NULL UNIQUE,
    cart_id        BLOB NOT NULL UNIQUE,
    customer_id    BLOB,
    status         TEXT NOT NULL,
    version        INTEGER NOT NULL,
    placed_at      INTEGER NOT NULL,
    doc            TEXT NOT NULL,
    contact_master TEXT,
    contact_key    BLOB,
    contact        BLOB
);
CREATE INDEX orders_customer ON orders (customer_id, number);
CREATE INDEX orders_status ON orders (status, number);

-- Append-only: an order's life.
CREATE TABLE order_events (
    order_id   BLOB NOT NULL REFERENCES orders (id),
    seq        INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    data       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (order_id, seq)
);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status       INTEGER,
    headers      TEXT,
    body         BLOB,
    started_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
