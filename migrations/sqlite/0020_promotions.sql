-- service: orders
-- Promotions: their own context, deployed with orders (a checkout holds their budgets as it
-- holds stock), so they are kept with the orders tables. Budgets are counters a
-- checkout takes from within a cap, recorded as a hold: held, then committed with the order or
-- released (the checkout failed, the hold expired, the order was cancelled).
CREATE TABLE promotions (
    id            BLOB PRIMARY KEY,
    doc           TEXT NOT NULL,
    requires_code INTEGER NOT NULL,
    active        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE promotion_codes (
    code         TEXT PRIMARY KEY,
    promotion_id BLOB NOT NULL REFERENCES promotions (id),
    max_uses     INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX promotion_codes_of ON promotion_codes (promotion_id, code);

CREATE TABLE promotion_budgets (
    budget_key TEXT PRIMARY KEY,
    taken      INTEGER NOT NULL CHECK (taken >= 0)
);

CREATE TABLE promotion_holds (
    id         BLOB PRIMARY KEY,
    reference  TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL CHECK (state IN ('held', 'committed', 'released')),
    order_id   BLOB,
    uses       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX promotion_holds_due ON promotion_holds (state, expires_at);

-- Which promotions (and codes) each order used: what staff read as a promotion's and a code's
-- uses (insert-only, so counting them puts no checkout in a queue; the budget counters above
-- exist for limits alone).
CREATE TABLE promotion_uses (
    order_id     BLOB NOT NULL,
    promotion_id BLOB NOT NULL,
    code         TEXT,
    at           INTEGER NOT NULL,
    PRIMARY KEY (order_id, promotion_id)
);
CREATE INDEX promotion_uses_of ON promotion_uses (promotion_id);
CREATE INDEX promotion_uses_code ON promotion_uses (code);
