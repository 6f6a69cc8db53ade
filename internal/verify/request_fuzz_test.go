package verify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
	return ReadRequest(r, &buf, req)
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
