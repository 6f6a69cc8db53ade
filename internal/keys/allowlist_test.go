package keys_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/audit"
	"github.com/keyhold/keyhold/internal/keyhold"
	"github.com/keyhold/keyhold/internal/keys"
)

// TestParseAllowlist: what a key's allow-list accepts and how it is
// stored; each refusal names the entry and why.
func TestParseAllowlist(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    string // the stored list, space-separated
		wantErr string // part of the message; "" for none
	}{
		{"empty", []string{}, "", ""},
		{"blank entries", []string{" ", ""}, "", ""},
		{"IPv4 CIDR", []string{"10.0.0.0/8"}, "10.0.0.0/8", ""},
		{"IPv6 CIDR", []string{"2001:db8::/32"}, "2001:db8::/32", ""},
		{"bare IPv4 is a /32", []string{"203.0.113.7"}, "203.0.113.7/32", ""},
		{"bare IPv6 is a /128", []string{"2001:db8::1"}, "2001:db8::1/128", ""},
		{"trimmed", []string{"  10.0.0.0/8 "}, "10.0.0.0/8", ""},
		{"IPv4-mapped CIDR to IPv4", []string{"::ffff:10.0.0.0/104"}, "10.0.0.0/8", ""},
		{"IPv4-mapped address to IPv4", []string{"::ffff:1.2.3.4"}, "1.2.3.4/32", ""},
		{"the whole mapped range is IPv4's /0", []string{"::ffff:0.0.0.0/96"}, "0.0.0.0/0", ""},
		{"wider than the mapped range stays IPv6", []string{"::/80"}, "::/80", ""},
		{"/0 of each family", []string{"0.0.0.0/0", "::/0"}, "0.0.0.0/0 ::/0", ""},
		{"repeats dropped, also after normalising", []string{"1.2.3.4", "1.2.3.4/32", "::ffff:1.2.3.4", "10.0.0.0/8"}, "1.2.3.4/32 10.0.0.0/8", ""},
		{"order kept", []string{"192.0.2.0/24", "10.0.0.0/8"}, "192.0.2.0/24 10.0.0.0/8", ""},
		{"not an address", []string{"10.0.0.0/8", "example.com"}, "", `"example.com" is not an IP address or CIDR`},
		{"out of range", []string{"10.0.0.300"}, "", `"10.0.0.300" is not an IP address or CIDR`},
		{"a port", []string{"203.0.113.7:443"}, "", `"203.0.113.7:443" is not an IP address`},
		{"bad prefix length", []string{"10.0.0.0/33"}, "", `"10.0.0.0/33" is not a CIDR`},
		{"no prefix length", []string{"10.0.0.0/"}, "", `"10.0.0.0/" is not a CIDR`},
		{"host bits set", []string{"10.1.2.3/8"}, "", `"10.1.2.3/8" has bits set past its prefix length: did you mean 10.0.0.0/8, or the single address 10.1.2.3/32?`},
		{"host bits set, mapped", []string{"::ffff:10.1.2.3/104"}, "", "did you mean 10.0.0.0/8, or the single address 10.1.2.3/32?"},
		{"host bits set, IPv6", []string{"2001:db8::1/32"}, "", "did you mean 2001:db8::/32, or the single address 2001:db8::1/128?"},
		{"a zone", []string{"fe80::1%eth0"}, "", `"fe80::1%eth0" has a zone`},
		{"a control character", []string{"10.0.0.0/8\x00"}, "", "An allow-list entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keys.ParseAllowlist(tt.in)
			if tt.wantErr != "" {
				if keyhold.ErrorCode(err) != keyhold.EINVALID || !strings.Contains(keyhold.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("err = %v, want EINVALID containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(keys.AllowlistStrings(got), " "); s != tt.want {
				t.Errorf("got %q, want %q", s, tt.want)
			}
			for _, p := range got {
				if p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
					t.Errorf("%s is not in normal form", p)
				}
			}
		})
	}
}

func TestParseAllowlistAtMost32(t *testing.T) {
	entries := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("10.0.%d.0/24", i)
		}
		return out
	}
	if got, err := keys.ParseAllowlist(entries(32)); err != nil || len(got) != 32 {
		t.Fatalf("32 entries: %d, %v", len(got), err)
	}
	_, err := keys.ParseAllowlist(entries(33))
	if keyhold.ErrorCode(err) != keyhold.EINVALID || !strings.Contains(keyhold.ErrorMessage(err), "at most 32 entries; this one has 33") {
		t.Fatalf("33 entries: %v", err)
	}
	// Counted after repeats are dropped.
	if _, err := keys.ParseAllowlist(append(entries(32), "10.0.0.0/24")); err != nil {
		t.Fatalf("32 entries and a repeat: %v", err)
	}
}

// TestAllowlistCreateAndUpdate: a key is made with a list, which an
// update without one keeps, an update with one replaces and [] clears;
// each change is one event and an audit line naming what changed; a bad
// list is refused under its field and changes nothing.
func TestAllowlistCreateAndUpdate(t *testing.T) {
	f := MustService(t)
	ctx := context.Background()
	acct := f.MustAccount(t, "ada@example.com")
	actor := audit.Actor{UserID: acct, AccountID: acct, Role: ownerRole}
	k, _, err := f.svc.Create(ctx, actor, acct, keys.Settings{Name: "edge", IPAllowlist: []string{"203.0.113.0/24", "::ffff:10.0.0.0/104"}})
	if err != nil {
		t.Fatal(err)
	}
	list := func() string {
		t.Helper()
		got, err := f.lookup(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return keys.FormatAllowlist(got.IPAllowlist)
	}
	if got := list(); got != "203.0.113.0/24\n10.0.0.0/8" {
		t.Fatalf("stored %q", got)
	}
	var events int
	f.svc.Subscribe(func(keys.Event) { events++ })
	newestDetail := func() string {
		t.Helper()
		es, err := f.keyAudit(ctx, acct, k.ID)
		if err != nil || len(es) == 0 {
			t.Fatal(err)
		}
		return es[0].Detail
	}

	steps := []struct {
		name       string
		allow      []string // nil: not given
		want       string
		wantEvents int
		wantDetail string
	}{
		{"not given: kept", nil, "203.0.113.0/24\n10.0.0.0/8", 0, ""},
		{"the same again: no change", []string{"203.0.113.0/24", "10.0.0.0/8"}, "203.0.113.0/24\n10.0.0.0/8", 0, ""},
		{"replaced", []string{"203.0.113.0/24", "2001:db8::/32"}, "203.0.113.0/24\n2001:db8::/32", 1,
			"IP allow-list added 2001:db8::/32, removed 10.0.0.0/8 (2 entries)"},
		{"cleared", []string{}, "", 2, "IP allow-list removed (any address)"},
		{"set again", []string{"198.51.100.7"}, "198.51.100.7/32", 3, "IP allow-list added 198.51.100.7/32 (1 entry)"},
	}
	for _, s := range steps {
		if _, err := f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: "edge", IPAllowlist: s.allow}); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := list(); got != s.want {
			t.Errorf("%s: list %q, want %q", s.name, got, s.want)
		}
		if events != s.wantEvents {
			t.Errorf("%s: %d events, want %d", s.name, events, s.wantEvents)
		}
		if s.wantDetail != "" {
			if d := newestDetail(); d != s.wantDetail {
				t.Errorf("%s: audit %q, want %q", s.name, d, s.wantDetail)
			}
		}
	}

	// Refused, with the other fields' problems, and nothing changes.
	_, err = f.svc.Update(ctx, actor, acct, k.ID, keys.Settings{Name: " ", IPAllowlist: []string{"10.0.0.0/8", "nope"}})
	fields := keyhold.Fields(err)
	if keyhold.ErrorCode(err) != keyhold.EINVALID || !strings.Contains(fields["ip_allowlist"], `"nope" is not an IP address or CIDR`) || fields["name"] == "" {
		t.Fatalf("bad list: %v (fields %v)", err, fields)
	}
	if got := list(); got != "198.51.100.7/32" || events != 3 {
		t.Errorf("after a refused update: list %q, %d events", got, events)
	}
	_, _, err = f.svc.Create(ctx, actor, acct, keys.Settings{Name: "x", IPAllowlist: []string{"10.1.0.0/8"}})
	if !strings.Contains(keyhold.Fields(err)["ip_allowlist"], "did you mean 10.0.0.0/8") {
		t.Fatalf("create with host bits: %v", err)
	}
}

// TestParseFormAllowlist: the form's text, one a line or comma-separated,
// is the list; blank clears it; a form without the field keeps it; a bad
// entry is reported under ip_allowlist with the other fields' problems.
func TestParseFormAllowlist(t *testing.T) {
	f := MustService(t)
	text := func(s string) *string { return &s }
	st, err := f.svc.ParseForm(keys.Form{Name: "k", IPAllowlist: text("203.0.113.0/24\n2001:db8::1, 10.0.0.0/8\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(st.IPAllowlist, " "); got != "203.0.113.0/24 2001:db8::1/128 10.0.0.0/8" {
		t.Errorf("list = %q", got)
	}
	if st, _ := f.svc.ParseForm(keys.Form{Name: "k", IPAllowlist: text("  ")}); st.IPAllowlist == nil || len(st.IPAllowlist) != 0 {
		t.Errorf("blank: %#v, want an empty list (cleared)", st.IPAllowlist)
	}
	if st, _ := f.svc.ParseForm(keys.Form{Name: "k"}); st.IPAllowlist != nil {
		t.Errorf("no field: %#v, want nil (kept)", st.IPAllowlist)
	}
	_, err = f.svc.ParseForm(keys.Form{Name: "", Meta: "[", IPAllowlist: text("10.0.0.0/8\n300.1.1.1")})
	fields := keyhold.Fields(err)
	if len(fields) != 3 || !strings.Contains(fields["ip_allowlist"], `"300.1.1.1"`) {
		t.Fatalf("fields = %v", fields)
	}
	if msg := keyhold.ErrorMessage(err); strings.Index(msg, "Metadata") > strings.Index(msg, "300.1.1.1") {
		t.Errorf("message %q: the allow-list comes after the metadata, as on the form", msg)
	}
}
