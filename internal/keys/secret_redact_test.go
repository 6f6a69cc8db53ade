package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestRedaction(t *testing.T) {
	s := mustGenerate(t)
	random := s.Reveal()[len(Prefix):bodyLen]
	type holder struct {
		Name string
		Key  Secret
		Ptr  *Secret
	}
	h := holder{Name: "ci", Key: s, Ptr: &s}

	outputs := map[string]func() string{
		"%v":         func() string { return fmt.Sprintf("%v", s) },
		"%s":         func() string { return fmt.Sprintf("%s", s) },
		"%+v":        func() string { return fmt.Sprintf("%+v", s) },
		"%#v":        func() string { return fmt.Sprintf("%#v", s) },
		"%q":         func() string { return fmt.Sprintf("%q", s) },
		"%x":         func() string { return fmt.Sprintf("%x", s) },
		"%X":         func() string { return fmt.Sprintf("%X", s) },
		"%d":         func() string { return fmt.Sprintf("%d", s) },
		"%T %v":      func() string { return fmt.Sprintf("%T %v", s, s) },
		"%10.3s":     func() string { return fmt.Sprintf("%10.3s", s) },
		"Sprint":     func() string { return fmt.Sprint(s) },
		"Sprintln":   func() string { return fmt.Sprintln(s) },
		"pointer %v": func() string { return fmt.Sprintf("%v", &s) },
		"struct %v":  func() string { return fmt.Sprintf("%v", h) },
		"struct %+v": func() string { return fmt.Sprintf("%+v", h) },
		"struct %#v": func() string { return fmt.Sprintf("%#v", h) },
		"slice %v":   func() string { return fmt.Sprintf("%v", []Secret{s}) },
		"map %v":     func() string { return fmt.Sprintf("%v", map[string]Secret{"k": s}) },
		"any %v":     func() string { return fmt.Sprintf("%v", any(s)) },
		"String":     func() string { return s.String() },
		"GoString":   func() string { return s.GoString() },
		"error %v":   func() string { return fmt.Errorf("verify %v: %w", s, ErrMalformed).Error() },
		"slog text":  func() string { return logWith(slog.NewTextHandler, s, h) },
		"slog JSON":  func() string { return logWith(slog.NewJSONHandler, s, h) },
		"json.Marshal struct": func() string {
			b, err := json.Marshal(h)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			return string(b)
		},
		"json.Marshal slice": func() string {
			b, err := json.Marshal([]Secret{s})
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			return string(b)
		},
		"MarshalText": func() string {
			b, err := s.MarshalText()
			if err != nil {
				t.Fatalf("MarshalText: %v", err)
			}
			return string(b)
		},
	}
	for name, f := range outputs {
		t.Run(name, func(t *testing.T) {
			out := f()
			if strings.Contains(out, random) || strings.Contains(out, random[:8]) {
				t.Errorf("output contains the key: %s", out)
			}
			if !strings.Contains(out, "[redacted]") {
				t.Errorf("output lacks the placeholder: %s", out)
			}
		})
	}

	if got := fmt.Sprintf("%v|%s|%q", s, s, s); got != `kh_live_…[redacted]|kh_live_…[redacted]|"kh_live_…[redacted]"` {
		t.Errorf("Sprintf = %s", got)
	}
	b, _ := json.Marshal(h)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Marshal produced invalid JSON %s: %v", b, err)
	}
	if back["Key"] != "kh_live_…[redacted]" {
		t.Errorf("JSON Key = %v", back["Key"])
	}
}

// logWith logs s through a handler built by newHandler in every common way
// and returns what was written.
func logWith[H slog.Handler](newHandler func(io.Writer, *slog.HandlerOptions) H, s Secret, v any) string {
	var buf bytes.Buffer
	log := slog.New(newHandler(&buf, nil))
	log.Info("created", "key", s)
	log.Info("created", slog.Any("key", s))
	log.Info("created", slog.Any("holder", v))
	log.Info("created", slog.Group("g", "key", s))
	log.With("key", s).Info("created")
	log.Info("created", "msg", fmt.Sprint(s))
	return buf.String()
}

func TestRedactText(t *testing.T) {
	key := mustGenerate(t).Reveal()
	tests := []struct {
		name, in, want string
	}{
		{"no key", "/keys/01HZX3", "/keys/01HZX3"},
		{"empty", "", ""},
		{"key in a path", "/keys/" + key, "/keys/kh_live_…[redacted]"},
		{"key then more path", "/keys/" + key + "/revoke", "/keys/kh_live_…[redacted]/revoke"},
		{"root key", "/anything/kh_root_xxx", "/anything/kh_root_…[redacted]"},
		{"truncated key", "kh_live_abc", "kh_live_…[redacted]"},
		{"two keys", key + " " + key, "kh_live_…[redacted] kh_live_…[redacted]"},
		{"key in a query", "q=" + key + "&x=1", "q=kh_live_…[redacted]&x=1"},
		{"display form is not a key", "kh_live_…o5p6", "kh_live_…o5p6"},
		{"prefix alone", "kh_live_", "kh_live_"},
		{"prefix at the end after text", "xkh_live_", "xkh_live_"},
		{"other prefix", "kh_test_abc kh_ kh_liv", "kh_test_abc kh_ kh_liv"},
		{"key run ends at a non-base62 byte", "kh_live_ab-cd", "kh_live_…[redacted]-cd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactText(tt.in); got != tt.want {
				t.Errorf("RedactText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactTextDoesNotAllocateWithoutAKey(t *testing.T) {
	path := "/v1/verify"
	if n := testing.AllocsPerRun(100, func() { _ = RedactText(path) }); n != 0 {
		t.Errorf("RedactText allocates %v times for a path without a key", n)
	}
}
