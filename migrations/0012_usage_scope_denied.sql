-- Verifications refused with INSUFFICIENT_SCOPE get their own count, so
-- charts can tell a key asked for more than it may ("Scope denied") from a
-- key that is no good ("Invalid key": REVOKED, EXPIRED). Rows written before
-- this keep every refusal in invalid, which is what they meant then.

-- +goose Up
ALTER TABLE usage_hourly ADD COLUMN scope_denied BIGINT NOT NULL DEFAULT 0;
