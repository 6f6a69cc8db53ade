// Throwaway preview of the operator console. Delete before committing.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/auth"
	"github.com/keyhold/keyhold/internal/billing"
	"github.com/keyhold/keyhold/internal/keys"
	"github.com/keyhold/keyhold/internal/plans"
	"github.com/keyhold/keyhold/internal/server"
	"github.com/keyhold/keyhold/internal/store"
	"github.com/keyhold/keyhold/internal/verify"
)

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

func main() {
	ctx := context.Background()
	os.RemoveAll("/tmp/preview")
	os.MkdirAll("/tmp/preview", 0o755)
	os.MkdirAll("/tmp/admin_shots", 0o755)
	db := must(store.Open(ctx, "sqlite:///tmp/preview/k.db"))
	if err := db.Migrate(ctx, nil); err != nil {
		log.Fatal(err)
	}
	secret := must(db.Secret(ctx))
	authSvc := must(auth.NewService(auth.Config{Store: db, Secret: secret}))
	cat := must(plans.New(plans.BuiltIn))
	keySvc := must(keys.NewService(keys.Config{Store: db, Plans: cat}))
	ver := must(verify.New(verify.Config{Loader: db, Plans: cat}))
	keySvc.Subscribe(func(e keys.Event) { ver.InvalidateKey(e.KeyID) })
	base, _ := url.Parse("http://127.0.0.1:8099")
	bill := must(billing.New(billing.Config{Store: db, Plans: cat, BaseURL: base, WebhookSecret: "whsec_x"}))
	bill.Subscribe(ver.InvalidateAccount)
	srv := must(server.New(server.Config{Auth: authSvc, Keys: keySvc, Plans: cat, Verifier: ver, Billing: bill,
		Logger: slog.New(slog.DiscardHandler), BaseURL: base, Secret: secret, Ready: db.Ping}))

	ops := must(authSvc.Signup(ctx, "ops@keyhold.dev", "correct horse battery", true))
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"Production backend", "Staging", "CI pipeline", "Mobile app", "Partner integration", "Data export job"}
	var accounts []*auth.Account
	var allKeys []*keys.Key
	for i := range 120 {
		a := must(authSvc.SignupFrom(ctx, fmt.Sprintf("dev%03d@%s", i, []string{"acme.io", "example.com", "globex.co", "initech.dev"}[i%4]), "correct horse battery", fmt.Sprintf("203.0.113.%d", i%250)))
		accounts = append(accounts, a)
		if i%7 == 0 {
			if err := bill.SetPlanManually(ctx, audit.Actor{AccountID: ops.ID, IP: "198.51.100.4"}, a.ID, "pro"); err != nil { log.Fatal(err) }
		}
		if i >= 110 {
			for j := range 1 + i%3 {
				k, _ := must2(keySvc.Create(ctx, audit.Actor{AccountID: a.ID, IP: "203.0.113.9"}, a.ID, keys.Settings{Name: names[(i+j)%len(names)], Scopes: []string{"read", "write"}}))
				allKeys = append(allKeys, k)
			}
		}
	}
	// Subscriptions through events.
	for i, a := range accounts[112:116] {
		start := time.Now().UTC().Add(-time.Duration(5+i) * 24 * time.Hour).Truncate(time.Second)
		end := start.AddDate(0, 1, 0)
		status := []string{"active", "past_due", "trialing", "canceled"}[i]
		ev := billing.EventRecord{ID: fmt.Sprintf("evt_1Q%dx9PreviewSub", i), Type: "customer.subscription.updated", Created: time.Now().Unix(), ReceivedAt: time.Now()}
		must(db.ApplyEvent(ctx, ev, func(tx billing.Tx) (string, string, error) {
			tx.LinkCustomer(a.ID, fmt.Sprintf("cus_Preview%d", i))
			plan := "pro"
			if status == "canceled" {
				plan = "free"
			}
			return billing.OutcomeApplied, "sub_" + status + ": " + status + " → plan " + plan, tx.SaveSubscription(&billing.Subscription{AccountID: a.ID, ID: fmt.Sprintf("sub_Preview%d", i),
				CustomerID: fmt.Sprintf("cus_Preview%d", i), PriceID: "price_keyhold_pro", Status: status, PeriodStart: &start, PeriodEnd: &end}, plan)
		}))
	}
	for i := range 3 {
		db.RecordFailedEvent(ctx, billing.EventRecord{ID: fmt.Sprintf("evt_1QFail%dPreview", i), Type: "invoice.paid", Created: time.Now().Unix(),
			Outcome: billing.OutcomeFailed, Detail: "billing: apply invoice.paid: store: save subscription: database is locked (5) (SQLITE_BUSY)",
			Payload: `{"id":"x"}`, ReceivedAt: time.Now().Add(-time.Duration(i) * time.Hour)})
	}
	for i := range 4 {
		ev := billing.EventRecord{ID: fmt.Sprintf("evt_1QIgn%dPreview", i), Type: "product.updated", Created: time.Now().Unix(), ReceivedAt: time.Now().Add(-time.Duration(3+i) * time.Hour)}
		db.ApplyEvent(ctx, ev, func(billing.Tx) (string, string, error) { return billing.OutcomeIgnored, "event type not handled", nil })
	}
	// Usage over 30 days.
	var usage []verify.Usage
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for ki, k := range allKeys {
		weight := int64(1 + (len(allKeys)-ki)*3)
		for d := range 30 {
			hour := now.Truncate(time.Hour).Add(-time.Duration(d*24+r.IntN(20)) * time.Hour)
			v := weight * int64(20+r.IntN(80)) / 4
			usage = append(usage, verify.Usage{KeyID: k.ID, AccountID: k.AccountID, Hour: hour, WindowStart: month,
				Valid: v, RateLimited: int64(r.IntN(int(v/20 + 1))), QuotaExceeded: int64(r.IntN(3)), Invalid: int64(r.IntN(5)), Cost: v, LastUsed: hour})
		}
	}
	if err := db.AddUsage(ctx, usage); err != nil {
		log.Fatal(err)
	}
	rate, quota := 50, int64(250000)
	if err := keySvc.SetOverrides(ctx, audit.Actor{AccountID: ops.ID, IP: "198.51.100.4"}, allKeys[0].ID, &rate, nil, &quota); err != nil { log.Fatal(err) }
	authSvc.Login(ctx, "dev111@globex.co", "nope nope nope", "192.0.2.77")
	keySvc.Revoke(ctx, audit.Actor{AccountID: allKeys[2].AccountID, IP: "203.0.113.9"}, allKeys[2].AccountID, allKeys[2].ID)

	ln := must(net.Listen("tcp", "127.0.0.1:8099"))
	go http.Serve(ln, srv)

	tok, _ := must2(authSvc.StartSession(ctx, ops.ID, "127.0.0.1", "preview"))
	pages := map[string]string{
		"overview": "/admin", "accounts": "/admin/accounts", "account": "/admin/accounts/" + allKeys[0].AccountID,
		"account_plain": "/admin/accounts/" + accounts[5].ID, "account_sub": "/admin/accounts/" + accounts[112].ID,
		"keys": "/admin/keys", "key": "/admin/keys/" + allKeys[0].ID, "events": "/admin/events", "audit": "/admin/audit",
		"accounts2": "/admin/accounts?plan=pro", "audit_filter": "/admin/audit?action=key.&from=2020-01-01",
	}
	actx, cancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath("/usr/bin/chromium"), chromedp.NoSandbox)...)
	defer cancel()
	bctx, cancel2 := chromedp.NewContext(actx)
	defer cancel2()
	httpOnly := true
	if err := chromedp.Do(bctx, chromedp.Navigate(base.String()+"/login")); err != nil {
		log.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, network.SetCookie, network.SetCookieParams{Name: "kh_session", Value: tok, URL: base.String() + "/", Path: "/", HTTPOnly: &httpOnly}); err != nil {
		log.Fatal(err)
	}
	only := os.Getenv("ONLY")
	for name, path := range pages {
		if only != "" && only != name {
			continue
		}
		for _, w := range []int64{1280, 375} {
			if err := chromedp.Do(bctx, chromedp.EmulateViewport(w, 900), chromedp.Navigate(base.String()+path)); err != nil {
				log.Fatal(err)
			}
			png, err := chromedp.Run(bctx, chromedp.FullScreenshot(90))
			if err != nil {
				log.Fatal(err)
			}
			os.WriteFile(fmt.Sprintf("/tmp/admin_shots/%s_%d.png", name, w), png, 0o644)
			{
				top, err := chromedp.Call(bctx, page.CaptureScreenshot, page.CaptureScreenshotParams{})
				if err != nil {
					log.Fatal(err)
				}
				os.WriteFile(fmt.Sprintf("/tmp/admin_shots/%s_%d_top.png", name, w), top.Data, 0o644)
			}
		}
	}
	if os.Getenv("SERVE") != "" {
		fmt.Println("serving on", base, "session", tok)
		select {}
	}
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		log.Fatal(err)
	}
	return a, b
}
