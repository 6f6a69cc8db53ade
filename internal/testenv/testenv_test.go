package testenv_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/keyhold/keyhold/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestPostgres(t *testing.T) {
	t.Parallel()
	dsn := testenv.Postgres(t)

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("Postgres returned %q, not a URL: %v", dsn, err)
	}
	if u.Scheme != "postgres" || u.Query().Get("sslmode") != "disable" {
		t.Errorf("Postgres returned %q, want postgres://…?sslmode=disable", dsn)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to %s: %v", dsn, err)
	}
	defer conn.Close(ctx)

	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v; want 1, nil", one, err)
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(u.Path, "/"); db != want {
		t.Errorf("current_database() = %q, want %q", db, want)
	}
	var tables int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("the new database has %d tables in public, want 0", tables)
	}
}

// TestPostgresIsolated checks that two tests get different databases, that a
// database goes when its test ends even with a connection left open, and that
// the server is started only once.
func TestPostgresIsolated(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var first string
	var leftOpen *pgx.Conn
	t.Run("first", func(t *testing.T) {
		first = testenv.Postgres(t)
		conn, err := pgx.Connect(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE marker (id int)"); err != nil {
			t.Fatal(err)
		}
		leftOpen = conn // the drop must end this connection
	})
	if t.Failed() {
		return
	}
	defer leftOpen.Close(ctx)

	second := testenv.Postgres(t)
	u1, _ := url.Parse(first)
	u2, _ := url.Parse(second)
	if u1.Host != u2.Host {
		t.Errorf("hosts differ (%s, %s): the server was started twice", u1.Host, u2.Host)
	}
	if u1.Path == u2.Path {
		t.Fatalf("both tests got database %s", u1.Path)
	}

	conn, err := pgx.Connect(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
		strings.TrimPrefix(u1.Path, "/")).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", u1.Path)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	raw := testenv.Redis(t)
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" {
		t.Fatalf("Redis returned %q, want a redis:// URL", raw)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)

	key := "testenv:" + t.Name()
	for _, c := range []struct{ send, want string }{
		{"PING\r\n", "+PONG"},
		{fmt.Sprintf("SET %s hello\r\n", key), "+OK"},
		{fmt.Sprintf("GET %s\r\n", key), "$5"},
	} {
		if _, err := io.WriteString(conn, c.send); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(line); got != c.want {
			t.Errorf("%q answered %q, want %q", strings.TrimSpace(c.send), got, c.want)
		}
	}
}

func TestStripeMock(t *testing.T) {
	t.Parallel()
	base := testenv.StripeMock(t)
	req, err := http.NewRequest(http.MethodGet, base+"/v1/customers", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk_test_123")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/customers = %s, want 200 OK; body: %s", resp.Status, body)
	}
	if !strings.Contains(string(body), `"object": "list"`) && !strings.Contains(string(body), `"object":"list"`) {
		t.Errorf("GET /v1/customers body is not a list: %s", body)
	}
}

func TestChromium(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			http.SetCookie(w, &http.Cookie{Name: "who", Value: "first"})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>testenv</title>`+
			`<h1 data-testid="greeting">Hello, Keyhold</h1>`)
	}))
	defer srv.Close()

	ctx := testenv.Chromium(t)
	if _, ok := ctx.Deadline(); !ok {
		t.Error("the Chromium context has no deadline")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/set")); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(`[data-testid="greeting"]`))
	if err != nil {
		t.Fatal(err)
	}
	if text != "Hello, Keyhold" {
		t.Errorf("greeting = %q, want %q", text, "Hello, Keyhold")
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.innerWidth"))
	if err != nil {
		t.Fatal(err)
	}
	if width != 1280 {
		t.Errorf("window.innerWidth = %d, want 1280", width)
	}

	// A second test's tab must not see the first one's cookies.
	t.Run("own cookies", func(t *testing.T) {
		ctx := testenv.Chromium(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
			t.Fatal(err)
		}
		cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.cookie"))
		if err != nil {
			t.Fatal(err)
		}
		if cookies != "" {
			t.Errorf("a new tab sees cookies %q of another test", cookies)
		}
	})
}
