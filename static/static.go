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
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed css js favicon.svg
var files embed.FS

// hashLen is how many hex digits of a file's SHA-256 its version carries.
const hashLen = 12

// asset is one embedded file. Its content stays in the binary's read-only
// data and is read from there for each response, never copied to the heap:
// the API reference's renderer alone is 4 MB, which every instance would
// otherwise hold (and page in) from its start, served or not.
type asset struct {
	// version returns the first hashLen hex digits of the file's SHA-256,
	// read on the first call: a page that links to the file, or a request
	// for it. (sync.OnceValue: should the read panic, every call does, and
	// no file is ever served under an empty version.)
	version func() string
}

// assetSet is the embedded files by slash-separated name relative to
// /static/ ("css/app.css"), read from fsys.
type assetSet struct {
	fsys fs.FS
	m    map[string]*asset
}

// assets is the set served; the names are listed once at init, the
// contents not read.
var assets = mustList(files)

func mustList(fsys fs.FS) assetSet {
	set := assetSet{fsys: fsys, m: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		a := &asset{}
		a.version = sync.OnceValue(func() string {
			f, err := fsys.Open(name)
			if err != nil {
				panic("static: opening embedded " + name + ": " + err.Error())
			}
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err != nil {
				panic("static: reading embedded " + name + ": " + err.Error())
			}
			return hex.EncodeToString(h.Sum(nil))[:hashLen]
		})
		set.m[name] = a
		return nil
	})
	if err != nil {
		panic("static: listing embedded files: " + err.Error())
	}
	return set
}

// URL returns the versioned URL of the embedded file name (relative to
// /static/, e.g. "css/app.css"): "/static/css/app.css?v=<12 hex digits of
// its SHA-256>". An unknown name gets its plain, unversioned path, so a typo
// shows as a 404 in the browser instead of a panic.
func URL(name string) string {
	name = strings.TrimPrefix(name, "/")
	a, ok := assets.m[name]
	if !ok {
		return "/static/" + name
	}
	return "/static/" + name + "?v=" + a.version()
}

// Hash returns the version of the embedded file name, and whether it exists.
func Hash(name string) (string, bool) {
	a, ok := assets.m[strings.TrimPrefix(name, "/")]
	if !ok {
		return "", false
	}
	return a.version(), true
}

// Handler serves the embedded files. It expects the request path to be the
// name relative to /static/ (the caller strips the "/static/" prefix; a
// leading slash left over is ignored). A request whose v query parameter is
// the file's hash is answered with "Cache-Control: public, max-age=31536000,
// immutable"; any other with "no-cache" and an ETag, so the browser
// revalidates. Directories and unknown names answer 404; methods other than
// GET and HEAD answer 405.
func Handler() http.Handler {
	return http.HandlerFunc(assets.serve)
}

// modTime is reported for every file; embedded files have none, and the
// ETag does the revalidation.
var modTime = time.Time{}

func (set assetSet) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	a, ok := set.m[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := set.fsys.Open(name)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	// embed's files seek, so ServeContent answers ranges without a copy.
	content, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hash := a.version()
	h := w.Header()
	if r.URL.Query().Get("v") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	// Weak: the server may send the file gzip-compressed, and a strong
	// ETag promises the same bytes whatever the encoding.
	h.Set("ETag", `W/"`+hash+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, modTime, content)
}
