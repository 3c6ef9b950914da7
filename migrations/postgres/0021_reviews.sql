-- service: catalog
-- Reviews: their own context, deployed with the catalogue (their ratings rank its listings),
-- so their tables sit in the catalogue service's schema. One review per order line (order,
-- SKU); votes and reports one per customer; an erased customer's reviews stay, anonymised.
CREATE TABLE catalog.reviews (
    id          UUID PRIMARY KEY,
    product_id  UUID NOT NULL,
    sku         TEXT NOT NULL,
    customer_id UUID,
    order_id    UUID,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    skin_type   TEXT,
    age_band    TEXT,
    -- ",acne,redness," so that one concern is found with LIKE '%,acne,%'
    concerns    TEXT NOT NULL,
    helpful     BIGINT NOT NULL DEFAULT 0,
    reports     BIGINT NOT NULL DEFAULT 0,
    doc         JSONB NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX reviews_one_per_line ON catalog.reviews (order_id, sku);
CREATE INDEX reviews_of_product ON catalog.reviews (product_id, status, created_at DESC);
CREATE INDEX reviews_by_status ON catalog.reviews (status, created_at DESC);
CREATE INDEX reviews_of_customer ON catalog.reviews (customer_id);

CREATE TABLE catalog.review_votes (
    review_id   UUID NOT NULL REFERENCES catalog.reviews (id),
    customer_id UUID NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (review_id, customer_id)
);
CREATE INDEX review_votes_of_customer ON catalog.review_votes (customer_id);

CREATE TABLE catalog.review_reports (
    review_id   UUID NOT NULL REFERENCES catalog.reviews (id),
    customer_id UUID NOT NULL,
    reason      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (review_id, customer_id)
);
CREATE INDEX review_reports_of_customer ON catalog.review_reports (customer_id);
