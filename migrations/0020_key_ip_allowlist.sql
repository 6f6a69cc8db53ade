-- Per-key IP allow-lists (DESIGN "Verify, round 2"): the CIDRs a key may
-- be verified from, as a JSON array of strings in the key service's
-- normal form ("10.0.0.0/8", "2001:db8::/32": masked, IPv4-mapped
-- prefixes written as IPv4), at most 32. '[]' (every key before this
-- migration): any address. A JSON text column, like scopes, so that one
-- statement serves SQLite and PostgreSQL and the verifier reads the list
-- with the key, in the same query.

-- +goose Up
ALTER TABLE api_keys ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '[]';
