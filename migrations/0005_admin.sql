-- Indexes for the operator console's lists across every account.

-- +goose Up
-- The audit log, newest first, whole or by action.
CREATE INDEX audit_log_created ON audit_log (created_at, id);
CREATE INDEX audit_log_action ON audit_log (action, created_at);
-- Usage of every key over the last days (overview, top keys).
CREATE INDEX usage_hourly_hour ON usage_hourly (hour);
