-- service: orders
-- The monthly beauty box: each month's setup (the box's SKU, items per box, the pool) and,
-- once staff lock it, each subscriber's box (what ships, and what she will not get again).
CREATE TABLE orders.box_months (
    month      TEXT PRIMARY KEY,
    doc        JSONB NOT NULL,
    locked     BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE orders.box_contents (
    month           TEXT NOT NULL REFERENCES orders.box_months (month),
    subscription_id UUID NOT NULL,
    customer_id     UUID NOT NULL,
    skus            JSONB NOT NULL,
    short           TEXT,
    PRIMARY KEY (month, subscription_id)
);
CREATE INDEX box_contents_of_customer ON orders.box_contents (customer_id, month);
