package api

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humaecho"

	"github.com/keyhold/keyhold/internal/idempotency"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/rootkey"
)

// replayedHeaders are the answer headers a replay repeats.
var replayedHeaders = []string{"Content-Type", "Location"}

type idempotencyState struct {
	store idempotency.Store
	// aead seals the kept answers: a new key's secret is in one, and the
	// database keeps secrets only as hashes.
	aead cipher.AEAD
	now  func() time.Time
	log  *slog.Logger

	mu    sync.Mutex
	swept time.Time
}

// middleware makes a POST with Idempotency-Key run once per root key: the
// first answer below 500 is kept idempotency.TTL and given again, with
// Idempotent-Replayed: true, to a retry with the same method, path and
// body; the same key with another request answers 422, and while the
// first still runs, 409. A 5xx is not kept: the retry runs again.
func (a *API) idempotent(ctx huma.Context, next func(huma.Context)) {
	m := a.idem
	key := ctx.Header(idempotency.Header)
	if ctx.Method() != http.MethodPost || key == "" {
		next(ctx)
		return
	}
	api := humaecho.Unwrap(ctx)
	write := func(status int, msg string) { a.write(ctx, status, msg) }
	if idempotency.CheckKey(key) != nil {
		write(http.StatusUnprocessableEntity, idempotency.KeyRule)
		return
	}
	body, err := io.ReadAll(io.LimitReader(api.Request().Body, MaxBody+1))
	if err != nil {
		write(http.StatusBadRequest, "The request body could not be read.")
		return
	}
	if len(body) > MaxBody {
		write(http.StatusRequestEntityTooLarge, "The request body is larger than 64 KiB.")
		return
	}
	api.Request().Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.New()
	for _, part := range []string{ctx.Method(), "\n", ctx.URL().Path, "\n"} {
		sum.Write([]byte(part))
	}
	sum.Write(body)
	hash := hex.EncodeToString(sum.Sum(nil))

	k := ctx.Context().Value(rootKeyKey{}).(*rootkey.RootKey)
	c := ctx.Context()
	now := m.now().UTC()
	m.sweep(c, now)
	kept, err := m.store.ClaimIdempotency(c, k.ID, key, hash, now, now.Add(-idempotency.TTL), now.Add(-idempotency.Abandoned))
	switch {
	case errors.Is(err, idempotency.ErrTaken):
		switch {
		case kept.RequestHash != hash:
			write(http.StatusUnprocessableEntity, "This Idempotency-Key was used for a different request in the last 24 hours. Use a new key for a new request.")
		case kept.Status == 0:
			ctx.SetHeader("Retry-After", "1")
			write(http.StatusConflict, "A request with this Idempotency-Key is still running. Retry in a moment to get its answer.")
		default:
			for name, v := range kept.Headers {
				ctx.SetHeader(name, v)
			}
			body, err := m.open(kept.Body, k.ID, key)
			if err != nil {
				// Kept under another instance secret: the answer is
				// lost, and running the request again could repeat it.
				m.log.ErrorContext(c, "api idempotency replay failed", "err", err)
				write(http.StatusConflict, "The first answer to this Idempotency-Key cannot be given again. Look the resource up instead of retrying.")
				return
			}
			ctx.SetHeader(idempotency.ReplayedHeader, "true")
			ctx.SetStatus(kept.Status)
			_, _ = ctx.BodyWriter().Write(body)
		}
		return
	case err != nil:
		m.log.ErrorContext(c, "api idempotency claim failed", "err", err)
		write(http.StatusServiceUnavailable, "Keyhold cannot answer right now; retry in a few seconds with the same Idempotency-Key.")
		return
	}

	// From here the request runs to its end even if the client goes
	// away (a timeout on its side): a retry must find its outcome, not
	// a change made and then abandoned with a 5xx that frees the key.
	c = context.WithoutCancel(c)
	ctx = huma.WithContext(ctx, c)
	res := api.Response()
	rec := &recorder{ResponseWriter: res.Writer}
	res.Writer = rec
	defer func() { res.Writer = rec.ResponseWriter }()
	defer func() {
		// A panic (recovered by the server's middleware) must not hold
		// the key as running for a day.
		if p := recover(); p != nil {
			if err := m.store.ReleaseIdempotency(c, k.ID, key); err != nil {
				m.log.ErrorContext(c, "api idempotency release failed", "err", err)
			}
			panic(p)
		}
	}()
	next(ctx)

	status := res.Status
	if status >= 500 || status == 0 {
		if err := m.store.ReleaseIdempotency(c, k.ID, key); err != nil {
			m.log.ErrorContext(c, "api idempotency release failed", "err", err)
		}
		return
	}
	headers := map[string]string{}
	for _, name := range replayedHeaders {
		if v := res.Header().Get(name); v != "" {
			headers[name] = v
		}
	}
	sealed, err := m.seal(rec.body.Bytes(), k.ID, key)
	if err == nil {
		err = m.store.FinishIdempotency(c, k.ID, key, status, headers, sealed)
	}
	if err != nil {
		// The change is made; a retry would now answer 409 until the
		// claim ages out, which is the safe side of the two.
		m.log.ErrorContext(c, "api idempotency finish failed", "err", err)
	}
}

// sweep deletes expired records, at most once an hour per instance.
func (m *idempotencyState) sweep(ctx context.Context, now time.Time) {
	m.mu.Lock()
	due := now.Sub(m.swept) >= time.Hour
	if due {
		m.swept = now
	}
	m.mu.Unlock()
	if !due {
		return
	}
	if err := m.store.SweepIdempotency(context.WithoutCancel(ctx), now.Add(-idempotency.TTL)); err != nil {
		m.log.ErrorContext(ctx, "api idempotency sweep failed", "err", err)
	}
}

// recorder keeps a copy of the answer's body as it is written.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// seal encrypts a kept answer, bound to its root key and Idempotency-Key
// so that a record cannot be replayed under another.
func (m *idempotencyState) seal(body []byte, rootKeyID, key string) ([]byte, error) {
	nonce := make([]byte, m.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("api: idempotency nonce: %w", err)
	}
	sealed := m.aead.Seal(nonce, nonce, body, []byte(rootKeyID+"\x00"+key))
	return []byte(base64.StdEncoding.EncodeToString(sealed)), nil
}

// open decrypts what seal made.
func (m *idempotencyState) open(kept []byte, rootKeyID, key string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(string(kept))
	if err != nil || len(raw) < m.aead.NonceSize() {
		return nil, errors.New("api: idempotency record is not sealed")
	}
	n := m.aead.NonceSize()
	body, err := m.aead.Open(nil, raw[:n], raw[n:], []byte(rootKeyID+"\x00"+key))
	if err != nil {
		return nil, fmt.Errorf("api: idempotency record: %w", err)
	}
	return body, nil
}

// newAEAD is AES-256-GCM under a key derived from the instance secret.
func newAEAD(secret []byte) (cipher.AEAD, error) {
	return keyhold.SecretAEAD(secret, "keyhold api idempotency v1")
}
