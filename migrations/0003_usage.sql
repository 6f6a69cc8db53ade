-- Usage of keys, written in batches by the verifier.

-- +goose Up
-- Verifications per key per hour (UTC), by outcome. Charts and analytics
-- read these; cost is the quota units the valid calls took.
CREATE TABLE usage_hourly (
    key_id         TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    hour           TIMESTAMP NOT NULL,
    account_id     TEXT NOT NULL,
    valid          BIGINT NOT NULL DEFAULT 0,
    rate_limited   BIGINT NOT NULL DEFAULT 0,
    quota_exceeded BIGINT NOT NULL DEFAULT 0,
    invalid        BIGINT NOT NULL DEFAULT 0,
    cost           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, hour)
);
CREATE INDEX usage_hourly_account ON usage_hourly (account_id, hour);

-- Quota units used per key per quota window, exact: a restart continues
-- from here.
CREATE TABLE key_quota (
    key_id       TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    window_start TIMESTAMP NOT NULL,
    used         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, window_start)
);
