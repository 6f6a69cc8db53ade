-- Root keys authenticate the management API (DESIGN "Management API"):
-- kh_root_ keys, stored only as the hex SHA-256 of the key, each with the
-- permissions it was given. They belong to no account: operators make them.

-- +goose Up
CREATE TABLE root_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    display      TEXT NOT NULL,              -- kh_root_…abcd: prefix and last four
    hash         TEXT NOT NULL UNIQUE,       -- the one lookup of every API call
    permissions  TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
    created_by   TEXT NOT NULL DEFAULT '',   -- the operator's user id; empty: the command line
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NULL,             -- written at most once a minute
    revoked_at   TIMESTAMP NULL
);
CREATE INDEX root_keys_created_at ON root_keys (created_at);
