package keyhold_test

import (
	"strings"
	"testing"

	"github.com/keyhold/keyhold/internal/keyhold"
)

// TestNewID checks that ids are 26 lower-case ULID characters and sort in
// the order they were made, which "newest first" lists rely on.
func TestNewID(t *testing.T) {
	prev := ""
	for range 1000 {
		id := keyhold.NewID()
		if len(id) != 26 || id != strings.ToLower(id) {
			t.Fatalf("NewID() = %q: want 26 lower-case characters", id)
		}
		if id <= prev {
			t.Fatalf("NewID() = %q after %q: ids must sort in the order they were made", id, prev)
		}
		prev = id
	}
}
