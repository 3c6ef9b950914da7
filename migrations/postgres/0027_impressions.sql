-- service: catalog
-- Measuring recommendations in the shop: the answers shown, counted per day, context and model
-- (each replica adds its counts), and which recommendations a view, a cart addition, a
-- wishlist or a purchase came from (the answer's impression id); visitors' events found by id.
ALTER TABLE catalog.behaviour_events ADD COLUMN impression_id UUID;
CREATE INDEX behaviour_by_impression ON catalog.behaviour_events (at) WHERE impression_id IS NOT NULL;
-- A visitor's events become the customer's when she logs in on that storefront.
CREATE INDEX behaviour_of_visitor ON catalog.behaviour_events (anonymous_id) WHERE customer_id IS NULL;
CREATE TABLE catalog.recommendation_shown (
    day         BIGINT NOT NULL,
    context     TEXT NOT NULL,
    model       TEXT NOT NULL,
    impressions BIGINT NOT NULL,
    items       BIGINT NOT NULL,
    PRIMARY KEY (day, context, model)
);
