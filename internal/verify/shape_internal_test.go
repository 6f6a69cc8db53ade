package verify

import (
	"runtime"
	"testing"
	"time"
)

// Equal shapes are one; a shape no entry holds any more is collected and
// its slot removed, so the table does not grow with keys that come and go.
func TestShapesInternAndCollect(t *testing.T) {
	tab := &shapes{}
	mk := func(account string) *shape {
		id := `"owner_id":"` + account + `",` + `"plan":"free","scopes":[],`
		return &shape{accountID: account, planID: "free", scopes: []string{}, id: id, ownerLen: len(`"owner_id":"` + account + `",`)}
	}
	a := tab.intern(mk("a"))
	if b := tab.intern(mk("a")); b != a {
		t.Fatal("two equal shapes interned apart")
	}
	c := tab.intern(mk("c"))
	if c == a || tab.len() != 2 {
		t.Fatalf("distinct shapes: same %v, table of %d", c == a, tab.len())
	}
	if a.owner() != `"owner_id":"a",` || a.planScopes() != `"plan":"free","scopes":[],` {
		t.Fatalf("parts %q %q", a.owner(), a.planScopes())
	}
	runtime.KeepAlive(c)
	deadline := time.Now().Add(10 * time.Second)
	for tab.len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("an unheld shape still in the table (%d slots)", tab.len())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if tab.intern(mk("a")) != a {
		t.Fatal("the held shape was lost")
	}
	runtime.KeepAlive(a)
}
