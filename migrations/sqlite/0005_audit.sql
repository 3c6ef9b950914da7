-- The audit trail. `entry` is the exact JSON that was hashed (kept as text, byte for byte);
-- the head row holds the entry count and the last hash, so truncation is detected too.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at_ms INTEGER NOT NULL,
    actor_id TEXT NOT NULL,
    route TEXT NOT NULL,
    entry TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log(actor_id, seq);
CREATE INDEX audit_log_at ON audit_log(at_ms);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, count, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
