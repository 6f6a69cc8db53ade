package keys

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestFormatsRefuseEachOther: a key of one format never parses as the
// other, whether its prefix is left as it is or swapped (the checksum covers
// the prefix), and each parses as its own.
func TestFormatsRefuseEachOther(t *testing.T) {
	formats := []Format{Live, Root}
	for _, f := range formats {
		s, err := f.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s.Reveal(), f.Prefix()) || len(s.Reveal()) != Len {
			t.Fatalf("%s Generate made a key of length %d with prefix %q", f.Prefix(), len(s.Reveal()), s.Reveal()[:prefixLen])
		}
		if got, err := f.Parse(s.Reveal()); err != nil || got != s {
			t.Errorf("%s Parse of its own key: %v", f.Prefix(), err)
		}
		for _, other := range formats {
			if other == f {
				continue
			}
			if _, err := other.Parse(s.Reveal()); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s Parse accepted a %s key: %v", other.Prefix(), f.Prefix(), err)
			}
			swapped := other.Prefix() + s.Reveal()[prefixLen:]
			if _, err := other.Parse(swapped); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s Parse accepted a %s key with its prefix swapped: %v", other.Prefix(), f.Prefix(), err)
			}
		}
	}
	root, _ := Root.Generate()
	if _, err := Parse(root.Reveal()); !errors.Is(err, ErrMalformed) {
		t.Errorf("keys.Parse accepted a root key: %v", err)
	}
}

// TestRootChecksum: the same random part gives the same checksum scheme
// under the root prefix (one generator), and a root key with any one
// character changed is refused.
func TestRootChecksum(t *testing.T) {
	src := bytes.Repeat([]byte{7}, 40)
	live, err := generate(bytes.NewReader(src), Prefix)
	if err != nil {
		t.Fatal(err)
	}
	root, err := generate(bytes.NewReader(src), RootPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if live.Reveal()[prefixLen:bodyLen] != root.Reveal()[prefixLen:bodyLen] {
		t.Fatal("the random part depends on the prefix")
	}
	if live.Reveal()[bodyLen:] == root.Reveal()[bodyLen:] {
		t.Error("the checksum does not cover the prefix")
	}
	var want [sumLen]byte
	putChecksum(want[:], checksum(root.Reveal()[:bodyLen]))
	if root.Reveal()[bodyLen:] != string(want[:]) {
		t.Errorf("root checksum %q, want %q", root.Reveal()[bodyLen:], want)
	}
	k := root.Reveal()
	for i := prefixLen; i < Len; i++ {
		c := byte('a')
		if k[i] == 'a' {
			c = 'b'
		}
		bad := k[:i] + string(c) + k[i+1:]
		if _, err := Root.Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Root.Parse accepted the key with byte %d changed", i)
		}
	}
	for _, s := range []string{"", RootPrefix, k[:Len-1], k + "0", "KH_ROOT_" + k[prefixLen:]} {
		if _, err := Root.Parse(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Root.Parse(%d bytes) = %v, want ErrMalformed", len(s), err)
		}
	}
}

// TestRootDisplayAndRedaction: a root key shows as kh_root_…last4 and
// prints as its own placeholder, never the key.
func TestRootDisplayAndRedaction(t *testing.T) {
	root, _ := Root.Generate()
	k := root.Reveal()
	if got, want := root.Display(), "kh_root_…"+k[Len-4:]; got != want {
		t.Errorf("Display = %q, want %q", got, want)
	}
	for _, got := range []string{fmt.Sprint(root), fmt.Sprintf("%d", root), root.String(), root.LogValue().String()} {
		if got != "kh_root_…[redacted]" {
			t.Errorf("printed as %q", got)
		}
	}
	live, _ := Generate()
	if live.String() != "kh_live_…[redacted]" {
		t.Errorf("an API key prints as %q", live.String())
	}
}
