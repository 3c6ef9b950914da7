-- service: catalog
-- Behaviour for the recommendations (their own context, deployed with the catalogue, whose
-- products they rank): one row an event, kept for a retention period and erased with the
-- customer. Storefront events (views, searches' normalised words, cart changes, wishlist) and
-- purchases and returns taken from the orders' events.
CREATE TABLE catalog.behaviour_events (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('product_viewed', 'search_made', 'added_to_cart',
                     'removed_from_cart', 'wishlisted', 'purchased', 'returned')),
    customer_id  UUID,
    anonymous_id TEXT,
    product_id   UUID,
    query        TEXT,
    unsuitable   BOOLEAN NOT NULL DEFAULT FALSE,
    at           BIGINT NOT NULL
);
CREATE INDEX behaviour_by_time ON catalog.behaviour_events (at, id);
CREATE INDEX behaviour_of_customer ON catalog.behaviour_events (customer_id, at);
