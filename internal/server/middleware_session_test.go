package server_test

import (
	"context"
	"database/sql"
	"net/http"
	"testing"
	"time"
)

// TestExpiredSessionRowSignsOut ends a session in the database only (its
// row's expiry moved into the past, as a shorter session policy or an
// operator would) while the browser's token is still valid for days: the
// middleware must treat the browser as signed out, send it to /login and
// clear the cookie. TestSessionExpiryIsCheckedTwice (internal/auth) checks
// the same on the service, with the token expired instead.
func TestExpiredSessionRowSignsOut(t *testing.T) {
	h := MustServer(t)
	b := h.Browser()
	b.MustSignup("ada@example.com")
	if p := b.Get("/dashboard"); p.StatusCode != http.StatusOK {
		t.Fatalf("before: %d", p.StatusCode)
	}
	// "sqlite" is the database/sql driver the store registers (glebarez/go-sqlite).
	db, err := sql.Open("sqlite", "file:"+h.DBPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.ExecContext(context.Background(), "UPDATE sessions SET expires_at = ?", time.Now().UTC().Add(-time.Minute))
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("expiring the session row: %d rows, %v", n, err)
	}
	p := b.Get("/dashboard")
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Fatalf("an expired session row: %d %q, want a redirect to /login", p.StatusCode, p.Header.Get("Location"))
	}
	if c := b.Cookie("kh_session"); c != nil {
		t.Errorf("the session cookie was not cleared: %q", c.Value)
	}
}
