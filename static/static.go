// Package static embeds Keyhold's front-end files: the CSS and JS built from
// web/ by `npm run build`, and the hand-made favicon. It serves them with
// content-hashed URLs so browsers may cache them for a year.
//
// Use URL for every link to an asset ("/static/css/app.css?v=3f2a9c…") and
// mount Handler under /static/ with that prefix stripped:
//
//	mux.Handle("/static/", http.StripPrefix("/static/", static.Handler()))
//
// or, with Echo:
//
//	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", static.Handler())))
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed css js favicon.svg
var files embed.FS

// hashLen is how many hex digits of a file's SHA-256 its version carries.
const hashLen = 12

// asset is one embedded file with its content hash.
type asset struct {
	content []byte
	hash    string // first hashLen hex digits of the SHA-256 of content
}

// assets maps a slash-separated name relative to /static/ ("css/app.css")
// to its file; built once at init.
var assets = mustLoad(files)

func mustLoad(fsys fs.FS) map[string]asset {
	m := map[string]asset{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[name] = asset{content: b, hash: hex.EncodeToString(sum[:])[:hashLen]}
		return nil
	})
	if err != nil {
		panic("static: reading embedded files: " + err.Error())
	}
	return m
}

// URL returns the versioned URL of the embedded file name (relative to
// /static/, e.g. "css/app.css"): "/static/css/app.css?v=<12 hex digits of
// its SHA-256>". An unknown name gets its plain, unversioned path, so a typo
// shows as a 404 in the browser instead of a panic.
func URL(name string) string {
	name = strings.TrimPrefix(name, "/")
	a, ok := assets[name]
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + a.hash
}

// Hash returns the version of the embedded file name, and whether it exists.
func Hash(name string) (string, bool) {
	a, ok := assets[strings.TrimPrefix(name, "/")]
	return a.hash, ok
}

// Handler serves the embedded files. It expects the request path to be the
// name relative to /static/ (the caller strips the "/static/" prefix; a
// leading slash left over is ignored). A request whose v query parameter is
// the file's hash is answered with "Cache-Control: public, max-age=31536000,
// immutable"; any other with "no-cache" and an ETag, so the browser
// revalidates. Directories and unknown names answer 404; methods other than
// GET and HEAD answer 405.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

// modTime is reported for every file; embedded files have none, and the
// ETag does the revalidation.
var modTime = time.Time{}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	a, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	// Weak: the server may send the file gzip-compressed, and a strong
	// ETag promises the same bytes whatever the encoding.
	h.Set("ETag", `W/"`+a.hash+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, modTime, bytes.NewReader(a.content))
}
