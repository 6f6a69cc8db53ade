package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/testenv"
)

// TestScaleOutExpireOldSecret: a rotation with grace on A, both
// instances caching the old secret; "expire it now" on A makes the old
// secret answer EXPIRED on B's very next call, through the same
// invalidation a rotation uses.
func TestScaleOutExpireOldSecret(t *testing.T) {
	t.Parallel()
	plansFile := writePlansFile(t, plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10_000, Burst: 10_000, MonthlyQuota: 1000, MaxKeys: 3})
	r := testenv.PrivateRedis(t)
	a, b := startPair(t, scaleEnv(t, r.URL(), plansFile, nil))

	c, old := newAccountWithKey(t, a, "expire@example.com")
	id := mustVerify(t, b, old).KeyID
	p := c.Submit("/keys/"+id, "/keys/"+id+"/rotate", url.Values{"grace": {"24h"}})
	current := strings.TrimSpace(p.Doc.Find(`[data-testid="new-key"]`).Text())
	if p.StatusCode != http.StatusOK || current == "" {
		t.Fatalf("rotating on A = %s; alert %q", p.Status, alert(p))
	}
	for _, x := range []*app{a, b} { // the old secret cached on both
		wantCode(t, "the old secret in its grace", mustVerify(t, x, old), http.StatusOK, "VALID")
	}
	p = c.Submit("/keys/"+id, "/keys/"+id+"/expire-old-secret", url.Values{})
	if p.StatusCode != http.StatusSeeOther {
		t.Fatalf("expire now on A = %s, want 303; alert %q", p.Status, alert(p))
	}
	wantCode(t, "B's next call with the old secret", mustVerify(t, b, old), http.StatusUnauthorized, "EXPIRED")
	wantCode(t, "A's next call with the old secret", mustVerify(t, a, old), http.StatusUnauthorized, "EXPIRED")
	wantCode(t, "B's next call with the current secret", mustVerify(t, b, current), http.StatusOK, "VALID")
}
