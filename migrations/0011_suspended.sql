-- An operator can suspend an account: its keys answer DISABLED and its
-- user sees a page saying so instead of the portal, until unsuspended.

-- +goose Up
ALTER TABLE accounts ADD COLUMN suspended BOOLEAN NOT NULL DEFAULT FALSE;
