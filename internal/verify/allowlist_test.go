package verify_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/verify"
)

// verifyFrom verifies key as a call from ip (the zero Addr: none given).
func verifyFrom(v *verify.Verifier, key string, ip netip.Addr, scopes ...string) verify.Result {
	var res verify.Result
	v.Verify(context.Background(), &verify.Request{Key: key, Cost: 1, Scopes: scopes, IP: ip}, &res)
	return res
}

// TestAllowlistCases: which client addresses a key's allow-list lets
// through. IPv4-mapped IPv6 is the IPv4 address; /0 is every address of
// its family and no other; /32 (a bare address) is that one address; a
// key without a list ignores ip.
func TestAllowlistCases(t *testing.T) {
	f := MustFixture(t)
	_, listed := f.MustKey(keys.Settings{IPAllowlist: []string{"1.2.3.0/24", "2001:db8::/32", "198.51.100.7"}})
	_, any4 := f.MustKey(keys.Settings{IPAllowlist: []string{"0.0.0.0/0"}})
	_, any6 := f.MustKey(keys.Settings{IPAllowlist: []string{"::/0"}})
	_, mapped := f.MustKey(keys.Settings{IPAllowlist: []string{"::ffff:1.2.3.0/120"}})
	_, open := f.MustKey(keys.Settings{})
	_, cleared := f.MustKey(keys.Settings{IPAllowlist: []string{}})
	ip := netip.MustParseAddr
	none := netip.Addr{}
	tests := []struct {
		name string
		key  string
		ip   netip.Addr
		want verify.Code
	}{
		{"listed IPv4", listed, ip("1.2.3.4"), verify.Valid},
		{"listed IPv4, first of the range", listed, ip("1.2.3.0"), verify.Valid},
		{"listed IPv4, last of the range", listed, ip("1.2.3.255"), verify.Valid},
		{"listed IPv6", listed, ip("2001:db8:ffff::1"), verify.Valid},
		{"unlisted IPv4", listed, ip("1.2.4.1"), verify.Forbidden},
		{"unlisted IPv6", listed, ip("2001:db9::1"), verify.Forbidden},
		{"missing ip", listed, none, verify.Forbidden},
		{"IPv4-mapped IPv6 of a listed IPv4", listed, ip("::ffff:1.2.3.4"), verify.Valid},
		{"IPv4-mapped IPv6 of an unlisted IPv4", listed, ip("::ffff:1.2.4.4"), verify.Forbidden},
		{"/32 exact", listed, ip("198.51.100.7"), verify.Valid},
		{"/32, the next address", listed, ip("198.51.100.8"), verify.Forbidden},
		{"/32, the one before", listed, ip("198.51.100.6"), verify.Forbidden},
		{"IPv4 /0, any IPv4", any4, ip("8.8.8.8"), verify.Valid},
		{"IPv4 /0, an IPv4-mapped one", any4, ip("::ffff:8.8.8.8"), verify.Valid},
		{"IPv4 /0, not IPv6", any4, ip("2001:db8::1"), verify.Forbidden},
		{"IPv4 /0, missing ip", any4, none, verify.Forbidden},
		{"IPv6 /0, any IPv6", any6, ip("2001:db8::1"), verify.Valid},
		{"IPv6 /0, not IPv4", any6, ip("8.8.8.8"), verify.Forbidden},
		{"a mapped prefix is stored as IPv4", mapped, ip("1.2.3.9"), verify.Valid},
		{"no list, any IPv4", open, ip("8.8.8.8"), verify.Valid},
		{"no list, any IPv6", open, ip("2001:db8::1"), verify.Valid},
		{"no list, missing ip", open, none, verify.Valid},
		{"an emptied list is none", cleared, ip("8.8.8.8"), verify.Valid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verifyFrom(f.v, tt.key, tt.ip).Code; got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	res := verifyFrom(f.v, listed, ip("9.9.9.9"))
	if res.Code.HTTPStatus() != 403 || res.Code.String() != "FORBIDDEN" || res.Code.Message() == "" {
		t.Errorf("FORBIDDEN answers %d %s %q", res.Code.HTTPStatus(), res.Code, res.Code.Message())
	}
}

// TestForbiddenConsumesNothing: a refused address takes nothing from the
// rate limit or the quota, still answers the key's limits (RateLimit-*),
// and is counted in usage as a refusal (invalid), not as a verification.
func TestForbiddenConsumesNothing(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	f.setPlan("slow") // 10 a second: a take shows in the remaining rate
	k, key := f.MustKey(keys.Settings{IPAllowlist: []string{"203.0.113.0/24"}})
	in, out := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("192.0.2.1")
	first := verifyFrom(f.v, key, in)
	if first.Code != verify.Valid {
		t.Fatalf("listed: %s", first.Code)
	}
	used, _, _ := f.v.QuotaUsed(k.ID, f.now)
	for range 20 { // twice the burst: any take would end in RATE_LIMITED
		res := verifyFrom(f.v, key, out)
		if res.Code != verify.Forbidden {
			t.Fatalf("unlisted: %s", res.Code)
		}
		if res.Entry == nil || res.Decision.RateLimit != 10 {
			t.Fatalf("a FORBIDDEN answer lacks the key's limits: %+v", res.Decision)
		}
		if res.Decision.RateRemaining != first.Decision.RateRemaining || res.Decision.QuotaRemaining() != first.Decision.QuotaRemaining() {
			t.Fatalf("FORBIDDEN moved the limits: rate %d → %d, quota %d → %d", first.Decision.RateRemaining, res.Decision.RateRemaining,
				first.Decision.QuotaRemaining(), res.Decision.QuotaRemaining())
		}
	}
	if now, _, _ := f.v.QuotaUsed(k.ID, f.now); now != used {
		t.Errorf("quota used went from %d to %d", used, now)
	}
	if res := verifyFrom(f.v, key, in); res.Code != verify.Valid || res.Decision.QuotaRemaining() != first.Decision.QuotaRemaining()-1 {
		t.Errorf("listed again: %s, quota remaining %d, want VALID and one less than after the first", res.Code, res.Decision.QuotaRemaining())
	}
	if err := f.v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := f.db.KeyUsageHourly(ctx, k.ID, f.now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var total keys.UsageCounts
	for _, r := range rows {
		total.Add(r.UsageCounts)
	}
	if total.Valid != 2 || total.Invalid != 20 || total.Cost != 2 || total.RateLimited != 0 {
		t.Errorf("usage = %+v, want 2 valid (cost 2) and 20 invalid", total)
	}
}

// TestAllowlistCheckOrder: the key's own end and its account's suspension
// come first; an unlisted address is refused before the scopes are
// looked at, so it learns nothing of them.
func TestAllowlistCheckOrder(t *testing.T) {
	f := MustFixture(t)
	ctx := context.Background()
	out := netip.MustParseAddr("192.0.2.1")
	_, key := f.MustKey(keys.Settings{Scopes: []string{"read"}, IPAllowlist: []string{"203.0.113.0/24"}})
	gone, revoked := f.MustKey(keys.Settings{IPAllowlist: []string{"203.0.113.0/24"}})
	if err := f.keys.Revoke(ctx, f.owner(), f.account, gone.ID); err != nil {
		t.Fatal(err)
	}
	if c := verifyFrom(f.v, key, out, "admin").Code; c != verify.Forbidden {
		t.Errorf("unlisted, lacking a scope: %s, want FORBIDDEN", c)
	}
	if c := verifyFrom(f.v, key, netip.MustParseAddr("203.0.113.1"), "admin").Code; c != verify.InsufficientScope {
		t.Errorf("listed, lacking a scope: %s", c)
	}
	if c := verifyFrom(f.v, revoked, out).Code; c != verify.Revoked {
		t.Errorf("revoked, unlisted: %s, want REVOKED", c)
	}
	f.suspend(true)
	if c := verifyFrom(f.v, key, out).Code; c != verify.Disabled {
		t.Errorf("suspended, unlisted: %s, want DISABLED", c)
	}
}

// TestAllowlistEditReachesEveryInstance: an edit of the list made on A
// takes effect on B's next verification, through each transport of
// changes, both ways: narrowing refuses, clearing lets any address in.
func TestAllowlistEditReachesEveryInstance(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			f, p := tr.start(t)
			ctx := context.Background()
			a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("198.51.100.1")
			var k *keys.Key
			var key string
			if tr.name != "PostgresNotify" {
				// B's filter of known secrets hears of A's key through
				// the subscription, which starts in the background.
				waitFor(t, "B to know A's new key", func() bool {
					k, key = f.MustKey(keys.Settings{IPAllowlist: []string{"203.0.113.0/24", "198.51.100.0/24"}})
					return verifyFrom(p.b, key, a).Code == verify.Valid
				})
			} else {
				k, key = f.MustKey(keys.Settings{IPAllowlist: []string{"203.0.113.0/24", "198.51.100.0/24"}})
			}
			// B listens in the background: an announcement before it does
			// is lost (NOTIFY). Wait until one reaches it.
			waitFor(t, "B to cache the key", func() bool {
				verifyFrom(p.b, key, a)
				return p.b.HoldsKey(k.ID)
			})
			waitFor(t, "B to hear A's announcements", func() bool {
				p.ba.KeyChanged(ctx, k.AccountID, k.ID)
				return !p.b.HoldsKey(k.ID)
			})
			for _, v := range []*verify.Verifier{p.a, p.b} {
				if c := verifyFrom(v, key, b).Code; c != verify.Valid {
					t.Fatalf("before the edit: %s", c)
				}
			}
			edit := func(allow []string) {
				t.Helper()
				if _, err := f.keys.Update(ctx, f.owner(), f.account, k.ID, keys.Settings{Name: k.Name, IPAllowlist: allow}); err != nil {
					t.Fatal(err)
				}
			}
			expect := func(what string, ip netip.Addr, want verify.Code) {
				t.Helper()
				if tr.atOnce {
					if c := verifyFrom(p.b, key, ip).Code; c != want {
						t.Errorf("B's next call %s: %s, want %s", what, c, want)
					}
				} else {
					waitFor(t, "B to answer "+want.String()+" "+what, func() bool { return verifyFrom(p.b, key, ip).Code == want })
				}
				if c := verifyFrom(p.a, key, ip).Code; c != want {
					t.Errorf("A's next call %s: %s, want %s", what, c, want)
				}
			}
			edit([]string{"203.0.113.0/24"})
			expect("after narrowing", b, verify.Forbidden)
			expect("after narrowing, still listed", a, verify.Valid)
			edit([]string{})
			expect("after clearing", netip.MustParseAddr("192.0.2.1"), verify.Valid)
		})
	}
}
