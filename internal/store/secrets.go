package store

import (
	"context"
	"encoding/hex"
	"fmt"
)

// SecretHashes calls fn with the hash of every stored secret: current ones,
// rotated-out ones still in (or past) their grace period, and those of
// revoked keys, which must keep answering REVOKED or EXPIRED rather than
// NOT_FOUND. It reads one column in one query, streamed, so a million keys
// are never held as records; the verifier builds its filter of known
// secrets from it.
func (db *DB) SecretHashes(ctx context.Context, fn func(hash [32]byte)) error {
	rows, err := db.sql.QueryContext(ctx, "SELECT hash FROM key_secrets")
	if err != nil {
		return fmt.Errorf("store: secret hashes: %w", err)
	}
	defer rows.Close()
	var (
		text []byte
		h    [32]byte
	)
	for rows.Next() {
		if err := rows.Scan(&text); err != nil {
			return fmt.Errorf("store: secret hashes: %w", err)
		}
		if n, err := hex.Decode(h[:], text); err != nil || n != len(h) {
			return fmt.Errorf("store: secret hashes: a stored hash is not 64 hex digits")
		}
		fn(h)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: secret hashes: %w", err)
	}
	return nil
}
