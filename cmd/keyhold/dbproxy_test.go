package main

import (
	"bytes"
	"errors"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/keyhold/keyhold/internal/testenv"
)

// tcpProxy stands between Keyhold and PostgreSQL on loopback, so a test can
// take the database away or slow it down with real packets on real
// connections, without a fake store: Keyhold's pool, pgx and its timeouts
// see what they would see in production.
type tcpProxy struct {
	Addr   string // host:port to dial instead of the target
	target string
	ln     net.Listener

	mu    sync.Mutex
	down  bool          // refuse connections: accepted and closed at once
	delay time.Duration // held before each chunk is passed on, both ways
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
	// cutAfter, when set, takes the proxy down right after it has passed
	// on a chunk from Keyhold that holds these bytes, on a connection that
	// has first passed on cutPrimed; cutDone is closed then.
	cutPrime []byte
	cutAfter []byte
	primed   map[net.Conn]bool
	cutDone  chan struct{}
}

// postgresBehindProxy returns a fresh PostgreSQL database's URL, the URL
// of the same database reached through a proxy, and the proxy.
func postgresBehindProxy(tb testing.TB) (direct string, viaProxy *url.URL, proxy *tcpProxy) {
	tb.Helper()
	direct = testenv.Postgres(tb)
	u, err := url.Parse(direct)
	if err != nil {
		tb.Fatal(err)
	}
	proxy = startProxy(tb, u.Host)
	viaProxy = u
	viaProxy.Host = proxy.Addr
	return direct, viaProxy, proxy
}

// startProxy listens on a free loopback port and forwards to target until
// the test ends.
func startProxy(tb testing.TB, target string) *tcpProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &tcpProxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// Down ends every proxied connection and refuses new ones, as a stopped
// PostgreSQL does: the next query on each pooled connection fails.
func (p *tcpProxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.cut()
}

// Slow holds every chunk of bytes for d before passing it on, on open and
// new connections: each round trip to the database takes at least 2×d.
func (p *tcpProxy) Slow(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// CutAfter arms the proxy to go down (as Down) right after it passes on
// to PostgreSQL a chunk that holds b, on a connection that earlier passed on
// a chunk holding prime, before any answer can come back: prime names the
// transaction to cut (another one committing at that moment is let
// through). The channel returned is closed when that has happened.
func (p *tcpProxy) CutAfter(prime, b []byte) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutPrime, p.cutAfter, p.primed, p.cutDone = prime, b, map[net.Conn]bool{}, make(chan struct{})
	return p.cutDone
}

// Up forwards again, at full speed.
func (p *tcpProxy) Up() {
	p.mu.Lock()
	p.down, p.delay = false, 0
	p.mu.Unlock()
}

func (p *tcpProxy) state() (down bool, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down, p.delay
}

// cut closes every proxied connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *tcpProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

// shouldCut reports whether chunk, just written to dst, is the one
// CutAfter waits for, and disarms it.
func (p *tcpProxy) shouldCut(dst net.Conn, chunk []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutAfter == nil || dst.RemoteAddr().String() != p.target {
		return false
	}
	if !p.primed[dst] {
		p.primed[dst] = bytes.Contains(chunk, p.cutPrime)
		return false
	}
	if !bytes.Contains(chunk, p.cutAfter) {
		return false
	}
	p.cutAfter, p.primed = nil, nil
	close(p.cutDone)
	return true
}

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		if down, _ := p.state(); down {
			client.Close()
			continue
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			client.Close()
			server.Close()
			continue
		}
		p.wg.Add(2)
		go p.pipe(server, client)
		go p.pipe(client, server)
	}
}

// pipe copies src to dst chunk by chunk, holding each for the delay of the
// moment, and closes both ends when either side ends or the proxy goes
// down.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			down, delay := p.state()
			if delay > 0 {
				time.Sleep(delay)
				down, _ = p.state()
			}
			if down {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if p.shouldCut(dst, buf[:n]) {
				p.Down()
				return
			}
		}
		if err != nil { // EOF, a reset, or the proxy cut it
			return
		}
	}
}
