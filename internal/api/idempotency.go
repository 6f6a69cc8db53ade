package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	now   func() time.Time
	log   *slog.Logger

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
	key := ctx.Header("Idempotency-Key")
	if ctx.Method() != http.MethodPost || key == "" {
		next(ctx)
		return
	}
	api := humaecho.Unwrap(ctx)
	write := func(status int, msg string) { a.write(ctx, status, msg) }
	if len(key) > idempotency.MaxKey || keyhold.CheckText("Idempotency-Key", key) != nil {
		write(http.StatusUnprocessableEntity, "Idempotency-Key must be at most 255 characters of visible text; a UUID is a good choice.")
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
	kept, err := m.store.ClaimIdempotency(c, k.ID, key, hash, now, now.Add(-idempotency.TTL))
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
			ctx.SetHeader("Idempotent-Replayed", "true")
			ctx.SetStatus(kept.Status)
			_, _ = ctx.BodyWriter().Write(kept.Body)
		}
		return
	case err != nil:
		m.log.ErrorContext(c, "api idempotency claim failed", "err", err)
		write(http.StatusServiceUnavailable, "Keyhold cannot answer right now; retry in a few seconds with the same Idempotency-Key.")
		return
	}

	res := api.Response()
	rec := &recorder{ResponseWriter: res.Writer}
	res.Writer = rec
	defer func() { res.Writer = rec.ResponseWriter }()
	next(ctx)

	// The outcome is kept even if the client went away: a retry must
	// find it.
	c = context.WithoutCancel(c)
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
	if err := m.store.FinishIdempotency(c, k.ID, key, status, headers, rec.body.Bytes()); err != nil {
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
