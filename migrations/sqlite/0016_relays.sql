-- Publishers of the outbox to a broker: how far each has published, and which replica holds
-- the lease to publish (one at a time, so events leave in commit order).
CREATE TABLE relays (
    name        TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    holder      TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);
