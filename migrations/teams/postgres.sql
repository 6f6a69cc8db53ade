-- 0013 on PostgreSQL: users split from accounts, in one transaction.

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE, -- stored lower-cased
    password_hash     TEXT NOT NULL,
    is_admin          BOOLEAN NOT NULL DEFAULT FALSE,
    email_verified_at TIMESTAMP NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
-- A user made from an account of before keeps the account's id as its own
-- (see sqlite.sql).
INSERT INTO users (id, email, password_hash, is_admin, email_verified_at, created_at, updated_at)
SELECT id, email, password_hash, is_admin, email_verified_at, created_at, updated_at FROM accounts;

ALTER TABLE accounts ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE accounts SET name = email;
ALTER TABLE accounts ALTER COLUMN name DROP DEFAULT;
ALTER TABLE accounts DROP COLUMN email, DROP COLUMN password_hash, DROP COLUMN is_admin, DROP COLUMN email_verified_at;

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL, -- owner, admin, developer, billing, viewer
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id);
INSERT INTO memberships (account_id, user_id, role, created_at)
SELECT id, id, 'owner', created_at FROM accounts;

ALTER TABLE sessions RENAME COLUMN account_id TO user_id;
ALTER TABLE sessions DROP CONSTRAINT sessions_account_id_fkey;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN account_id TEXT NULL REFERENCES accounts (id) ON DELETE SET NULL;
UPDATE sessions SET account_id = user_id;
ALTER INDEX sessions_account_id RENAME TO sessions_user_id;

ALTER TABLE email_tokens RENAME COLUMN account_id TO user_id;
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_account_id_fkey;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER INDEX email_tokens_account RENAME TO email_tokens_user;

ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET created_by = account_id;

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    invited_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP NULL,
    accepted_by TEXT NULL,
    revoked_at  TIMESTAMP NULL
);
CREATE INDEX invitations_account ON invitations (account_id, created_at);
