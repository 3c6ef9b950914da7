-- Consumers catching up look events up by type.
CREATE INDEX outbox_event_type ON outbox(event_type, seq);
