-- Notices to developers (DESIGN "Events: outbound webhooks and notices").
-- A quota threshold or an expiry notice is recorded by inserting its row:
-- the primary key makes it once per key (subject) per window per
-- threshold, and once per key per expiry per notice, across instances and
-- restarts; only the insert that created the row queues the mails.
-- subject is a key id today; a pooled quota (quota_scope account) will
-- record its account id there.

-- +goose Up
CREATE TABLE quota_notices (
    subject      TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    percent      INTEGER NOT NULL,  -- 80 or 100
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    used         BIGINT NOT NULL,
    quota_limit  BIGINT NOT NULL,
    window_end   TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (subject, window_start, percent)
);

CREATE TABLE expiry_notices (
    key_id     TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    days       INTEGER NOT NULL,    -- 7 or 1
    account_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (key_id, expires_at, days)
);

-- A banner a user closed; its id names the notice's kind, level, key and
-- window (or expiry), so the next one shows again.
CREATE TABLE notice_dismissals (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    notice_id  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, notice_id)
);

-- Notice mail preferences; no row: every kind on.
CREATE TABLE notice_prefs (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    quota_mail  BOOLEAN NOT NULL DEFAULT TRUE,
    expiry_mail BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at  TIMESTAMP NOT NULL
);
