package keys

// EventKind says what happened to a key.
type EventKind int

// Event kinds.
const (
	KeyChanged EventKind = iota + 1 // renamed, scopes/meta/expiry/overrides edited
	KeyRotated                      // new secret; old one may live on for a grace period
	KeyRevoked                      // dead on every instance at once
	KeyCreated                      // a new key and its first secret
)

// Event tells listeners (the verifier's cache) that a key changed, so they
// drop what they hold for it before the next verification.
type Event struct {
	Kind      EventKind
	KeyID     string
	AccountID string
	// SecretHash is the SHA-256 of the secret a KeyCreated or KeyRotated
	// event added (zero for other kinds), so the verifier's filter of
	// known secrets learns it before the key is handed out. A hash of 190
	// random bits reveals nothing of the key: it is safe to broadcast.
	SecretHash [32]byte
	// OwnQuotaChanged marks a KeyChanged whose key gained or lost a quota
	// override of its own: on a pooled plan it left or joined its
	// account's pool, whose count must then be taken again.
	OwnQuotaChanged bool
}
