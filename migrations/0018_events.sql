-- Outbound webhooks (DESIGN "Events: outbound webhooks and notices").
--
-- events is the outbox: a row is written in the same transaction as the
-- change it tells of, with the job that fans it out (internal/events), so a
-- rolled-back change leaves neither. Its id is the message's webhook-id,
-- the same on every retry. queued is false only for an event written where
-- no job queue was at hand (the command line): the server's sweep fans
-- those out.
--
-- A webhook_endpoints secret is stored only sealed with AES-GCM under a key
-- derived (HKDF-SHA256) from the instance secret, as the token signing
-- keys are. disabled_reason says why an endpoint is off: '' (on, or turned
-- off by an update that gave no reason), 'gone' (it answered 410),
-- 'failing' (five days of failure) or 'operator'.
--
-- webhook_deliveries is one event to one endpoint (unique, so a fan-out
-- that runs twice delivers once); seq numbers its jobs, so that a Resend's
-- job supersedes an older one still waiting. attempts counts every attempt
-- (the log numbers them on across resends); seq_attempts counts those of
-- the current seq, which a Resend sets back to 0, so that its retries
-- follow the whole schedule again. webhook_attempts is the delivery log
-- the console shows.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    events          TEXT NOT NULL DEFAULT '[]', -- JSON array of event types; []: all
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    secret          TEXT NOT NULL,              -- base64 nonce || AES-GCM(secret), additional data: the id
    disabled_reason TEXT NOT NULL DEFAULT '',
    failing_since   TIMESTAMP NULL,             -- the first failure since the last success
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_created_at ON webhook_endpoints (created_at, id);

CREATE TABLE events (
    id         TEXT PRIMARY KEY,            -- "msg_" + ULID: the webhook-id
    type       TEXT NOT NULL,
    account_id TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL,               -- JSON object; never a secret
    queued     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX events_created_at ON events (created_at, id);
CREATE INDEX events_account ON events (account_id, created_at);
-- The sweep's look-up of events written without a queue (QueueUnqueued).
CREATE INDEX events_queued ON events (queued, id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'pending', -- pending, delivered, failed, canceled
    attempts        INTEGER NOT NULL DEFAULT 0, -- made in all
    seq             INTEGER NOT NULL DEFAULT 1,
    seq_attempts    INTEGER NOT NULL DEFAULT 0, -- made by the job of seq
    next_attempt_at TIMESTAMP NULL,
    delivered_at    TIMESTAMP NULL,
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status);

CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id   TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    started_at    TIMESTAMP NOT NULL,
    status_code   INTEGER NOT NULL DEFAULT 0, -- 0: no answer
    error         TEXT NOT NULL DEFAULT '',
    latency_ms    INTEGER NOT NULL DEFAULT 0,
    response      TEXT NOT NULL DEFAULT '',   -- the first 1 KiB of the answer
    next_retry_at TIMESTAMP NULL
);
-- The delivery log: an endpoint's attempts, newest first.
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, started_at, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
-- The retention sweep deletes an old event's attempts by it
-- (DeleteEventsBefore).
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id);
