package verify

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestTakeScriptCodesMatchGo: the result codes take.lua names are the Go
// constants the limiter compares them with, value for value.
func TestTakeScriptCodesMatchGo(t *testing.T) {
	m := regexp.MustCompile(`(?m)^local (OK(?:, [A-Z_]+)*) = ([0-9, ]+)$`).FindStringSubmatch(takeLua)
	if m == nil {
		t.Fatal("take.lua declares no result codes")
	}
	names, values := strings.Split(m[1], ", "), strings.Split(m[2], ", ")
	want := map[string]int64{"OK": scriptOK, "RATE_LIMITED": scriptRateLimited, "QUOTA_EXCEEDED": scriptQuotaExceeded,
		"STALE": scriptStale, "NO_WINDOW": scriptNoWindow}
	if len(names) != len(values) || len(names) != len(want) {
		t.Fatalf("take.lua names %v = %v; Go has %d codes", names, values, len(want))
	}
	for i, name := range names {
		v, err := strconv.ParseInt(values[i], 10, 64)
		if w, ok := want[name]; err != nil || !ok || v != w {
			t.Errorf("take.lua %s = %s; Go's is %d (known: %v)", name, values[i], w, ok)
		}
	}
}
