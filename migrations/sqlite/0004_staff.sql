-- Staff (personal fields sealed like customers'), custom roles and API keys (hashed).
CREATE TABLE identity_staff (
    id TEXT PRIMARY KEY,
    email_index TEXT NOT NULL UNIQUE,
    master_key_id TEXT NOT NULL,
    data_key BLOB NOT NULL,
    email BLOB NOT NULL,
    name BLOB NOT NULL,
    password_hash TEXT NOT NULL,
    role_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
);

CREATE TABLE identity_roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    permissions TEXT NOT NULL
);

CREATE TABLE identity_api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
