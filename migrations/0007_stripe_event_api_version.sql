-- The API version each Stripe event was rendered in, so an event of
-- another version than stripe-go's (refused, not applied) can be told
-- apart from other failures and the console can say which endpoint
-- setting to fix. Empty for rows recorded before this column, and for
-- the records of keyhold stripe reconcile.

-- +goose Up
ALTER TABLE stripe_events ADD COLUMN api_version TEXT NOT NULL DEFAULT '';
