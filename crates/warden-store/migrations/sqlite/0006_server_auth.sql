-- The server's sign-in state: browser sessions and API tokens. Only
-- SHA-256 hashes of the secrets are kept, so a copy of the database lets
-- nobody in.

CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    person        TEXT NOT NULL REFERENCES people (name),
    csrf_token    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX sessions_by_person ON sessions (person);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    token_hash    TEXT NOT NULL UNIQUE,
    scopes        TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
