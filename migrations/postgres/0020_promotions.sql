-- service: orders
-- Promotions: their own context, deployed with orders (a checkout holds their budgets as it
-- holds stock), so their tables sit in the orders service's schema. Budgets are counters a
-- checkout takes from within a cap, recorded as a hold: held, then committed with the order or
-- released (the checkout failed, the hold expired, the order was cancelled).
CREATE TABLE orders.promotions (
    id            UUID PRIMARY KEY,
    doc           JSONB NOT NULL,
    requires_code BOOLEAN NOT NULL,
    active        BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE orders.promotion_codes (
    code         TEXT PRIMARY KEY,
    promotion_id UUID NOT NULL REFERENCES orders.promotions (id),
    max_uses     BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX promotion_codes_of ON orders.promotion_codes (promotion_id, code);

CREATE TABLE orders.promotion_budgets (
    budget_key TEXT PRIMARY KEY,
    taken      BIGINT NOT NULL CHECK (taken >= 0)
);

CREATE TABLE orders.promotion_holds (
    id         UUID PRIMARY KEY,
    reference  TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL CHECK (state IN ('held', 'committed', 'released')),
    order_id   UUID,
    uses       JSONB NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX promotion_holds_due ON orders.promotion_holds (state, expires_at);

-- Which promotions (and codes) each order used: what staff read as a promotion's and a code's
-- uses (insert-only, so counting them puts no checkout in a queue; the budget counters above
-- exist for limits alone).
CREATE TABLE orders.promotion_uses (
    order_id     UUID NOT NULL,
    promotion_id UUID NOT NULL,
    code         TEXT,
    at           BIGINT NOT NULL,
    PRIMARY KEY (order_id, promotion_id)
);
CREATE INDEX promotion_uses_of ON orders.promotion_uses (promotion_id);
CREATE INDEX promotion_uses_code ON orders.promotion_uses (code);
