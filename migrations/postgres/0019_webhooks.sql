-- service: shared
-- Outbound webhooks: the endpoints staff register and each event's delivery to each of them
-- (the log, and the queue of attempts). Shared: every service's events are delivered.
CREATE TABLE messaging.webhook_endpoints (
    id              UUID PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    event_types     JSONB NOT NULL,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  BIGINT,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT,
    failures        INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE messaging.webhook_deliveries (
    endpoint_id UUID NOT NULL REFERENCES messaging.webhook_endpoints (id) ON DELETE CASCADE,
    event_id    UUID NOT NULL,
    event_type  TEXT NOT NULL,
    event       JSONB NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts    INTEGER NOT NULL,
    next_at     BIGINT NOT NULL,
    last_status INTEGER,
    last_error  TEXT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON messaging.webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_log ON messaging.webhook_deliveries (endpoint_id, updated_at);
