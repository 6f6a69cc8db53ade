-- A new token signing key is published before it signs (issue 15): a
-- rotation stores the next key with active_at in the future, long enough
-- for every cached JWKS (max-age 300 s) and every instance (refresh 30 s)
-- to have it, so no verifier meets a kid it does not know. The key it
-- replaces is retired at active_at, not at the rotation. NULL (keys made
-- before this column): active since created_at.

-- +goose Up
ALTER TABLE signing_keys ADD COLUMN active_at TIMESTAMP NULL;
