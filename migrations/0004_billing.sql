-- Stripe billing: customers, subscriptions, and the webhook events applied.

-- +goose Up
ALTER TABLE accounts ADD COLUMN stripe_customer_id TEXT NULL;
CREATE UNIQUE INDEX accounts_stripe_customer_id ON accounts (stripe_customer_id);

-- An account's current subscription, as Stripe last told us.
CREATE TABLE subscriptions (
    account_id             TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    stripe_subscription_id TEXT NOT NULL UNIQUE,
    stripe_customer_id     TEXT NOT NULL,
    price_id               TEXT NOT NULL DEFAULT '',
    status                 TEXT NOT NULL,
    period_start           TIMESTAMP NULL,
    period_end             TIMESTAMP NULL,
    cancel_at_period_end   BOOLEAN NOT NULL DEFAULT FALSE,
    canceled_at            TIMESTAMP NULL,
    sub_created            BIGINT NOT NULL DEFAULT 0, -- the subscription's own creation time (unix)
    state_at               BIGINT NOT NULL DEFAULT 0, -- creation time (unix) of the event whose state this is
    payment_state          TEXT NOT NULL DEFAULT '',  -- '', 'paid' or 'failed'
    payment_at             BIGINT NOT NULL DEFAULT 0, -- creation time of the invoice event behind payment_state
    updated_at             TIMESTAMP NOT NULL
);

-- Every Stripe event received: applied once (outcome applied or ignored);
-- a failed one keeps its payload so it can be applied again.
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    created     BIGINT NOT NULL,
    account_id  TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,                 -- applied, ignored, failed
    detail      TEXT NOT NULL DEFAULT '',
    payload     TEXT NOT NULL DEFAULT '',
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX stripe_events_received ON stripe_events (received_at);
