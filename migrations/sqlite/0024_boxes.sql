-- service: orders
-- The monthly beauty box: each month's setup (the box's SKU, items per box, the pool) and,
-- once staff lock it, each subscriber's box (what ships, and what she will not get again).
CREATE TABLE box_months (
    month      TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    locked     INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE box_contents (
    month           TEXT NOT NULL REFERENCES box_months (month),
    subscription_id BLOB NOT NULL,
    customer_id     BLOB NOT NULL,
    skus            TEXT NOT NULL,
    short           TEXT,
    PRIMARY KEY (month, subscription_id)
);
CREATE INDEX box_contents_of_customer ON box_contents (customer_id, month);
