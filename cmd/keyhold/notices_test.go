package main

// End-to-end tests of the notices (DESIGN.md "Events: outbound webhooks and
// notices"): a quota threshold crossed by many verifications at once is
// recorded once and mailed once, on one instance and across two sharing
// Redis.

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/testenv"
)

// noticePlans: a free plan whose quota of 100 a test crosses quickly, and
// a paid one to upgrade to.
func noticePlans(tb testing.TB) string {
	return writePlansFile(tb,
		plans.Plan{ID: "free", Name: "Free", Price: "$0", RatePerSecond: 10000, Burst: 10000, MonthlyQuota: 100, MaxKeys: 3},
		plans.Plan{ID: "pro", Name: "Pro", Price: "$29/mo", StripePriceID: "price_pro", RatePerSecond: 10000, Burst: 10000, MonthlyQuota: 100_000, MaxKeys: 10},
	)
}

// noticeDB opens the database of env, for counting rows.
func noticeDB(tb testing.TB, env map[string]string) *sql.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), env["KEYHOLD_DATABASE_URL"])
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db.SQL()
}

// count runs a COUNT(*) query (no parameters).
func count(tb testing.TB, db *sql.DB, query string) int {
	tb.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitCount waits until query counts want, failing after 20 s.
func waitCount(tb testing.TB, db *sql.DB, query string, want int) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := count(tb, db, query)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s = %d after 20 s, want %d", query, n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crossThresholds uses 70 of the key's 100, then sends 64 verifications
// at once spread over bases: they cross 80 and 100, and 34 are refused.
func crossThresholds(t *testing.T, key string, bases ...string) {
	t.Helper()
	for i := range 70 {
		if ans, err := tryVerify(bases[i%len(bases)], key); err != nil || ans.Code != "VALID" {
			t.Fatalf("call %d: %v %v", i, ans, err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	start := make(chan struct{})
	for i := range 64 {
		wg.Go(func() {
			<-start
			ans, err := tryVerify(bases[i%len(bases)], key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes["error"]++
				return
			}
			codes[ans.Code]++
		})
	}
	close(start)
	wg.Wait()
	if codes["VALID"] != 30 || codes["QUOTA_EXCEEDED"] != 34 {
		t.Fatalf("64 calls at 70 of 100: %v, want 30 VALID and 34 QUOTA_EXCEEDED", codes)
	}
}

// checkOnce checks that 80 and 100 were recorded once each for the key and
// mailed once each to owner, who got nothing else but the verification
// mail of the sign-up.
func checkOnce(t *testing.T, db *sql.DB, mp *testenv.Mailpit, owner, keyID string) {
	t.Helper()
	waitCount(t, db, "SELECT COUNT(*) FROM quota_notices WHERE subject = '"+keyID+"' AND percent = 80", 1)
	waitCount(t, db, "SELECT COUNT(*) FROM quota_notices WHERE subject = '"+keyID+"' AND percent = 100", 1)
	// The rows and their mail jobs commit together: the jobs are all
	// there. One sign-up verification mail and the two notices.
	if n := count(t, db, "SELECT COUNT(*) FROM river_job WHERE kind = 'mail'"); n != 3 {
		t.Errorf("%d mail jobs, want 3: the verification and one per threshold", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := mp.WaitMessagesTo(ctx, t, owner, 3)
	var subjects []string
	notices := 0
	for _, m := range got {
		subjects = append(subjects, m.Subject)
		if strings.Contains(m.Subject, "quota") {
			notices++
			msg := mp.Message(t, m.ID)
			if strings.Contains(msg.Text+msg.HTML, "kh_") {
				t.Errorf("notice mail %q holds something like a key: %s", m.Subject, msg.Text)
			}
			if !strings.Contains(msg.Text, "/keys/"+keyID) {
				t.Errorf("notice mail %q does not link to the key's page: %s", m.Subject, msg.Text)
			}
		}
	}
	if notices != 2 || len(got) != 3 {
		t.Errorf("mails to %s: %q, want the verification and two notices (80 %% and 100 %%)", owner, subjects)
	}
}

func TestNoticeThresholdsOnceOnOneInstance(t *testing.T) {
	t.Parallel()
	mp := testenv.SharedMailpit(t)
	a := MustRun(t, map[string]string{"KEYHOLD_SMTP_URL": mp.SMTPURL(), "KEYHOLD_PLANS_FILE": noticePlans(t)})
	const owner = "notice-one@example.com"
	c := a.Client(t)
	c.MustSignup(owner)
	key := c.MustCreateKey("busy", "")
	crossThresholds(t, key, a.URL)
	keyID := mustVerify(t, a, key).KeyID
	checkOnce(t, noticeDB(t, a.Env), mp, owner, keyID)
}

func TestNoticeThresholdsOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	mp := testenv.SharedMailpit(t)
	env := scaleEnv(t, testenv.Redis(t), noticePlans(t), map[string]string{"KEYHOLD_SMTP_URL": mp.SMTPURL()})
	a, b := startPair(t, env)
	const owner = "notice-two@example.com"
	c := a.Client(t)
	c.MustSignup(owner)
	key := c.MustCreateKey("busy", "")
	crossThresholds(t, key, a.URL, b.URL)
	keyID := mustVerify(t, b, key).KeyID
	checkOnce(t, noticeDB(t, a.Env), mp, owner, keyID)
}

// With quota mail turned off on /account, the thresholds are recorded (and
// shown) but not mailed.
func TestNoticePreferenceOffSendsNoMail(t *testing.T) {
	t.Parallel()
	mp := testenv.SharedMailpit(t)
	a := MustRun(t, map[string]string{"KEYHOLD_SMTP_URL": mp.SMTPURL(), "KEYHOLD_PLANS_FILE": noticePlans(t)})
	const owner = "notice-off@example.com"
	c := a.Client(t)
	c.MustSignup(owner)
	if p := c.Submit("/account", "/account/notices", url.Values{"expiry_mail": {"on"}}); p.StatusCode != 303 {
		t.Fatalf("saving notice emails: %s", p.Status)
	}
	if p := c.Get("/account"); p.Doc.Find(`[data-testid="notice-pref-quota"][checked]`).Length() != 0 ||
		p.Doc.Find(`[data-testid="notice-pref-expiry"][checked]`).Length() != 1 {
		t.Errorf("after turning quota mail off the boxes read quota %d, expiry %d; want unchecked, checked",
			p.Doc.Find(`[data-testid="notice-pref-quota"][checked]`).Length(), p.Doc.Find(`[data-testid="notice-pref-expiry"][checked]`).Length())
	}
	key := c.MustCreateKey("busy", "")
	crossThresholds(t, key, a.URL)
	db := noticeDB(t, a.Env)
	waitCount(t, db, "SELECT COUNT(*) FROM quota_notices", 2)
	if n := count(t, db, "SELECT COUNT(*) FROM river_job WHERE kind = 'mail'"); n != 1 {
		t.Errorf("%d mail jobs, want 1: the verification only", n)
	}
	if p := c.Get("/dashboard"); p.Doc.Find(`[data-testid="notice"]`).Length() != 1 {
		t.Errorf("the dashboard shows %d notices, want 1 (100 %%) although mail is off", p.Doc.Find(`[data-testid="notice"]`).Length())
	}
}
