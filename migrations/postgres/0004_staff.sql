-- Staff (personal fields sealed like customers'), custom roles and API keys (hashed).
CREATE TABLE identity.staff (
    id UUID PRIMARY KEY,
    email_index TEXT NOT NULL CONSTRAINT staff_email_index_key UNIQUE,
    master_key_id TEXT NOT NULL,
    data_key BYTEA NOT NULL,
    email BYTEA NOT NULL,
    name BYTEA NOT NULL,
    password_hash TEXT NOT NULL,
    role_id UUID NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);

CREATE TABLE identity.roles (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL CONSTRAINT roles_name_key UNIQUE,
    permissions JSONB NOT NULL
);

CREATE TABLE identity.api_keys (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    permissions JSONB NOT NULL,
    created_by UUID NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
