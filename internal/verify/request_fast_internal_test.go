package verify

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeFast pins what the fast path reads itself and what it leaves
// to encoding/json: every body encoding/json reads by a rule of its own
// (case folding, the last duplicate, null, escapes, UTF-8 repair, unknown
// members, numbers that are not plain integers) is declined.
func TestDecodeFast(t *testing.T) {
	accept := []struct {
		body string
		want fields
	}{
		{`{}`, fields{}},
		{`{"key":"k"}`, fields{key: "k", hasKey: true}},
		{`{"key":""}`, fields{hasKey: true}},
		{`{"key":"kh_live_ABC","cost":0}`, fields{key: "kh_live_ABC", hasKey: true, hasCost: true}},
		{`{"cost":-0,"key":"k"}`, fields{key: "k", hasKey: true, hasCost: true}},
		{`{"cost":-7}`, fields{cost: -7, hasCost: true}},
		{`{"cost":999999999999999999}`, fields{cost: 999999999999999999, hasCost: true}},
		{`{"scopes":[]}`, fields{scopes: []string{}}},
		{`{"key":"k","cost":5,"scopes":["read","write"],"ip":"203.0.113.7"}`,
			fields{key: "k", hasKey: true, cost: 5, hasCost: true, scopes: []string{"read", "write"}, ip: "203.0.113.7"}},
		{" \t\r\n{ \"ip\" : \"::1\" ,\n\"scopes\" : [ \"a\" , \"b\" ] , \"cost\" : 10 , \"key\" : \"k\" } \r\n",
			fields{key: "k", hasKey: true, cost: 10, hasCost: true, scopes: []string{"a", "b"}, ip: "::1"}},
		{"{\"key\":\"a b/c~\x7f\"}", fields{key: "a b/c~\x7f", hasKey: true}},
		{`{"key":"k","scopes":["` + strings.Repeat(`a","`, MaxReqScopes-1) + `a"]}`,
			fields{key: "k", hasKey: true, scopes: strings.Split(strings.Repeat("a", MaxReqScopes), "")}},
	}
	for _, tt := range accept {
		var f fields
		scratch := []string{"stale"}
		if !decodeFast([]byte(tt.body), &scratch, &f) {
			t.Errorf("%q declined", tt.body)
			continue
		}
		if !reflect.DeepEqual(f, tt.want) {
			t.Errorf("%q: read %#v, want %#v", tt.body, f, tt.want)
		}
		var slow fields
		if !decodeJSON([]byte(tt.body), &slow) || !reflect.DeepEqual(f, slow) {
			t.Errorf("%q: encoding/json reads %#v", tt.body, slow)
		}
	}
	decline := []string{
		``, ` `, `null`, `[]`, `"k"`, `{`, `{"key":"k"`, `{"key":"k",}`, `{,}`, `{"key":"k"}{}`, `{"key":"k"} x`,
		"{\"key\":\"k\"}\v", "\v{}", `{"key":null}`, `{"cost":null}`, `{"scopes":null}`, `{"ip":null}`,
		`{"Key":"k"}`, `{"KEY":"k"}`, `{"Cost":1}`, `{"Scopes":[]}`, `{"IP":"::1"}`, "{\"\u212aey\":\"k\"}", `{"ſcopes":[]}`,
		`{"key":"k","key":"k"}`, `{"cost":1,"cost":1}`, `{"scopes":[],"scopes":[]}`, `{"ip":"","ip":""}`,
		`{"key":"k","other":"x"}`, `{"\u006bey":"k"}`, `{"key":"a\"b"}`, `{"key":"a\u0062"}`, `{"key":"\/"}`,
		"{\"key\":\"a\tb\"}", "{\"key\":\"\x00\"}", "{\"key\":\"\xff\"}", `{"key":"é"}`, `{"key":"а"}`,
		`{"key":1}`, `{"key":["k"]}`, `{"key":{"$ne":""}}`, `{"key":true}`,
		`{"cost":"1"}`, `{"cost":1.0}`, `{"cost":1e3}`, `{"cost":1E3}`, `{"cost":01}`, `{"cost":-}`, `{"cost":+1}`,
		`{"cost":1000000000000000000}`, `{"cost":[1]}`,
		`{"scopes":"a"}`, `{"scopes":[1]}`, `{"scopes":[null]}`, `{"scopes":[["a"]]}`, `{"scopes":["a",]}`, `{"scopes":[,"a"]}`,
		`{"scopes":["a" "b"]}`, `{"scopes":["a"`, `{"scopes":["` + strings.Repeat(`a","`, MaxReqScopes) + `a"]}`,
		`{"ip":7}`, `{"key" "k"}`, `{"key":"k" "cost":1}`, `{key:"k"}`, `{'key':'k'}`,
	}
	for _, body := range decline {
		var f fields
		if decodeFast([]byte(body), nil, &f) {
			t.Errorf("%q read as %#v, want declined", body, f)
		}
	}
}

// TestDecodeFastScopeBuffer: the scope list is built in the caller's
// buffer, reused from call to call, and the strings are the Request's own
// (a body buffer overwritten after the call does not change them).
func TestDecodeFastScopeBuffer(t *testing.T) {
	buf := make([]string, 0, MaxReqScopes)
	body := []byte(`{"key":"kh_live_k","scopes":["read","write"],"ip":"::1"}`)
	var req Request
	if status, msg := parseRequest(body, "application/json", "", "", &buf, &req); status != 0 {
		t.Fatalf("refused: %d %s", status, msg)
	}
	if len(req.Scopes) != 2 || &req.Scopes[:1][0] != &buf[:1][0] {
		t.Fatalf("scopes %q not built in the caller's buffer", req.Scopes)
	}
	copy(body, bytes.Repeat([]byte("x"), len(body)))
	if req.Key != "kh_live_k" || req.Scopes[0] != "read" || req.Scopes[1] != "write" || req.IP.String() != "::1" {
		t.Fatalf("the request changed with the body buffer: %+v", req)
	}
}

// TestReadRequestFastAllocs: a gateway's body costs one allocation (the
// strings the Request keeps) once the buffers are warm; encoding/json's
// path, which the fast path replaced, cost several.
func TestReadRequestFastAllocs(t *testing.T) {
	for _, tt := range []struct {
		body string
		max  float64
	}{
		{`{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo","cost":1}`, 1},
		{`{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo","cost":1,"scopes":["read","write"],"ip":"203.0.113.7"}`, 1},
		{`{}`, 0},
	} {
		body := []byte(tt.body)
		r := httptest.NewRequest(http.MethodPost, "/v1/verify", nil)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Api-Key", "kh_live_from_header")
		rd := bytes.NewReader(body)
		r.Body = readCloser{rd}
		var buf []byte
		var scopes []string
		allocs := testing.AllocsPerRun(100, func() {
			rd.Reset(body)
			r.ContentLength = int64(len(body))
			req := Request{Cost: 1}
			if status, msg := ReadRequest(r, &buf, &scopes, &req); status != 0 {
				t.Fatalf("%s: %d %s", tt.body, status, msg)
			}
		})
		if allocs > tt.max {
			t.Errorf("%s: %.0f allocations, want at most %.0f", tt.body, allocs, tt.max)
		}
	}
}

// readCloser is a body that allocates nothing per request.
type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkParseRequest compares the fast path with encoding/json's on
// the bodies gateways send (parseRequest after the body is read, buffers
// warm): time and allocations per request.
func BenchmarkParseRequest(b *testing.B) {
	bodies := []struct{ name, body string }{
		{"key+cost", `{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo","cost":1}`},
		{"all", `{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo","cost":1,"scopes":["read","write"],"ip":"203.0.113.7"}`},
	}
	for _, bb := range bodies {
		body := []byte(bb.body)
		b.Run("fast/"+bb.name, func(b *testing.B) {
			scopes := make([]string, 0, MaxReqScopes)
			b.ReportAllocs()
			for b.Loop() {
				req := Request{Cost: 1}
				if status, _ := parseRequest(body, "application/json", "", "", &scopes, &req); status != 0 {
					b.Fatal(status)
				}
			}
		})
		b.Run("json/"+bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var f fields
				req := Request{Cost: 1}
				if !decodeJSON(body, &f) {
					b.Fatal("refused")
				}
				if status, _ := f.apply(&req); status != 0 {
					b.Fatal(status)
				}
			}
		})
	}
}
