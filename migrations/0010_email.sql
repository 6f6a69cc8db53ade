-- Email: verified addresses, and the single-use tokens mailed in links
-- (password reset, address verification, email change). 0009 (River's job
-- tables, through which the mail goes out) is a Go migration: river.go.

-- +goose Up
-- NULL: never verified. Accounts from before email existed start
-- unverified too: nobody ever confirmed their address.
ALTER TABLE accounts ADD COLUMN email_verified_at TIMESTAMP;

-- A token is 32 random bytes mailed in a link; only its SHA-256 (hex) is
-- kept, so this table cannot be used to reset a password or take an
-- address. A token works once (used_at) and until expires_at.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,           -- password_reset, verify_email, change_email
    email      TEXT NOT NULL,           -- the address the link was sent to (the new one for change_email)
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX email_tokens_account ON email_tokens (account_id, purpose);
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);
