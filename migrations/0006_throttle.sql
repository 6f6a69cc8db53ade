-- Throttle counters (failed log-ins, sign-ups), kept in the database so
-- that a restart does not wipe them and every instance on the database
-- shares them.

-- +goose Up
-- A row per counter, named by a keyed digest of what it counts (an
-- account's email, a client address, both): neither emails nor addresses
-- are stored. Times are Unix milliseconds, compared as numbers on SQLite
-- and PostgreSQL alike. Rows whose window is over are pruned.
CREATE TABLE throttle_counters (
    digest       TEXT PRIMARY KEY,      -- hex of auth.ThrottleKey
    attempts     INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL
);
CREATE INDEX throttle_counters_window_end ON throttle_counters (window_end);
