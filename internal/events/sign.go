package events

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret, as Standard Webhooks writes it.
const SecretPrefix = "whsec_"

// secretBytes is the size of a new secret's key: 256 bits, the size of the
// HMAC-SHA256 block's output, is what the Standard Webhooks libraries make.
const secretBytes = 32

// DefaultTolerance is how far a webhook-timestamp may be from now when
// Verify is given no tolerance: the reference libraries' five minutes.
const DefaultTolerance = 5 * time.Minute

var (
	// ErrSignature means no webhook-signature matched the message, or the
	// signature headers are missing or malformed.
	ErrSignature = errors.New("events: webhook signature does not match")
	// ErrTimestamp means the webhook-timestamp is too far from now, which
	// is how a receiver refuses a replayed message.
	ErrTimestamp = errors.New("events: webhook timestamp outside the tolerance")
)

// NewSecret returns a new signing secret: "whsec_" + standard base64 of 32
// bytes from crypto/rand.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("events: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ParseSecret returns the key bytes of a "whsec_…" secret (error if
// malformed). The error never repeats the secret.
func ParseSecret(s string) ([]byte, error) {
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New("events: signing secret does not start with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		// Not wrapped: a base64 error names the offending byte's offset,
		// which says nothing useful and is a step towards the secret.
		return nil, errors.New("events: signing secret is not valid base64")
	}
	if len(key) == 0 {
		return nil, errors.New("events: signing secret is empty")
	}
	return key, nil
}

// Sign returns the webhook-signature header value: "v1," +
// base64(HMAC-SHA256(key, id+"."+unix-seconds+"."+body)).
func Sign(key []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body))
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks webhook-id/webhook-timestamp/webhook-signature of h against
// body (Standard Webhooks v1; any of the space-separated signatures;
// timestamp within tolerance of now, default 5 min when tolerance is 0);
// ErrSignature / ErrTimestamp.
//
// Keyhold itself only signs; Verify is what a receiver runs, and the tests
// use it to check what the Sender sent.
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return fmt.Errorf("missing webhook-id, webhook-timestamp or webhook-signature header: %w", ErrSignature)
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp is not Unix seconds: %w", ErrSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Compared with bounds around now rather than by subtracting, so that
	// a huge or very negative timestamp cannot overflow into looking recent.
	tol := int64(tolerance / time.Second)
	if unix < now.Unix()-tol || unix > now.Unix()+tol {
		return fmt.Errorf("webhook-timestamp %d is more than %s from now: %w", unix, tolerance, ErrTimestamp)
	}
	want := mac(key, id, unix, body)
	for _, sig := range strings.Fields(sigs) {
		version, enc, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue // another scheme (v1a, …) or garbage: a later one may match
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
