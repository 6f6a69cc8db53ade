-- Signing keys of the token exchange (DESIGN "Tokens: API key → short-lived
-- JWT"): ECDSA P-256 keys shared by every instance. The private key is
-- stored only sealed with AES-GCM under a key derived (HKDF-SHA256) from the
-- instance secret; the public key is PKIX DER, base64. generation numbers
-- the keys in the order they were made: the highest is the current one, and
-- its uniqueness is what makes two instances starting (or rotating) at once
-- agree on one key: the second insert of a generation does nothing and both
-- read back the winner. A retired key stays published for twice the longest
-- token lifetime, then is deleted.
--
-- A successful exchange is counted in usage as its own outcome,
-- token_issued, beside valid: charts can tell exchanges from verifications.

-- +goose Up
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    generation  BIGINT NOT NULL UNIQUE,
    public_key  TEXT NOT NULL,   -- base64 PKIX DER
    private_key TEXT NOT NULL,   -- base64 nonce || AES-GCM(PKCS#8 DER), additional data: the kid
    created_at  TIMESTAMP NOT NULL,
    retired_at  TIMESTAMP NULL   -- when a newer key became current
);

ALTER TABLE usage_hourly ADD COLUMN token_issued BIGINT NOT NULL DEFAULT 0;
