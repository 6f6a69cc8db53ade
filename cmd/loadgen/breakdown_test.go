package main

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestReadBreakdown reads this process's own RSS split and a scrape's Go
// memory: the heap's free part is what is idle and not released, the
// runtime's the sum of its other parts, and what is left of the anonymous
// memory is outside Go. Without a scrape only the kernel's split is known.
func TestReadBreakdown(t *testing.T) {
	const text = `go_memstats_heap_inuse_bytes 1e6
go_memstats_heap_idle_bytes 5e5
go_memstats_heap_released_bytes 2e5
go_memstats_next_gc_bytes 4e6
go_memstats_stack_sys_bytes 1e5
go_memstats_gc_sys_bytes 1000
go_memstats_mspan_sys_bytes 200
go_memstats_mcache_sys_bytes 30
go_memstats_buck_hash_sys_bytes 4
go_memstats_other_sys_bytes 5000
`
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	b := readBreakdown(os.Getpid(), metrics(mf))
	if b.Anon <= 0 || b.File <= 0 {
		t.Fatalf("this process: anonymous %d, file-backed %d bytes; want both positive", b.Anon, b.File)
	}
	if b.HeapInUse != 1e6 || b.HeapFree != 3e5 || b.HeapGoal != 4e6 || b.Stacks != 1e5 || b.Runtime != 6234 {
		t.Errorf("Go parts %+v", b)
	}
	if want := max(0, b.Anon-(1e6+3e5+1e5+6234)); b.NonGo != want {
		t.Errorf("outside Go %d, want %d", b.NonGo, want)
	}
	b = readBreakdown(os.Getpid(), nil)
	if b.Anon <= 0 || b.HeapInUse != -1 || b.NonGo != -1 {
		t.Errorf("without a scrape: %+v; want the kernel's split, the rest unknown (-1)", b)
	}
	if b := readBreakdown(-1, nil); b.Anon != -1 || b.File != -1 {
		t.Errorf("no such process: %+v; want unknown", b)
	}
}
