-- service: orders
-- Replenishment reminders: predicted from orders (when she runs out of what she bought, when
-- an opened product passes its period after opening), emailed once with a one-click reorder
-- link (only the hash of its token is kept). Made by the orders service's consumer of
-- order.placed, so they sit in its schema.
CREATE TABLE orders.replenishment_reminders (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('runout', 'pao')),
    customer_id  UUID,
    order_id     UUID NOT NULL,
    sku          TEXT NOT NULL,
    quantity     BIGINT NOT NULL,
    bought_at    BIGINT NOT NULL,
    predicted_at BIGINT NOT NULL,
    due_at       BIGINT NOT NULL,
    basis        TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'cancelled')),
    lease_until  BIGINT NOT NULL DEFAULT 0,
    token_hash   TEXT UNIQUE,
    cart_id      UUID,
    sent_at      BIGINT
);
CREATE UNIQUE INDEX replenishment_once ON orders.replenishment_reminders (order_id, sku, kind);
CREATE INDEX replenishment_due ON orders.replenishment_reminders (state, due_at);
CREATE INDEX replenishment_of_customer ON orders.replenishment_reminders (customer_id, sku);
