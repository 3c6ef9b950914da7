-- service: orders
-- Subscriptions to a variant every N weeks, renewed through the checkout: deployed with orders,
-- kept with the orders tables. No personal data here: renewals take the contact and
-- address of the order a subscription was set up from. A period is renewed once: its row
-- (subscription, period) holds the one cart and the one order it may make.
CREATE TABLE subscriptions (
    id               BLOB PRIMARY KEY,
    customer_id      BLOB NOT NULL,
    origin_order_id  BLOB NOT NULL,
    sku              TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    cadence_weeks    INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'paused', 'cancelled')),
    next_at          INTEGER NOT NULL,
    period           INTEGER NOT NULL,
    payment_provider TEXT NOT NULL,
    payment_token    TEXT NOT NULL,
    payment_customer TEXT,
    failures         INTEGER NOT NULL,
    paused_reason    TEXT,
    last_order_id    BLOB,
    lease_until      INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX subscriptions_due ON subscriptions (status, next_at);
CREATE INDEX subscriptions_of_customer ON subscriptions (customer_id, created_at DESC);

CREATE TABLE subscription_renewals (
    subscription_id BLOB NOT NULL REFERENCES subscriptions (id),
    period          INTEGER NOT NULL,
    cart_id         BLOB UNIQUE,
    order_id        BLOB,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, period)
);
