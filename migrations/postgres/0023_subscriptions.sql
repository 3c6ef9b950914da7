-- service: orders
-- Subscriptions to a variant every N weeks, renewed through the checkout: deployed with orders,
-- so their tables sit in its schema. No personal data here: renewals take the contact and
-- address of the order a subscription was set up from. A period is renewed once: its row
-- (subscription, period) holds the one cart and the one order it may make.
CREATE TABLE orders.subscriptions (
    id               UUID PRIMARY KEY,
    customer_id      UUID NOT NULL,
    origin_order_id  UUID NOT NULL,
    sku              TEXT NOT NULL,
    quantity         BIGINT NOT NULL,
    cadence_weeks    INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'paused', 'cancelled')),
    next_at          BIGINT NOT NULL,
    period           BIGINT NOT NULL,
    payment_provider TEXT NOT NULL,
    payment_token    TEXT NOT NULL,
    payment_customer TEXT,
    failures         INTEGER NOT NULL,
    paused_reason    TEXT,
    last_order_id    UUID,
    lease_until      BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX subscriptions_due ON orders.subscriptions (status, next_at);
CREATE INDEX subscriptions_of_customer ON orders.subscriptions (customer_id, created_at DESC);

CREATE TABLE orders.subscription_renewals (
    subscription_id UUID NOT NULL REFERENCES orders.subscriptions (id),
    period          BIGINT NOT NULL,
    cart_id         UUID UNIQUE,
    order_id        UUID,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, period)
);
