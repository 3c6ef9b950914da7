-- Events a consumer failed to handle: retried with growing pauses, then parked ('dead')
-- until staff replay them.
CREATE TABLE deliveries (
    consumer   TEXT NOT NULL,
    event_id   BLOB NOT NULL,
    event_type TEXT NOT NULL,
    event      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    next_at    INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('retrying', 'dead')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
