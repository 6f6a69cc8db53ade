-- Two foreign keys that led no index: deleting an account scanned every
-- session (ON DELETE SET NULL) and every quota notice (ON DELETE CASCADE)
-- for its rows. store's TestForeignKeysAreIndexed keeps it so.

-- +goose Up
CREATE INDEX sessions_account_id ON sessions (account_id);
CREATE INDEX quota_notices_account_id ON quota_notices (account_id);
