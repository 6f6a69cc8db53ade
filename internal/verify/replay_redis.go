package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Records in Redis, under kh:idem:<hex record key> (one key: any Cluster
// slot). The value starts with its kind and the time it ends, in
// milliseconds of the instances' clocks, then '|':
//   - P<abandoned at>|<fingerprint><16 random bytes>: a request holds
//     the key; the random bytes make the marker its own, so that only its
//     holder releases it.
//   - D<expires at>|<sealed answer>: the answer, sealed under the instance
//     secret and bound to the record key (AEAD additional data), so that a
//     record copied under another key does not open.
//
// A record past its time is as good as absent, whatever Redis's own PX
// (which only collects it): the clock is the instances', as take.lua's.

// claimScript returns the live record of KEYS[1], or, when there is none,
// sets the pending marker ARGV[1] for ARGV[3] ms and returns nil. ARGV[2]:
// now, in ms.
var claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  local bar = string.find(v, '|', 2, true)
  local t = bar and tonumber(string.sub(v, 2, bar - 1))
  if t and tonumber(ARGV[2]) < t then return v end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return false
`)

// releaseScript deletes KEYS[1] while it is still the marker ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

func replayRedisKey(key [32]byte) string { return "kh:idem:" + hex.EncodeToString(key[:]) }

// claimShared claims r's record in Redis too, when there is one: the
// request then runs (a Claim), or another instance's record answers it.
// timeout ends the wait for another instance's answer.
func (p *Replays) claimShared(ctx context.Context, r *replayRecord, route Route, timeout <-chan time.Time) (*Claim, *Answer) {
	conn := p.cfg.Redis
	if conn == nil {
		return &Claim{p: p, r: r}, nil
	}
	rkey := replayRedisKey(r.key)
	if conn.partOfKey(rkey).down.Load() {
		return &Claim{p: p, r: r}, nil
	}
	ctx = context.WithoutCancel(ctx) // a caller gone must not look like Redis gone
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	wait := 5 * time.Millisecond
	for {
		now := p.cfg.Now()
		mark := "P" + strconv.FormatInt(now.Add(p.cfg.Abandon).UnixMilli(), 10) + "|" + string(r.fp[:]) + string(tok[:])
		v, err := claimScript.Run(ctx, conn.rdb, []string{rkey}, mark, now.UnixMilli(), p.cfg.Abandon.Milliseconds()).Text()
		switch {
		case errors.Is(err, redis.Nil):
			return &Claim{p: p, r: r, rkey: rkey, mark: mark}, nil
		case err != nil:
			p.sharedFailed(err, rkey)
			return &Claim{p: p, r: r}, nil
		}
		// Another request holds the record: poll it until it answers.
		for {
			kind, until, rest, ok := parseShared(v)
			if !ok || until <= p.cfg.Now().UnixMilli() {
				break // gone or abandoned: claim again
			}
			if kind == 'D' {
				return p.sharedAnswer(r, route, until, rest)
			}
			if len(rest) < len(r.fp) || !bytes.Equal(rest[:len(r.fp)], r.fp[:]) {
				p.settle(r, Answer{}, false, 0)
				return nil, mismatchAnswer
			}
			select {
			case <-timeout:
				p.settle(r, Answer{}, false, 0)
				return nil, runningAnswer
			case <-time.After(wait):
			}
			wait = min(2*wait, 50*time.Millisecond)
			v, err = conn.rdb.Get(ctx, rkey).Result()
			if errors.Is(err, redis.Nil) {
				break
			}
			if err != nil {
				// The other instance's answer cannot be awaited: say so
				// rather than run a second time.
				p.sharedFailed(err, rkey)
				p.settle(r, Answer{}, false, 0)
				return nil, runningAnswer
			}
		}
	}
}

// sharedAnswer is the reply of a record another request answered: its
// answer, kept here too for the rest of its time, or BAD_REQUEST when it
// answered other parameters.
func (p *Replays) sharedAnswer(r *replayRecord, route Route, until int64, sealed []byte) (*Claim, *Answer) {
	fp, a, err := p.open(r.key, sealed)
	if err != nil {
		// Sealed under another instance secret, or damaged: running
		// the request again could consume twice.
		p.log.Error("verify: idempotency record cannot be opened", "err", err)
		p.settle(r, Answer{}, false, 0)
		return nil, unreadAnswer
	}
	if fp != r.fp {
		p.settle(r, Answer{}, false, 0)
		return nil, mismatchAnswer
	}
	p.settle(r, a, true, time.UnixMilli(until).UnixNano())
	return nil, p.replay(route, &a)
}

// putShared keeps the claim's answer in Redis until expires.
func (p *Replays) putShared(c *Claim, a *Answer, expires int64) {
	sealed, err := p.seal(c.r.key, c.r.fp, a)
	if err != nil {
		p.log.Error("verify: idempotency seal", "err", err)
		p.releaseShared(c)
		return
	}
	v := append([]byte("D"+strconv.FormatInt(time.Unix(0, expires).UnixMilli(), 10)+"|"), sealed...)
	if err := p.cfg.Redis.rdb.Set(context.Background(), c.rkey, v, ReplayTTL).Err(); err != nil {
		// The marker lives on until Abandon: the other instances' retries
		// wait for it and then run again, which is what a lost answer
		// leaves; this instance replays from memory.
		p.sharedFailed(err, c.rkey)
	}
}

// releaseShared drops the claim's marker, so that a retry runs again.
func (p *Replays) releaseShared(c *Claim) {
	if err := releaseScript.Run(context.Background(), p.cfg.Redis.rdb, []string{c.rkey}, c.mark).Err(); err != nil {
		p.sharedFailed(err, c.rkey)
	}
}

// sharedFailed reports a Redis error about key: the outage of its part of
// Redis (shared with the limiter) starts, and its records are kept in
// this process until it ends.
func (p *Replays) sharedFailed(err error, key string) {
	p.cfg.Redis.wentDown(fmt.Errorf("idempotency: %w", err), key)
}

// parseShared splits a record's value into its kind, its time (ms) and
// the rest; ok is false for what is no record.
func parseShared(v string) (kind byte, until int64, rest []byte, ok bool) {
	if len(v) < 3 || (v[0] != 'P' && v[0] != 'D') {
		return 0, 0, nil, false
	}
	bar := bytes.IndexByte([]byte(v[1:]), '|')
	if bar < 0 {
		return 0, 0, nil, false
	}
	until, err := strconv.ParseInt(v[1:1+bar], 10, 64)
	if err != nil {
		return 0, 0, nil, false
	}
	return v[0], until, []byte(v[2+bar:]), true
}

// seal encrypts fingerprint, status, headers and body of an answer, bound
// to the record key.
func (p *Replays) seal(key, fp [32]byte, a *Answer) ([]byte, error) {
	pt := make([]byte, 0, len(fp)+2+len(a.Body)+64)
	pt = append(pt, fp[:]...)
	pt = binary.BigEndian.AppendUint16(pt, uint16(a.Status))
	for _, v := range a.Header {
		if len(v) > 255 {
			return nil, errors.New("verify: idempotency header value too long")
		}
		pt = append(pt, byte(len(v)))
		pt = append(pt, v...)
	}
	pt = append(pt, a.Body...)
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(pt)+p.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("verify: idempotency nonce: %w", err)
	}
	return p.aead.Seal(nonce, nonce, pt, key[:]), nil
}

// open is seal's inverse.
func (p *Replays) open(key [32]byte, sealed []byte) (fp [32]byte, a Answer, err error) {
	n := p.aead.NonceSize()
	if len(sealed) < n {
		return fp, a, errors.New("verify: idempotency record too short")
	}
	pt, err := p.aead.Open(nil, sealed[:n], sealed[n:], key[:])
	if err != nil {
		return fp, a, fmt.Errorf("verify: idempotency record: %w", err)
	}
	if len(pt) < len(fp)+2 {
		return fp, a, errors.New("verify: idempotency record too short")
	}
	copy(fp[:], pt)
	pt = pt[len(fp):]
	a.Status = int(binary.BigEndian.Uint16(pt))
	pt = pt[2:]
	for i := range a.Header {
		if len(pt) < 1 || len(pt) < 1+int(pt[0]) {
			return fp, a, errors.New("verify: idempotency record truncated")
		}
		a.Header[i] = string(pt[1 : 1+int(pt[0])])
		pt = pt[1+int(pt[0]):]
	}
	a.Body = pt
	return fp, a, nil
}
