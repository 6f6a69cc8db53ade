-- The management API (DESIGN "Management API"): audit entries name the
-- root key a call came with; accounts carry the API provider's own id for
-- them; the first answer to each Idempotency-Key is kept per root key, in
-- the database so that every instance replays it.

-- +goose Up
ALTER TABLE audit_log ADD COLUMN root_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN external_id TEXT NULL;
-- NULLs are distinct on both dialects: many accounts may have none.
CREATE UNIQUE INDEX accounts_external_id ON accounts (external_id);

CREATE TABLE api_idempotency (
    root_key_id  TEXT NOT NULL,
    idem_key     TEXT NOT NULL,              -- the client's Idempotency-Key, at most 255 characters
    request_hash TEXT NOT NULL,              -- hex SHA-256 of method, path and body
    status       INTEGER NOT NULL DEFAULT 0, -- 0 while the first request runs
    headers      TEXT NOT NULL DEFAULT '{}', -- the answer's headers worth replaying, JSON
    body         TEXT NOT NULL DEFAULT '',    -- the answer, JSON
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (root_key_id, idem_key)
);
CREATE INDEX api_idempotency_created_at ON api_idempotency (created_at);
