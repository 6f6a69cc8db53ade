-- 0013 on SQLite: users split from accounts. SQLite cannot drop a UNIQUE
-- column or change a foreign key in place, so accounts, sessions and
-- email_tokens are rebuilt (SQLite's documented twelve-step procedure); the
-- migration runs this with foreign keys off, on one connection, in one
-- transaction, and checks every foreign key before it commits.

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE, -- stored lower-cased
    password_hash     TEXT NOT NULL,
    is_admin          BOOLEAN NOT NULL DEFAULT FALSE,
    email_verified_at TIMESTAMP NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
-- A user made from an account of before keeps the account's id as its own:
-- ids are per table, and every actor id in the audit log, every session and
-- every email token already names it.
INSERT INTO users (id, email, password_hash, is_admin, email_verified_at, created_at, updated_at)
SELECT id, email, password_hash, is_admin, email_verified_at, created_at, updated_at FROM accounts;

CREATE TABLE accounts_new (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    plan_id            TEXT NOT NULL DEFAULT 'free',
    stripe_customer_id TEXT NULL,
    suspended          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
INSERT INTO accounts_new (id, name, plan_id, stripe_customer_id, suspended, created_at, updated_at)
SELECT id, email, plan_id, stripe_customer_id, suspended, created_at, updated_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
CREATE UNIQUE INDEX accounts_stripe_customer_id ON accounts (stripe_customer_id);

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

CREATE TABLE sessions_new (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    account_id TEXT NULL REFERENCES accounts (id) ON DELETE SET NULL, -- the account the user acts in
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT ''
);
INSERT INTO sessions_new (id, user_id, account_id, created_at, expires_at, ip, user_agent)
SELECT id, account_id, account_id, created_at, expires_at, ip, user_agent FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE email_tokens_new (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
INSERT INTO email_tokens_new (token_hash, user_id, purpose, email, created_at, expires_at, used_at)
SELECT token_hash, account_id, purpose, email, created_at, expires_at, used_at FROM email_tokens;
DROP TABLE email_tokens;
ALTER TABLE email_tokens_new RENAME TO email_tokens;
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);

-- Who made each key; keys of before were made by their account's one user.
ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
UPDATE api_keys SET created_by = account_id;

CREATE TABLE invitations (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email       TEXT NOT NULL, -- lower-cased; only this address may accept
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE, -- SHA-256 of the link's token
    invited_by  TEXT NOT NULL DEFAULT '', -- user id
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP NULL,
    accepted_by TEXT NULL,
    revoked_at  TIMESTAMP NULL
);
CREATE INDEX invitations_account ON invitations (account_id, created_at);
