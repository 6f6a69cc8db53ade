package static

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// wantFiles are the files the layout links to; the build must produce them.
var wantFiles = []string{"css/app.css", "js/app.js", "favicon.svg"}

func TestURLVersionsEmbeddedFiles(t *testing.T) {
	for _, name := range wantFiles {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			want := "/static/" + name + "?v=" + hex.EncodeToString(sum[:])[:12]
			if got := URL(name); got != want {
				t.Errorf("URL(%q) = %q, want %q", name, got, want)
			}
			if got := URL("/" + name); got != want {
				t.Errorf("URL(%q) = %q, want %q", "/"+name, got, want)
			}
		})
	}
}

func TestURLUnknownNameIsPlainPath(t *testing.T) {
	if got, want := URL("css/missing.css"), "/static/css/missing.css"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if _, ok := Hash("css/missing.css"); ok {
		t.Error("Hash reports a missing file as present")
	}
}

func TestHandler(t *testing.T) {
	h := http.StripPrefix("/static/", Handler())
	cssHash, _ := Hash("css/app.css")

	tests := []struct {
		name        string
		method      string
		target      string
		status      int
		cache       string
		contentType string
	}{
		{"versioned is immutable", "GET", URL("css/app.css"), 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8"},
		{"unversioned revalidates", "GET", "/static/css/app.css", 200, "no-cache", "text/css; charset=utf-8"},
		{"stale version revalidates", "GET", "/static/css/app.css?v=000000000000", 200, "no-cache", "text/css; charset=utf-8"},
		{"version of another file revalidates", "GET", "/static/js/app.js?v=" + cssHash, 200, "no-cache", "text/javascript; charset=utf-8"},
		{"javascript", "GET", URL("js/app.js"), 200, "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"favicon", "GET", "/static/favicon.svg", 200, "no-cache", "image/svg+xml"},
		{"head", "HEAD", URL("css/app.css"), 200, "public, max-age=31536000, immutable", "text/css; charset=utf-8"},
		{"unknown file", "GET", "/static/css/nope.css", 404, "", ""},
		{"directory", "GET", "/static/css/", 404, "", ""},
		{"root", "GET", "/static/", 404, "", ""},
		{"dot-dot stays inside", "GET", "/static/css/../../static.go", 404, "", ""},
		{"post refused", "POST", URL("css/app.css"), 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cache)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.contentType) {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if rec.Header().Get("ETag") == "" {
				t.Error("no ETag")
			}
		})
	}
}

func TestHandlerServesContentAndRevalidates(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/static/", Handler()))
	defer srv.Close()

	want, err := os.ReadFile("js/app.js")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + URL("js/app.js"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != string(want) {
		t.Error("served js/app.js differs from the file")
	}

	req, _ := http.NewRequest("GET", srv.URL+"/static/js/app.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET status = %d, want 304", resp.StatusCode)
	}
}

func TestHashesAreTwelveHexDigits(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{12}$`)
	for name, a := range assets.m {
		if h := a.version(); !re.MatchString(h) {
			t.Errorf("%s: hash %q", name, h)
		}
	}
	for _, name := range wantFiles {
		if _, ok := assets.m[name]; !ok {
			t.Errorf("%s is not embedded", name)
		}
	}
}

// openLog is an fs.FS that records the files (not directories) opened.
type openLog struct {
	fs.FS
	mu     sync.Mutex
	opened map[string]bool
}

func (l *openLog) Open(name string) (fs.File, error) {
	f, err := l.FS.Open(name)
	if err == nil {
		if fi, err := f.Stat(); err == nil && !fi.IsDir() {
			l.mu.Lock()
			l.opened[name] = true
			l.mu.Unlock()
		}
	}
	return f, err
}

// TestAssetsAreReadOnlyWhenUsed checks that the embedded files are not read
// (so neither copied nor paged in) before a page links to one or a request
// asks for one: serving one file reads that one, from the binary, and no
// other.
func TestAssetsAreReadOnlyWhenUsed(t *testing.T) {
	const name = "js/scalar-api-reference.js"
	log := &openLog{FS: files, opened: map[string]bool{}}
	set := mustList(log)
	if len(log.opened) != 0 {
		t.Fatalf("listing the files read %v", log.opened)
	}
	if set.m[name] == nil {
		t.Fatalf("%s is not embedded", name)
	}
	rec := httptest.NewRecorder()
	http.StripPrefix("/static/", http.HandlerFunc(set.serve)).ServeHTTP(rec, httptest.NewRequest("GET", "/static/"+name, nil))
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
		t.Fatalf("GET %s: status %d, %d bytes, want 200 and the file's %d", name, rec.Code, rec.Body.Len(), len(want))
	}
	sum := sha256.Sum256(want)
	if got, want := rec.Header().Get("ETag"), `W/"`+hex.EncodeToString(sum[:])[:12]+`"`; got != want {
		t.Errorf("ETag = %q, want %q", got, want)
	}
	if len(log.opened) != 1 || !log.opened[name] {
		t.Errorf("after serving %s, files read: %v", name, log.opened)
	}
}
