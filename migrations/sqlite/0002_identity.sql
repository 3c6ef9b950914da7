-- Identity: customers whose personal fields are sealed (AES-256-GCM under a per-customer data
-- key, itself wrapped by a master key), found by a keyed blind index of the email.
CREATE TABLE identity_customers (
    id TEXT PRIMARY KEY,
    email_index TEXT UNIQUE,
    master_key_id TEXT,
    data_key BLOB,
    email BLOB,
    name BLOB,
    profile BLOB,
    password_hash TEXT,
    email_verified_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    erased_at INTEGER,
    version INTEGER NOT NULL
);

-- Refresh tokens by hash; a family is one log-in's chain of rotations.
CREATE TABLE identity_refresh_tokens (
    hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES identity_customers(id),
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX identity_refresh_family ON identity_refresh_tokens(family);
CREATE INDEX identity_refresh_customer ON identity_refresh_tokens(customer_id);

-- One-time links (email verification, password reset) by hash.
CREATE TABLE identity_links (
    hash TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES identity_customers(id),
    purpose TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX identity_links_customer ON identity_links(customer_id);

-- Failed log-ins per account (blind index) and per address (blind index).
CREATE TABLE identity_login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_started_at INTEGER NOT NULL,
    locked_until INTEGER
);
