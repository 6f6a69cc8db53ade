package testenv_test

import (
	"database/sql"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/keyhold/keyhold/internal/testenv"
)

// The examples below show tests of another package. They compile but do not
// run (they have no Output comment); testenv_test.go runs the same calls.

// Every package that uses testenv runs its tests through Main, from a
// _test.go file:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func ExampleMain() {
	var m *testing.M // as given to TestMain
	if m != nil {
		testenv.Main(m)
	}
}

func ExamplePostgres() {
	testStore := func(t *testing.T) {
		t.Parallel()
		db, err := sql.Open("pgx", testenv.Postgres(t)) // a new, empty database
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() }) // runs before the database is dropped
		// migrate, then test against db …
	}
	_ = testStore
}

func ExampleRedis() {
	testLimiter := func(t *testing.T) {
		url := testenv.Redis(t) // shared server: prefix every key with t.Name()
		os.Setenv("KEYHOLD_REDIS_URL", url)
	}
	_ = testLimiter
}

func ExampleStripeMock() {
	testCheckout := func(t *testing.T) {
		t.Setenv("STRIPE_API_BASE", testenv.StripeMock(t))
		t.Setenv("STRIPE_SECRET_KEY", "sk_test_123")
		// start the server and post to /billing/checkout …
	}
	_ = testCheckout
}

func ExampleChromium() {
	testDashboard := func(t *testing.T, baseURL string) {
		ctx := testenv.Chromium(t) // a fresh tab with its own cookies, 60 s deadline
		if err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/login")); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(`[role="alert"]`))
		if err != nil {
			t.Fatal(err)
		}
		_ = text
	}
	_ = testDashboard
}
