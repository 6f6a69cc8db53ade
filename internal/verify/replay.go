package verify

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyhold/keyhold/internal/idempotency"
	"github.com/keyhold/keyhold/internal/keyhold"
)

// Idempotency-Key on /v1/verify and /v1/tokens (DESIGN "Verify, round
// 2"): within ReplayTTL the same API key and Idempotency-Key give the
// first answer again, with Idempotent-Replayed: true, and consume nothing.
//
// A record is found by a SHA-256 of the SHA-256 of the API key (the hash
// the cache already keys by) and the Idempotency-Key: neither the key nor
// a hash that names it in the database is kept, and another API key with
// the same Idempotency-Key finds another record. Beside the answer, a
// record holds a fingerprint of what the request asked (route, cost,
// scopes in their order, ip; for tokens ttl and audience): the same
// Idempotency-Key with other parameters is refused with BAD_REQUEST, as
// Stripe does, instead of replaying an answer to another question.
//
// Kept: 200 (VALID, a token), the one answer that consumed (see keeps);
// a refusal is answered afresh on a retry. The handler replays a kept
// VALID only while the key still passes its checks (Verifier.StillValid)
// and a token only until it expires; else it answers afresh. Concurrent
// identical requests wait for the first one's answer, whatever it is.
//
// Records live in memory, bounded by count and bytes (oldest first out),
// and with Redis also there, for every instance: a pending marker taken
// with one script (GET, else SET … PX), which the others poll for a
// bounded time, then the answer, sealed (keyhold.SecretAEAD) since a
// token's answer holds a JWT. While Redis is unreachable each instance
// keeps its own records.

// Route is the endpoint a request is made to; part of the fingerprint.
type Route uint8

// The routes with Idempotency-Key.
const (
	RouteVerify Route = iota
	RouteTokens
	routes
)

// String returns the route as metrics label it.
func (r Route) String() string {
	if r == RouteTokens {
		return "tokens"
	}
	return "verify"
}

// ReplayTTL is how long a first answer is given again.
const ReplayTTL = 10 * time.Minute

// Defaults of ReplayConfig.
const (
	DefaultReplayEntries = 100_000
	DefaultReplayBytes   = 64 << 20
	// DefaultReplayWait is how long a request waits for a concurrent
	// identical one's answer: a verification takes at most a few
	// database reads of LoadTimeout.
	DefaultReplayWait = 5 * time.Second
	// DefaultReplayAbandon is how long a claim may stay without answer
	// before it is taken to be lost (its instance died mid-request).
	DefaultReplayAbandon = 10 * time.Second
)

// ReplayConfig configures Replays.
type ReplayConfig struct {
	// Redis shares records between instances; nil: this process only.
	Redis *Redis
	// Secret is the instance secret, which seals what is kept in Redis;
	// required with Redis.
	Secret []byte
	// MaxEntries and MaxBytes bound the records kept in memory; defaults
	// DefaultReplayEntries and DefaultReplayBytes.
	MaxEntries, MaxBytes int
	// Wait and Abandon: DefaultReplayWait and DefaultReplayAbandon.
	Wait, Abandon time.Duration
	// Now is the clock of the records' lifetimes; nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger // nil: discard
}

// Replays keeps first answers per API key and Idempotency-Key. A handler
// calls Begin before verifying and Claim.Finish where it writes the
// answer. It is safe for concurrent use.
type Replays struct {
	cfg  ReplayConfig
	log  *slog.Logger
	aead cipher.AEAD // nil without Redis
	// fpKey keys the fingerprints (HMAC-SHA256): one kept in Redis must
	// not let its reader try addresses and costs until one matches. From
	// the instance secret (the same on every instance), else random.
	fpKey []byte

	mu         sync.Mutex
	records    map[[32]byte]*replayRecord
	head, tail *replayRecord // oldest first
	bytes      int

	replayed [routes]atomic.Int64
	evicted  atomic.Int64
}

// replayRecord is one Idempotency-Key's record in memory.
type replayRecord struct {
	key, fp [32]byte
	// done is closed once the first request ended: ans is then set (Status
	// 0 when it ended without an answer to give, and the record is gone).
	done     chan struct{}
	finished bool  // ans kept, under mu
	deadline int64 // unix ns: finished, when it expires; else when the claim is abandoned
	ans      Answer
	size     int
	listed   bool // in records and the list
	prev     *replayRecord
	next     *replayRecord
}

// recordOverhead is what a record costs beyond its body, for MaxBytes.
const recordOverhead = 256

// NewReplays returns an empty Replays.
func NewReplays(c ReplayConfig) (*Replays, error) {
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultReplayEntries
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultReplayBytes
	}
	if c.Wait <= 0 {
		c.Wait = DefaultReplayWait
	}
	if c.Abandon <= 0 {
		c.Abandon = DefaultReplayAbandon
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Replays{cfg: c, log: c.Logger, records: map[[32]byte]*replayRecord{}}
	if c.Redis != nil {
		if len(c.Secret) < 32 {
			return nil, errors.New("verify: replays in Redis need the 32-byte instance secret")
		}
		aead, err := keyhold.SecretAEAD(c.Secret, "keyhold verify idempotency v1")
		if err != nil {
			return nil, err
		}
		p.aead = aead
	}
	if len(c.Secret) > 0 {
		k, err := hkdf.Key(sha256.New, c.Secret, nil, "keyhold verify idempotency fingerprint v1", 32)
		if err != nil {
			return nil, fmt.Errorf("verify: replays: %w", err)
		}
		p.fpKey = k
	} else {
		p.fpKey = make([]byte, 32)
		_, _ = rand.Read(p.fpKey) // crypto/rand.Read never fails
	}
	return p, nil
}

// Answer is an answer as written: status, the headers a replay repeats,
// body. Begin returns one instead of a claim when the request is not to
// run: a replay (Replayed) or a refusal of its Idempotency-Key.
type Answer struct {
	Status int
	// Header holds the values of replayHeaders, "" for one not sent.
	Header   [len(replayHeaders)]string
	Body     []byte
	Replayed bool
	// Code is the code of an answer Begin made itself (BAD_REQUEST,
	// UNAVAILABLE), for the handler's counts; a replay's is not known.
	Code Code
}

// replayHeaders are the headers of an answer that a replay repeats.
var replayHeaders = [...]string{"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset", "Retry-After"}

var (
	answerContentType = []string{"application/json; charset=utf-8"}
	answerNoStore     = []string{"no-store"}
	answerReplayed    = []string{"true"}
)

// Write writes the answer as /v1/verify writes its own: JSON, not to be
// cached, and Idempotent-Replayed: true on a replay.
func (a *Answer) Write(w http.ResponseWriter) error {
	h := w.Header()
	h["Content-Type"] = answerContentType
	h["Cache-Control"] = answerNoStore
	for i, name := range replayHeaders {
		if v := a.Header[i]; v != "" {
			h[name] = []string{v}
		}
	}
	if a.Replayed {
		h[idempotency.ReplayedHeader] = answerReplayed
	}
	w.WriteHeader(a.Status)
	_, err := w.Write(a.Body)
	return err
}

// refusal is a BAD_REQUEST or UNAVAILABLE answer in verify's format.
func refusal(code Code, msg string) *Answer {
	b, _ := json.Marshal(struct {
		Valid   bool   `json:"valid"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{false, code.String(), msg})
	a := &Answer{Status: code.HTTPStatus(), Body: b, Code: code}
	if code == Unavailable {
		a.Header[3] = "1"
	}
	return a
}

// The answers Begin gives of its own. They are shared: Write only reads.
var (
	badKeyAnswer   = refusal(BadRequest, idempotency.KeyRule)
	mismatchAnswer = refusal(BadRequest, "This Idempotency-Key was used with other parameters (route, cost, scopes, ip, ttl or audience) in the last 10 minutes. Use a new Idempotency-Key for a new request.")
	runningAnswer  = refusal(Unavailable, "A request with this Idempotency-Key is still being answered. Retry in a moment with the same Idempotency-Key to get its answer.")
	unreadAnswer   = refusal(Unavailable, "The first answer to this Idempotency-Key cannot be given again. Use a new Idempotency-Key.")
)

// Claim is a request that runs under an Idempotency-Key; Finish keeps its
// answer. A nil Claim (no Idempotency-Key) does nothing.
type Claim struct {
	p     *Replays
	r     *replayRecord
	rkey  string // the record in Redis when this request holds it there
	mark  string // the pending marker it set
	ended bool
}

// Begin is called before verifying: with no Idempotency-Key it returns
// (nil, nil) at once. Otherwise it returns either an Answer to write
// instead of running the request (a replay of the first answer, or
// BAD_REQUEST for an unusable Idempotency-Key or other parameters, or
// UNAVAILABLE when a concurrent identical request did not answer within
// the wait) or a Claim, whose Finish must be called with the answer.
// params is what the route reads beyond req (tokens: ttl and audience).
func (p *Replays) Begin(ctx context.Context, h http.Header, route Route, req *Request, params string) (*Claim, *Answer) {
	vals := h[idempotency.Header]
	if p == nil || len(vals) == 0 {
		return nil, nil
	}
	if len(vals) > 1 || idempotency.CheckKey(vals[0]) != nil {
		return nil, badKeyAnswer
	}
	key := recordKey(req.Key, vals[0])
	fp := p.fingerprint(route, req, params)
	timer := time.NewTimer(p.cfg.Wait)
	defer timer.Stop()
	for {
		now := p.cfg.Now().UnixNano()
		p.mu.Lock()
		r := p.records[key]
		if r != nil && r.deadline <= now {
			p.unlink(r)
			r = nil
		}
		if r == nil {
			r = &replayRecord{key: key, fp: fp, done: make(chan struct{}), deadline: now + int64(p.cfg.Abandon), size: recordOverhead}
			p.link(r, now)
			p.mu.Unlock()
			return p.claimShared(ctx, r, route, timer.C)
		}
		if r.fp != fp {
			p.mu.Unlock()
			return nil, mismatchAnswer
		}
		if r.finished {
			p.mu.Unlock()
			return nil, p.replay(route, &r.ans)
		}
		p.mu.Unlock()
		select {
		case <-r.done:
			if r.ans.Status != 0 {
				return nil, p.replay(route, &r.ans)
			}
			// Ended without an answer to give here: look again.
		case <-timer.C:
			return nil, runningAnswer
		case <-ctx.Done():
			return nil, runningAnswer
		}
	}
}

// replay counts a replay and returns it.
func (p *Replays) replay(route Route, a *Answer) *Answer {
	p.replayed[route].Add(1)
	out := *a
	out.Replayed = true
	return &out
}

// Replayed returns how many answers of route were replays.
func (p *Replays) Replayed(route Route) int64 { return p.replayed[route].Load() }

// Evicted returns how many records left memory before their time.
func (p *Replays) Evicted() int64 { return p.evicted.Load() }

// Records returns how many records memory holds, and their bytes.
func (p *Replays) Records() (n, bytes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.records), p.bytes
}

// keeps reports whether an answer of status is kept for replays: VALID
// (a verification or a token) only, the one answer that consumed. A
// refusal took nothing, so its retry may as well be answered afresh, and
// must be: a 429 or 503 says when a retry can succeed, and keeping the
// refusals of unknown keys would let a flood of random keys, each with an
// Idempotency-Key of its own, fill the records (and Redis) with them.
func keeps(status int) bool { return status == http.StatusOK }

// Finish is called with the answer before it is written: a kept answer is
// given to the concurrent identical requests waiting and to every retry
// within ReplayTTL; another is given to those waiting, and forgotten.
func (c *Claim) Finish(status int, h http.Header, body []byte) {
	if c == nil || c.ended {
		return
	}
	c.ended = true
	a := Answer{Status: status, Body: bytes.Clone(body)}
	for i, name := range replayHeaders {
		if v := h[name]; len(v) > 0 {
			a.Header[i] = v[0]
		}
	}
	p := c.p
	now := p.cfg.Now().UnixNano()
	expires := now + int64(ReplayTTL)
	keep := keeps(status)
	if c.rkey != "" {
		if keep {
			p.putShared(c, &a, expires)
		} else {
			p.releaseShared(c)
		}
	}
	p.settle(c.r, a, keep, expires)
}

// settle ends r's claim with a: kept until expires, or dropped. Those
// waiting on r get a either way.
func (p *Replays) settle(r *replayRecord, a Answer, keep bool, expires int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-r.done:
		return // settled already
	default:
	}
	r.ans = a
	if keep && r.listed {
		// To the tail: the list stays in order of expiry, as finished
		// records all live ReplayTTL.
		p.unlink(r)
		r.finished, r.deadline = true, expires
		r.size = recordOverhead + len(a.Body)
		p.link(r, expires-int64(ReplayTTL))
	} else if r.listed {
		p.unlink(r)
	}
	close(r.done)
}

// link adds r at the tail, after dropping expired records from the head
// and evicting the oldest finished ones past the bounds. Under mu.
func (p *Replays) link(r *replayRecord, now int64) {
	for p.head != nil && p.head.deadline <= now {
		p.unlink(p.head) // expired, or a claim abandoned
	}
	p.records[r.key] = r
	r.listed = true
	r.prev, r.next = p.tail, nil
	if p.tail != nil {
		p.tail.next = r
	} else {
		p.head = r
	}
	p.tail = r
	p.bytes += r.size
	// Pending records are never evicted: their number is bounded by the
	// requests in flight, and evicting one would let a duplicate run.
	for e := p.head; e != nil && e != r && (len(p.records) > p.cfg.MaxEntries || p.bytes > p.cfg.MaxBytes); {
		next := e.next
		if e.finished {
			p.unlink(e)
			p.evicted.Add(1)
		}
		e = next
	}
}

// unlink removes r from the map and the list. Under mu.
func (p *Replays) unlink(r *replayRecord) {
	if !r.listed {
		return
	}
	r.listed = false
	if p.records[r.key] == r {
		delete(p.records, r.key)
	}
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		p.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else {
		p.tail = r.prev
	}
	r.prev, r.next = nil, nil
	p.bytes -= r.size
}

// recordKey is the record's name: SHA-256 over the SHA-256 of the API key
// and the Idempotency-Key.
func recordKey(apiKey, idemKey string) [32]byte {
	kh := sha256.Sum256([]byte(apiKey))
	s := sha256.New()
	s.Write([]byte("keyhold verify idempotency\x00"))
	s.Write(kh[:])
	s.Write([]byte(idemKey))
	var out [32]byte
	s.Sum(out[:0])
	return out
}

// fingerprint is an HMAC (fpKey) of what the request asks beside its key.
func (p *Replays) fingerprint(route Route, req *Request, params string) [32]byte {
	s := hmac.New(sha256.New, p.fpKey)
	var b [8]byte
	field := func(v string) {
		binary.BigEndian.PutUint32(b[:4], uint32(len(v)))
		s.Write(b[:4])
		s.Write([]byte(v))
	}
	field(route.String())
	field(strconv.FormatInt(req.Cost, 10))
	binary.BigEndian.PutUint32(b[:4], uint32(len(req.Scopes)))
	s.Write(b[:4])
	for _, sc := range req.Scopes {
		field(sc)
	}
	ip := ""
	if req.IP.IsValid() {
		ip = req.IP.String()
	}
	field(ip)
	field(params)
	var out [32]byte
	s.Sum(out[:0])
	return out
}
