-- Each event a consumer took on (the claim: one replica handles it): 'retrying' while it
-- runs or after a failure (due again at next_at), 'dead' after the last attempt until staff
-- replay it, 'done' once handled (purged after a week).
CREATE TABLE deliveries (
    consumer   TEXT NOT NULL,
    event_id   BLOB NOT NULL,
    event_type TEXT NOT NULL,
    event      TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    next_at    INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('retrying', 'dead', 'done')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
