package events

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// countingListener counts the connections a test server accepts, so a
// test can tell that the dial guard stopped a request before it connected.
type countingListener struct {
	net.Listener
	accepts atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepts.Add(1)
	}
	return c, err
}

type testServer struct {
	*httptest.Server
	ln       *countingListener
	requests atomic.Int32
}

// newServer starts h on addr ("127.0.0.1:0", "[::1]:0"), with TLS when
// tls is set, counting connections and requests.
func newServer(t *testing.T, addr string, tls bool, h http.HandlerFunc) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: &countingListener{Listener: l}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h(w, r)
	}))
	s.Listener.Close()
	s.Listener = s.ln
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) port() string {
	_, p, _ := net.SplitHostPort(s.ln.Addr().String())
	return p
}

// noDial is an afterGuard that fails the test and stops the dial: a test
// that expects the guard to refuse sends no traffic even when it does not.
func noDial(t *testing.T) func(network, address string) error {
	return func(network, address string) error {
		t.Errorf("the dial guard let %s %s through", network, address)
		return errors.New("test: dial stopped")
	}
}

func testKey(t *testing.T) (string, []byte) {
	t.Helper()
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return secret, key
}

type seen struct {
	method string
	header http.Header
	body   []byte
}

func TestSendHeadersAndSignature(t *testing.T) {
	got := make(chan seen, 1)
	srv := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	})
	_, key := testKey(t)
	ts := time.Now().Add(-2 * time.Second).Truncate(time.Second)
	body := []byte(`{"type":"key.created","timestamp":"2026-12-01T10:00:00Z","data":{"key_id":"key_1"}}`)
	r := NewSender(SenderConfig{AllowInsecure: true}).Send(context.Background(), srv.URL+"/hooks", key, Message{ID: "evt_123", Timestamp: ts, Body: body})
	if r.Err != nil || r.Status != http.StatusNoContent || !r.Delivered() || r.Gone() {
		t.Fatalf("result = %+v, want a delivered 204", r)
	}
	if r.Latency <= 0 {
		t.Errorf("latency %v", r.Latency)
	}
	s := <-got
	if s.method != http.MethodPost {
		t.Errorf("method %s", s.method)
	}
	if string(s.body) != string(body) {
		t.Errorf("body %q", s.body)
	}
	want := map[string]string{
		"webhook-id":        "evt_123",
		"webhook-timestamp": strconv.FormatInt(ts.Unix(), 10),
		"webhook-signature": Sign(key, "evt_123", ts, body),
		"Content-Type":      "application/json",
		"User-Agent":        "Keyhold-Webhooks/1",
	}
	for k, v := range want {
		if g := s.header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	if err := Verify(key, s.header, s.body, time.Now(), 0); err != nil {
		t.Errorf("the receiver's Verify: %v", err)
	}

	// A zero Timestamp signs the attempt's time; a UserAgent replaces the default.
	before := time.Now().Unix()
	r = NewSender(SenderConfig{AllowInsecure: true, UserAgent: "Test/2"}).Send(context.Background(), srv.URL, key, Message{ID: "evt_124", Body: body})
	if !r.Delivered() {
		t.Fatalf("result = %+v", r)
	}
	s = <-got
	if ua := s.header.Get("User-Agent"); ua != "Test/2" {
		t.Errorf("User-Agent %q", ua)
	}
	if n, _ := strconv.ParseInt(s.header.Get("webhook-timestamp"), 10, 64); n < before || n > time.Now().Unix() {
		t.Errorf("webhook-timestamp %d is not the attempt's time (from %d)", n, before)
	}
	if err := Verify(key, s.header, s.body, time.Now(), 0); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestSendStatuses(t *testing.T) {
	_, key := testKey(t)
	sender := NewSender(SenderConfig{AllowInsecure: true})
	for _, c := range []struct {
		status          int
		delivered, gone bool
	}{
		{200, true, false},
		{202, true, false},
		{299, true, false},
		{400, false, false},
		{404, false, false},
		{410, false, true},
		{429, false, false},
		{500, false, false},
		{503, false, false},
	} {
		t.Run(strconv.Itoa(c.status), func(t *testing.T) {
			srv := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				fmt.Fprintf(w, "answer %d", c.status)
			})
			r := sender.Send(context.Background(), srv.URL, key, Message{ID: "evt_1", Body: []byte("{}")})
			if r.Err != nil {
				t.Fatalf("Err = %v, want nil: an answer came", r.Err)
			}
			if r.Status != c.status || r.Delivered() != c.delivered || r.Gone() != c.gone {
				t.Fatalf("result %+v: Delivered %v Gone %v, want status %d Delivered %v Gone %v", r, r.Delivered(), r.Gone(), c.status, c.delivered, c.gone)
			}
			if want := fmt.Sprintf("answer %d", c.status); r.Response != want {
				t.Fatalf("Response %q, want %q", r.Response, want)
			}
		})
	}
}

func TestSendFollowsNoRedirect(t *testing.T) {
	_, key := testKey(t)
	target := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {})
	for _, status := range []int{301, 302, 307, 308} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			origin := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/elsewhere", status)
			})
			r := NewSender(SenderConfig{AllowInsecure: true}).Send(context.Background(), origin.URL, key, Message{ID: "evt_1", Body: []byte("{}")})
			if r.Status != status || r.Delivered() || r.Err != nil {
				t.Fatalf("result %+v, want status %d, not delivered, no error", r, status)
			}
			if origin.requests.Load() != 1 {
				t.Fatalf("origin got %d requests", origin.requests.Load())
			}
		})
	}
	if n := target.ln.accepts.Load(); n != 0 {
		t.Fatalf("the redirect's target got %d connections", n)
	}
}

func TestSendReadsAtMost1KiB(t *testing.T) {
	_, key := testKey(t)
	for _, c := range []struct {
		name, answer, want string
	}{
		{"10 KiB", strings.Repeat("x", 10<<10), strings.Repeat("x", 1024)},
		{"rune cut by the limit", strings.Repeat("a", 1023) + "é and more", strings.Repeat("a", 1023)},
		{"invalid bytes", "ok \xff\xfe end", "ok \uFFFD end"},
		{"empty", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, c.answer)
			})
			r := NewSender(SenderConfig{AllowInsecure: true}).Send(context.Background(), srv.URL, key, Message{ID: "evt_1", Body: []byte("{}")})
			if !r.Delivered() {
				t.Fatalf("result %+v", r)
			}
			if r.Response != c.want {
				t.Fatalf("Response (%d bytes) = %.60q…, want %d bytes %.60q…", len(r.Response), r.Response, len(c.want), c.want)
			}
			if !utf8.ValidString(r.Response) || len(r.Response) > 1024 {
				t.Fatalf("Response is %d bytes, valid UTF-8: %v", len(r.Response), utf8.ValidString(r.Response))
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"ab\xe2\x82", "ab"},                     // € cut after two of its three bytes
		{"ab\xe2\x82\xac", "ab€"},                // whole
		{strings.Repeat("\xff", 1024), "\uFFFD"}, // a run of invalid bytes is one U+FFFD
		{strings.Repeat("\xffa", 512), strings.Repeat("\uFFFDa", 256)}, // replacement grows: capped again
	} {
		if got := excerpt([]byte(c.in)); got != c.want {
			t.Errorf("excerpt(%.20q) = %.20q (%d bytes), want %.20q (%d bytes)", c.in, got, len(got), c.want, len(c.want))
		}
	}
}

func TestSendTimesOut(t *testing.T) {
	_, key := testKey(t)
	cancelled := make(chan struct{})
	srv := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		// The server notices a closed connection (and cancels the
		// request's context) only once the body has been read.
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	})
	const timeout = 300 * time.Millisecond
	r := NewSender(SenderConfig{AllowInsecure: true, Timeout: timeout}).Send(context.Background(), srv.URL, key, Message{ID: "evt_1", Body: []byte("{}")})
	if r.Status != 0 || r.Delivered() {
		t.Fatalf("result %+v, want no answer", r)
	}
	if !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want a timeout (context.DeadlineExceeded)", r.Err)
	}
	var ne net.Error
	if errors.As(r.Err, &ne) && !ne.Timeout() {
		t.Fatalf("Err %v is a net.Error that is not a timeout", r.Err)
	}
	if !strings.Contains(r.Err.Error(), "300ms") {
		t.Errorf("Err %q does not say how long it waited", r.Err)
	}
	if r.Latency < timeout || r.Latency > 5*time.Second {
		t.Errorf("latency %v, want about %v", r.Latency, timeout)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the receiver's request was not cancelled")
	}
}

func TestSendTimeoutCoversAStalledBody(t *testing.T) {
	_, key := testKey(t)
	srv := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "started ")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	start := time.Now()
	r := NewSender(SenderConfig{AllowInsecure: true, Timeout: 300 * time.Millisecond}).Send(context.Background(), srv.URL, key, Message{ID: "evt_1", Body: []byte("{}")})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Send took %v with a 300ms timeout", took)
	}
	// The answer came (its status), so it counts; the excerpt is what came.
	if r.Status != 200 || r.Err != nil || r.Response != "started " {
		t.Fatalf("result %+v", r)
	}
}

func TestSendLeaksNoSecret(t *testing.T) {
	secret, key := testKey(t)
	keyB64 := base64.StdEncoding.EncodeToString(key)
	// The receiver echoes everything it got.
	echo := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		r.Header.Write(w)
		io.Copy(w, r.Body)
	})
	slow := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	closed := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {})
	closedURL := closed.URL
	closed.Close()

	sender := NewSender(SenderConfig{AllowInsecure: true, Timeout: 300 * time.Millisecond})
	refusing := NewSender(SenderConfig{afterGuard: noDial(t)})
	m := Message{ID: "evt_1", Body: []byte(`{"data":{}}`)}
	results := map[string]Result{
		"echo":    sender.Send(context.Background(), echo.URL+"/?token=tok_PATHSECRET", key, m),
		"timeout": sender.Send(context.Background(), slow.URL+"/?token=tok_PATHSECRET", key, m),
		"closed":  sender.Send(context.Background(), closedURL+"/?token=tok_PATHSECRET", key, m),
		"refused": refusing.Send(context.Background(), echo.URL+"/?token=tok_PATHSECRET", key, m),
	}
	if !results["echo"].Delivered() || !strings.Contains(results["echo"].Response, "Webhook-Signature") {
		t.Fatalf("echo: %+v", results["echo"])
	}
	for name, r := range results {
		text := r.Response
		if r.Err != nil {
			text += r.Err.Error()
		} else if name != "echo" {
			t.Errorf("%s: no error: %+v", name, r)
		}
		for _, s := range []string{secret, strings.TrimPrefix(secret, "whsec_"), keyB64, "tok_PATHSECRET"} {
			if strings.Contains(text, s) {
				t.Errorf("%s: the result %q contains %q", name, text, s)
			}
		}
	}
	if !errors.Is(results["refused"].Err, ErrAddressRefused) {
		t.Errorf("refused: %v", results["refused"].Err)
	}
	if errors.Is(results["closed"].Err, ErrAddressRefused) || results["closed"].Status != 0 {
		t.Errorf("closed port: %+v, want a connection error that is not a refusal", results["closed"])
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	_, key := testKey(t)
	srv := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {})
	sender := NewSender(SenderConfig{AllowInsecure: true})
	hostPort := strings.TrimPrefix(srv.URL, "http://")
	for name, c := range map[string]struct {
		url string
		key []byte
	}{
		"no key":     {srv.URL, nil},
		"ftp":        {"ftp://" + hostPort + "/", key},
		"no scheme":  {hostPort, key},
		"unparsable": {"http://" + hostPort + "/%zz", key},
		"user info":  {"http://u:p@" + hostPort + "/", key},
	} {
		r := sender.Send(context.Background(), c.url, c.key, Message{ID: "evt_1", Body: []byte("{}")})
		if r.Err == nil || r.Status != 0 {
			t.Errorf("%s: %+v, want an error", name, r)
		}
		if strings.Contains(r.Err.Error(), "u:p") {
			t.Errorf("%s: error %q repeats the user info", name, r.Err)
		}
	}
	if n := srv.ln.accepts.Load(); n != 0 {
		t.Fatalf("the server got %d connections", n)
	}
}

func TestSenderUsesNoProxy(t *testing.T) {
	s := NewSender(SenderConfig{})
	for name, c := range map[string]*http.Client{"https": s.secure, "http": s.plain} {
		tr, ok := c.Transport.(*http.Transport)
		if !ok || tr.Proxy != nil {
			t.Errorf("%s transport %T uses a proxy function", name, c.Transport)
		}
		if c.CheckRedirect == nil {
			t.Errorf("%s client follows redirects", name)
		}
	}
}

// TestDialRefusesLoopbackWithoutInsecure: the URLs name loopback servers
// directly, so only the dial guard stands between them and the request.
func TestDialRefusesLoopbackWithoutInsecure(t *testing.T) {
	_, key := testKey(t)
	sender := NewSender(SenderConfig{afterGuard: noDial(t)})
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		for _, tls := range []bool{false, true} {
			srv := newServer(t, addr, tls, func(w http.ResponseWriter, r *http.Request) {})
			t.Run(srv.URL, func(t *testing.T) {
				r := sender.Send(context.Background(), srv.URL+"/hooks", key, Message{ID: "evt_1", Body: []byte("{}")})
				if !errors.Is(r.Err, ErrAddressRefused) || r.Status != 0 {
					t.Fatalf("result %+v, want ErrAddressRefused", r)
				}
				if !strings.Contains(r.Err.Error(), "loopback") {
					t.Errorf("Err %q does not say why", r.Err)
				}
				if n := srv.ln.accepts.Load(); n != 0 {
					t.Fatalf("the server got %d connections", n)
				}
			})
		}
	}
}

// TestDialRefusesResolvedPrivateAddresses: host names pass CheckURL, and
// the fake DNS answers with refused addresses, so only the dialer's Control
// on the resolved address can stop them. noDial makes sure no packet would
// leave even if the guard let one through.
func TestDialRefusesResolvedPrivateAddresses(t *testing.T) {
	_, key := testKey(t)
	records := map[string][]netip.Addr{
		"private.test":  {netip.MustParseAddr("10.0.0.1")},
		"metadata.test": {netip.MustParseAddr("169.254.169.254")},
		"home.test":     {netip.MustParseAddr("192.168.1.1")},
		"cgnat.test":    {netip.MustParseAddr("100.64.0.1")},
		"ula.test":      {netip.MustParseAddr("fd00::1")},
		"mapped.test":   {netip.MustParseAddr("::ffff:10.0.0.1")},
		"zero.test":     {netip.MustParseAddr("0.0.0.0")},
		"both.test":     {netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fe80::1")},
	}
	dns := newFakeDNS(t, records)
	for _, insecure := range []bool{false, true} {
		var mu sync.Mutex
		var dialled []string
		sender := NewSender(SenderConfig{AllowInsecure: insecure, Resolver: dns.Resolver(), afterGuard: func(network, address string) error {
			mu.Lock()
			dialled = append(dialled, address)
			mu.Unlock()
			return errors.New("test: dial stopped")
		}})
		for name := range records {
			for _, scheme := range []string{"https", "http"} {
				u := scheme + "://" + name + ":8443/hooks"
				t.Run(fmt.Sprintf("%s insecure=%v", u, insecure), func(t *testing.T) {
					if err := CheckURL("https://"+name+"/hooks", insecure); err != nil {
						t.Fatalf("CheckURL refused the name itself: %v", err)
					}
					asked := dns.Asked(name)
					r := sender.Send(context.Background(), u, key, Message{ID: "evt_1", Body: []byte("{}")})
					if !errors.Is(r.Err, ErrAddressRefused) || r.Status != 0 {
						t.Fatalf("result %+v, want ErrAddressRefused", r)
					}
					if dns.Asked(name) == asked {
						t.Fatal("the name was not looked up: the refusal did not come from the resolved address")
					}
				})
			}
		}
		if len(dialled) != 0 {
			t.Fatalf("insecure=%v: the guard let %v through", insecure, dialled)
		}
	}
}

func TestDialInsecureAllowsLoopbackOnly(t *testing.T) {
	_, key := testKey(t)
	srv := newServer(t, "127.0.0.1:0", false, func(w http.ResponseWriter, r *http.Request) {})
	dns := newFakeDNS(t, map[string][]netip.Addr{
		"hooks.test":  {netip.MustParseAddr("127.0.0.1")},
		"public.test": {netip.MustParseAddr("203.0.113.7")},
	})
	var dialled []string
	insecure := NewSender(SenderConfig{AllowInsecure: true, Resolver: dns.Resolver(), afterGuard: func(network, address string) error {
		dialled = append(dialled, address)
		if !strings.HasPrefix(address, "127.0.0.1:") {
			t.Errorf("dialled %s", address)
			return errors.New("test: dial stopped")
		}
		return nil
	}})
	m := Message{ID: "evt_1", Body: []byte("{}")}
	// Loopback by name, through the resolver and the guard.
	if r := insecure.Send(context.Background(), "http://hooks.test:"+srv.port()+"/", key, m); !r.Delivered() {
		t.Fatalf("hooks.test: %+v", r)
	}
	if len(dialled) != 1 || dialled[0] != "127.0.0.1:"+srv.port() {
		t.Fatalf("dialled %v", dialled)
	}
	// Plain http to a public address: refused even with insecure.
	r := insecure.Send(context.Background(), "http://public.test:"+srv.port()+"/", key, m)
	if !errors.Is(r.Err, ErrAddressRefused) || !strings.Contains(r.Err.Error(), "plain http") {
		t.Fatalf("public.test over http: %+v, want ErrAddressRefused", r)
	}
	if srv.requests.Load() != 1 {
		t.Fatalf("server got %d requests, want 1", srv.requests.Load())
	}
	// The same name without insecure: refused, no connection.
	before := srv.ln.accepts.Load()
	strict := NewSender(SenderConfig{Resolver: dns.Resolver(), afterGuard: noDial(t)})
	if r := strict.Send(context.Background(), "http://hooks.test:"+srv.port()+"/", key, m); !errors.Is(r.Err, ErrAddressRefused) {
		t.Fatalf("hooks.test without insecure: %+v", r)
	}
	if srv.ln.accepts.Load() != before {
		t.Fatal("the server got a connection without insecure")
	}
}

func TestGuardRule(t *testing.T) {
	for _, c := range []struct {
		rule    guardRule
		network string
		address string
		ok      bool
	}{
		{guardRule{}, "tcp", "203.0.113.7:443", true},
		{guardRule{}, "tcp6", "[2001:db8::1]:443", true},
		{guardRule{}, "tcp4", "127.0.0.1:443", false},
		{guardRule{}, "tcp6", "[::1]:443", false},
		{guardRule{allowLoopback: true}, "tcp4", "127.0.0.1:443", true},
		{guardRule{allowLoopback: true}, "tcp6", "[::1]:443", true},
		{guardRule{allowLoopback: true}, "tcp6", "[::ffff:127.0.0.1]:443", true},
		{guardRule{allowLoopback: true}, "tcp4", "10.0.0.1:443", false},
		{guardRule{allowLoopback: true}, "tcp4", "172.16.0.1:443", false},
		{guardRule{allowLoopback: true}, "tcp4", "192.168.1.1:443", false},
		{guardRule{allowLoopback: true}, "tcp4", "169.254.169.254:80", false},
		{guardRule{allowLoopback: true}, "tcp6", "[fe80::1%lo]:443", false},
		{guardRule{allowLoopback: true}, "tcp6", "[::ffff:192.168.1.1]:443", false},
		{guardRule{allowLoopback: true}, "tcp6", "[fc00::1]:443", false},
		{guardRule{allowLoopback: true}, "tcp4", "0.0.0.0:443", false},
		{guardRule{allowLoopback: true}, "tcp6", "[::]:443", false},
		{guardRule{allowLoopback: true}, "tcp4", "224.0.0.1:443", false},
		{guardRule{allowLoopback: true}, "tcp4", "100.100.100.100:443", false},
		{guardRule{loopbackOnly: true}, "tcp4", "127.0.0.1:80", false},
		{guardRule{loopbackOnly: true}, "tcp4", "203.0.113.7:80", false},
		{guardRule{allowLoopback: true, loopbackOnly: true}, "tcp4", "127.0.0.1:80", true},
		{guardRule{allowLoopback: true, loopbackOnly: true}, "tcp4", "203.0.113.7:80", false},
		{guardRule{allowLoopback: true}, "udp", "127.0.0.1:53", false},
		{guardRule{allowLoopback: true}, "tcp", "localhost:80", false},
	} {
		err := c.rule.check(c.network, c.address)
		if c.ok && err != nil {
			t.Errorf("%+v %s %s: %v, want allowed", c.rule, c.network, c.address, err)
		}
		if !c.ok && !errors.Is(err, ErrAddressRefused) {
			t.Errorf("%+v %s %s: %v, want ErrAddressRefused", c.rule, c.network, c.address, err)
		}
	}
}
