-- Events each consumer has claimed, so that replicas act on each event once.
CREATE TABLE catalog.inbox (
    consumer TEXT NOT NULL,
    event_id UUID NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
