CREATE SCHEMA IF NOT EXISTS identity;

-- Identity: customers whose personal fields are sealed (AES-256-GCM under a per-customer data
-- key, itself wrapped by a master key), found by a keyed blind index of the email.
CREATE TABLE identity.customers (
    id UUID PRIMARY KEY,
    email_index TEXT CONSTRAINT customers_email_index_key UNIQUE,
    master_key_id TEXT,
    data_key BYTEA,
    email BYTEA,
    name BYTEA,
    profile BYTEA,
    password_hash TEXT,
    email_verified_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    erased_at BIGINT,
    version BIGINT NOT NULL
);

-- Refresh tokens by hash; a family is one log-in's chain of rotations.
CREATE TABLE identity.refresh_tokens (
    hash TEXT PRIMARY KEY,
    family UUID NOT NULL,
    customer_id UUID NOT NULL REFERENCES identity.customers(id),
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX identity_refresh_family ON identity.refresh_tokens(family);
CREATE INDEX identity_refresh_customer ON identity.refresh_tokens(customer_id);

-- One-time links (email verification, password reset) by hash.
CREATE TABLE identity.links (
    hash TEXT PRIMARY KEY,
    customer_id UUID NOT NULL REFERENCES identity.customers(id),
    purpose TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX identity_links_customer ON identity.links(customer_id);

-- Failed log-ins per account (blind index) and per address (blind index).
CREATE TABLE identity.login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    locked_until BIGINT
);
