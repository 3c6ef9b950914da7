CREATE SCHEMA IF NOT EXISTS messaging;

-- Events a consumer failed to handle: retried with growing pauses, then parked ('dead')
-- until staff replay them.
CREATE TABLE messaging.deliveries (
    consumer   TEXT NOT NULL,
    event_id   UUID NOT NULL,
    event_type TEXT NOT NULL,
    event      JSONB NOT NULL,
    attempts   INTEGER NOT NULL,
    next_at    BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('retrying', 'dead')),
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX deliveries_due ON messaging.deliveries (state, next_at);
