-- API keys, their secrets (SHA-256 only), and the audit log.

-- +goose Up
-- The plan an account is on now; billing keeps it in sync with Stripe.
ALTER TABLE accounts ADD COLUMN plan_id TEXT NOT NULL DEFAULT 'free';

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    display        TEXT NOT NULL,              -- kh_live_…abcd: prefix and last four
    scopes         TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    meta           TEXT NOT NULL DEFAULT '{}', -- JSON object
    expires_at     TIMESTAMP NULL,
    revoked_at     TIMESTAMP NULL,
    last_used_at   TIMESTAMP NULL,
    rate_override  INTEGER NULL,               -- operator overrides of the plan's limits
    burst_override INTEGER NULL,
    quota_override BIGINT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX api_keys_account_id ON api_keys (account_id, created_at);

-- A key has one current secret and, during a rotation's grace period, the
-- previous one. Only the SHA-256 of a secret is stored, hex-encoded.
CREATE TABLE key_secrets (
    hash       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NULL                  -- set when rotated away
);
CREATE INDEX key_secrets_key_id ON key_secrets (key_id);

-- Append-only: rows are inserted, never updated or deleted by Keyhold.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,                 -- whose resource it is
    actor_id    TEXT NOT NULL DEFAULT '',      -- who did it (empty: the system)
    action      TEXT NOT NULL,                 -- e.g. key.created
    target_type TEXT NOT NULL DEFAULT '',
    target_id   TEXT NOT NULL DEFAULT '',
    ip          TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',      -- short human summary, never a secret
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_account ON audit_log (account_id, created_at);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, created_at);
