package verify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// readRequest is ReadRequest over a body, with its length declared or not
// (chunked), as a client may send it.
func readRequest(body []byte, contentType string, declared bool, req *Request) (int, string) {
	r := httptest.NewRequest(http.MethodPost, "/v1/verify", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	if !declared {
		r.ContentLength = -1
	}
	var buf []byte
	return ReadRequest(r, &buf, nil, req)
}

// FuzzParseRequest feeds arbitrary bodies to the /v1/verify request
// reader: it must never panic, must refuse anything over 4 KiB whether or
// not its length is declared, and any request it accepts must carry a key
// and a cost in range.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo"}`,
		`{"key":"k","cost":5,"scopes":["read","write"]}`,
		`{"key":"k","key":"j"}`, `{"key":123}`, `{"key":["a"]}`, `{"key":{"$ne":""}}`,
		`{`, `[]`, `null`, `"x"`, `{"key":"a"}{"key":"b"}`, `{"cost":1e400}`, `{"cost":-1,"key":"k"}`,
		"{\"key\":\"\xff\"}", `{"key":"\u0000"}`, ``, `   `,
		`{"key":"k","ip":"::ffff:1.2.3.4"}`, `{"key":"k","ip":"fe80::1%eth0"}`, `{"key":"k","ip":"1.2.3.4:80"}`,
	} {
		f.Add([]byte(s), "application/json", true)
	}
	f.Add([]byte(`key=x`), "application/x-www-form-urlencoded", true)
	f.Add(append([]byte(`{"key":"`), bytes.Repeat([]byte("a"), MaxBody)...), "application/json", false)
	f.Fuzz(func(t *testing.T, body []byte, contentType string, declared bool) {
		var req Request
		req.Cost = 1
		status, msg := readRequest(body, contentType, declared, &req)
		if status != 0 {
			if msg == "" || !utf8.ValidString(msg) {
				t.Fatalf("refusal %d without a message", status)
			}
			if len(body) > MaxBody && status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d-byte body answered %d", len(body), status)
			}
			return
		}
		if len(body) > MaxBody {
			t.Fatalf("accepted a %d-byte body", len(body))
		}
		if req.Key == "" || req.Cost < 0 || req.Cost > MaxCost || len(req.Scopes) > MaxReqScopes {
			t.Fatalf("accepted an invalid request: %+v", req)
		}
		if req.IP.IsValid() && (req.IP.Is4In6() || req.IP.Zone() != "") {
			t.Fatalf("accepted ip %v not in the form allow-lists compare", req.IP)
		}
		// Whatever was accepted re-encodes as a request with the same key.
		b, _ := json.Marshal(map[string]any{"key": req.Key, "cost": req.Cost, "scopes": req.Scopes})
		var again Request
		again.Cost = 1
		if len(b) <= MaxBody {
			if st, m := readRequest(b, "application/json", true, &again); st != 0 || again.Key != req.Key || again.Cost != req.Cost {
				t.Fatalf("canonical form refused or changed: %d %s %+v vs %+v", st, m, again, req)
			}
		}
	})
}

// hostileBodies are the bodies of shared/RELIABILITY.md §6.2 (hostile
// input to POST /v1/verify) and the shapes near the fast path's edges:
// the seeds of FuzzDecodeFast, and the cases of TestDecodeFast that must
// decline or read as encoding/json does.
var hostileBodies = []string{
	// §6.2: malformed JSON, wrong types, duplicates, unknown fields.
	`{`, `{"key":}`, `[]`, `null`, `"str"`, `{"key":"a"}{"key":"b"}`,
	`{"key":123}`, `{"key":["a"]}`, `{"key":{"$ne":""}}`,
	`{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo","key":"junk"}`,
	`{"key":"k","extra":1}`, `{"key":"k","Key":"j"}`,
	// §6.2: keys with NUL, look-alikes, invalid UTF-8, spaces, newlines.
	`{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo\u0000"}`,
	`{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZаbcdef0Qkiwo"}`,
	`{"key":"kh_live_ＡBCDEFGHIJKLMNOPQRSTUVWXYZabcdef０Qkiwo"}`,
	"{\"key\":\"kh_live_\xff\xfe\"}", "{\"key\":\"\xc0\xaf\"}",
	`{"key":" kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo "}`,
	`{"key":"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo\n"}`,
	"{\"key\":\"kh_live_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo\n\"}",
	`{"key":"kh_test_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0Qkiwo"}`,
	`{"key":""}`, `{"key":"k"}`, `{"key":"` + strings.Repeat("a", 129) + `"}`,
	`key=x`,
	// The gateways' shape, with whitespace wherever JSON allows it.
	`{"key":"k","cost":5,"scopes":["read","write"],"ip":"203.0.113.7"}`,
	" \t\r\n{ \"key\" : \"k\" , \"cost\" : 0 , \"scopes\" : [ \"a\" , \"b\" ] , \"ip\" : \"::1\" } \n",
	`{}`, `{"scopes":[]}`, `{"cost":1}`, `{"ip":"fe80::1%eth0","key":"k"}`, `{"ip":"1.2.3.4:80","key":"k"}`,
	// Edges: numbers, names, escapes, nulls, nesting, trailing data.
	`{"key":"k","cost":-0}`, `{"key":"k","cost":-1}`, `{"key":"k","cost":1001}`, `{"key":"k","cost":01}`,
	`{"key":"k","cost":1.0}`, `{"key":"k","cost":1e2}`, `{"key":"k","cost":1E2}`, `{"key":"k","cost":-}`,
	`{"key":"k","cost":999999999999999999}`, `{"key":"k","cost":9999999999999999999}`, `{"key":"k","cost":"1"}`,
	`{"key":"k","cost":true}`, `{"key":null}`, `{"key":"k","scopes":null}`, `{"key":"k","ip":null}`,
	`{"KEY":"k"}`, `{"kEy":"k"}`, `{"\u006bey":"k"}`, "{\"\u212aey\":\"k\"}", `{"key":"a\"b"}`, `{"key":"a\/b"}`,
	`{"key":"k","scopes":["a",]}`, `{"key":"k","scopes":[,]}`, `{"key":"k","scopes":["a" "b"]}`, `{"key":"k","scopes":[["a"]]}`,
	`{"key":"k","scopes":"a"}`, `{"key":"k","scopes":["a"],"scopes":["b"]}`, `{"key":"k",}`, `{,"key":"k"}`,
	`{"key":"k"} x`, `{"key":"k"}]`, "{\"key\":\"k\"}\v", "\v{\"key\":\"k\"}", "\u00a0{\"key\":\"k\"}",
	`{"key":"k""cost":1}`, `{"key" "k"}`, `{"key":"k"`, `{"key":"k`, `{"key`, `{"`, `{"key":"k\u0007"}`, "{\"key\":\"k\x7f\"}",
	`{"key":"k","scopes":["` + strings.Repeat(`a","`, MaxReqScopes-1) + `a"]}`,
	`{"key":"k","scopes":["` + strings.Repeat(`a","`, MaxReqScopes) + `a"]}`,
}

// FuzzDecodeFast is the fast path's differential test: for any body,
// decodeFast either declines or reads exactly what encoding/json's path
// reads (the same fields, then the same status, message and Request),
// whatever its scope buffer held before.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range hostileBodies {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		scratch := make([]string, 3, MaxReqScopes)
		for i := range scratch {
			scratch[i] = "stale"
		}
		var fast, slow fields
		if !decodeFast(body, &scratch, &fast) {
			return
		}
		if !decodeJSON(body, &slow) {
			t.Fatalf("%q: the fast path read what encoding/json refuses: %+v", body, fast)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: the fast path read %#v, encoding/json %#v", body, fast, slow)
		}
		fastReq, slowReq := Request{Cost: 1}, Request{Cost: 1}
		fs, fm := fast.apply(&fastReq)
		ss, sm := slow.apply(&slowReq)
		if fs != ss || fm != sm || !reflect.DeepEqual(fastReq, slowReq) {
			t.Fatalf("%q: fast path %d %q %+v, encoding/json %d %q %+v", body, fs, fm, fastReq, ss, sm, slowReq)
		}
	})
}
