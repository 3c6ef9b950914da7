-- service: catalog
-- Measuring recommendations in the shop: the answers shown, counted per day, context and model
-- (each replica adds its counts), and which recommendations a view, a cart addition, a
-- wishlist or a purchase came from (the answer's impression id); visitors' events found by id.
ALTER TABLE behaviour_events ADD COLUMN impression_id BLOB;
CREATE INDEX behaviour_by_impression ON behaviour_events (at) WHERE impression_id IS NOT NULL;
-- A visitor's events become the customer's when she logs in on that storefront.
CREATE INDEX behaviour_of_visitor ON behaviour_events (anonymous_id) WHERE customer_id IS NULL;
CREATE TABLE recommendation_shown (
    day         INTEGER NOT NULL,
    context     TEXT NOT NULL,
    model       TEXT NOT NULL,
    impressions INTEGER NOT NULL,
    items       INTEGER NOT NULL,
    PRIMARY KEY (day, context, model)
);
