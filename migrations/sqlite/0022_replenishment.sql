-- service: orders
-- Replenishment reminders: predicted from orders (when she runs out of what she bought, when
-- an opened product passes its period after opening), emailed once with a one-click reorder
-- link (only the hash of its token is kept). Made by the orders service's consumer of
-- order.placed; they are kept with the orders tables.
CREATE TABLE replenishment_reminders (
    id           BLOB PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('runout', 'pao')),
    customer_id  BLOB,
    order_id     BLOB NOT NULL,
    sku          TEXT NOT NULL,
    quantity     INTEGER NOT NULL,
    bought_at    INTEGER NOT NULL,
    predicted_at INTEGER NOT NULL,
    due_at       INTEGER NOT NULL,
    basis        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'cancelled')),
    lease_until  INTEGER NOT NULL DEFAULT 0,
    token_hash   TEXT UNIQUE,
    cart_id      BLOB,
    sent_at      INTEGER
);
CREATE UNIQUE INDEX replenishment_once ON replenishment_reminders (order_id, sku, kind);
CREATE INDEX replenishment_due ON replenishment_reminders (state, due_at);
CREATE INDEX replenishment_of_customer ON replenishment_reminders (customer_id, sku);
