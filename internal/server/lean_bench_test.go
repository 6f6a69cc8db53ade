package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// benchWriter is a ResponseWriter that keeps nothing between calls, so
// the benchmark counts the handler's allocations, not a recorder's.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(s int)   { w.status = s }
func (w *benchWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// BenchmarkHotVerify is POST /v1/verify of a cached key through
// Server.ServeHTTP without the network: the lean handler's own cost
// (dispatch, parse, verify, headers, answer) and allocations.
func BenchmarkHotVerify(b *testing.B) {
	h := MustServer(b, withMaxKeys(b, 10))
	bw := h.Browser()
	bw.MustSignup("ada@example.com")
	_, key := bw.MustCreateKey("bench", nil)
	body := []byte(keyBody(key, `,"cost":0`))
	rd := bytes.NewReader(body)
	req, _ := http.NewRequest(http.MethodPost, "/v1/verify", rd)
	req.Header.Set("Content-Type", "application/json")
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		req.ContentLength = int64(len(body))
		clear(w.h)
		h.Handler.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkHotVerifyHTTP is the same over loopback HTTP with keep-alive
// connections, client and server in this process: with -cpuprofile, the
// subtree under net/http.(*conn).serve is the server's share.
func BenchmarkHotVerifyHTTP(b *testing.B) {
	h := MustServer(b, withMaxKeys(b, 10))
	bw := h.Browser()
	bw.MustSignup("ada@example.com")
	_, key := bw.MustCreateKey("bench", nil)
	body := []byte(keyBody(key, `,"cost":0`))
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, h.URL+"/v1/verify", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
