-- service: catalog
-- Reviews: their own context, deployed with the catalogue (their ratings rank its listings),
-- kept with the catalogue's tables. One review per order line (order,
-- SKU); votes and reports one per customer; an erased customer's reviews stay, anonymised.
CREATE TABLE reviews (
    id          BLOB PRIMARY KEY,
    product_id  BLOB NOT NULL,
    sku         TEXT NOT NULL,
    customer_id BLOB,
    order_id    BLOB,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    skin_type   TEXT,
    age_band    TEXT,
    -- ",acne,redness," so that one concern is found with LIKE '%,acne,%'
    concerns    TEXT NOT NULL,
    helpful     INTEGER NOT NULL DEFAULT 0,
    reports     INTEGER NOT NULL DEFAULT 0,
    doc         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX reviews_one_per_line ON reviews (order_id, sku);
CREATE INDEX reviews_of_product ON reviews (product_id, status, created_at DESC);
CREATE INDEX reviews_by_status ON reviews (status, created_at DESC);
CREATE INDEX reviews_of_customer ON reviews (customer_id);

CREATE TABLE review_votes (
    review_id   BLOB NOT NULL REFERENCES reviews (id),
    customer_id BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (review_id, customer_id)
);
CREATE INDEX review_votes_of_customer ON review_votes (customer_id);

CREATE TABLE review_reports (
    review_id   BLOB NOT NULL REFERENCES reviews (id),
    customer_id BLOB NOT NULL,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (review_id, customer_id)
);
CREATE INDEX review_reports_of_customer ON review_reports (customer_id);
