-- The usage batches written lately, by the id the verifier gave each: a
-- batch whose commit reached the database but whose answer was lost (the
-- connection dropped at COMMIT) is retried with the same id, found here,
-- and not added twice. Rows older than a day are pruned as batches are
-- written: a retry comes at the first write after the database is back.

-- +goose Up
CREATE TABLE usage_batches (
    id         TEXT PRIMARY KEY,
    written_at TIMESTAMP NOT NULL
);
CREATE INDEX usage_batches_written_at ON usage_batches (written_at);
