package verify

import (
	"strings"
	"testing"
)

func TestParseChange(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	var ab [32]byte
	for i := range ab {
		ab[i] = 0xab
	}
	for _, tc := range []struct {
		msg  string
		ok   bool
		want Change
	}{
		{"k:key1", true, Change{Kind: KeyChange, ID: "key1"}},
		{"a:acct1", true, Change{Kind: AccountChange, ID: "acct1"}},
		{"s:ep:7:" + hash, true, Change{Kind: SecretAdded, Epoch: "ep", N: 7, Hash: ab}},
		{"k:", false, Change{}},
		{"", false, Change{}},
		{"k", false, Change{}},
		{"kx:key1", false, Change{}},
		{"x:key1", false, Change{}},
		{"r:", false, Change{}}, // Resubscribed is never on the wire
		{"s:ep:7", false, Change{}},
		{"s:ep:seven:" + hash, false, Change{}},
		{"s:ep:7:" + hash[:62], false, Change{}},
		{"s:ep:7:" + hash[:62] + "zz", false, Change{}},
	} {
		c, ok := parseChange(tc.msg)
		if ok != tc.ok || ok && (c.Kind != tc.want.Kind || c.ID != tc.want.ID || c.Epoch != tc.want.Epoch || c.N != tc.want.N || c.Hash != tc.want.Hash) {
			t.Errorf("parseChange(%q) = %+v, %v; want %+v, %v", tc.msg, c, ok, tc.want, tc.ok)
		}
		if ok && c.Kind != SecretAdded {
			if m := c.Message(); m != tc.msg {
				t.Errorf("Message of %q: %q", tc.msg, m)
			}
		}
	}
	if m := (Change{Kind: SecretAdded}).Message(); m != "" {
		t.Errorf("a secret's Message %q, want none (only Redis carries secrets)", m)
	}
}
