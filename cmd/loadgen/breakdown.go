package main

// Where a server's resident memory goes: the kernel's split (anonymous or
// file-backed, /proc/PID/smaps_rollup) beside the Go runtime's own account
// (its memstats in /metrics). What the runtime has mapped and not returned
// is an upper bound of its anonymous share; the rest of the anonymous
// memory is outside it (modernc SQLite's allocator, the C library).

// rssBreakdown is one reading of where a server's RSS goes, in bytes (-1:
// unknown).
type rssBreakdown struct {
	Anon int64 `json:"anonymous_bytes"`
	File int64 `json:"file_bytes"`
	// The Go heap: in use (live and not yet collected garbage), and free
	// but still held (not yet returned to the OS by the scavenger).
	HeapInUse int64 `json:"heap_inuse_bytes"`
	HeapFree  int64 `json:"heap_free_held_bytes"`
	HeapGoal  int64 `json:"heap_goal_bytes"`
	Stacks    int64 `json:"stacks_bytes"`
	// Runtime is the runtime's other memory: GC metadata, spans, profiling
	// buckets, and the rest.
	Runtime int64 `json:"runtime_other_bytes"`
	// NonGo is the anonymous memory the Go runtime does not account for.
	NonGo int64 `json:"outside_go_bytes"`
}

// readBreakdown reads pid's breakdown, with m its scrape (nil: the Go
// parts unknown).
func readBreakdown(pid int, m metrics) rssBreakdown {
	b := rssBreakdown{HeapInUse: -1, HeapFree: -1, HeapGoal: -1, Stacks: -1, Runtime: -1, NonGo: -1}
	b.Anon, b.File = procRSSParts(pid)
	if m == nil {
		return b
	}
	v := func(name string) int64 { return int64(m.sum(name)) }
	b.HeapInUse = v("go_memstats_heap_inuse_bytes")
	b.HeapFree = v("go_memstats_heap_idle_bytes") - v("go_memstats_heap_released_bytes")
	b.HeapGoal = v("go_memstats_next_gc_bytes")
	b.Stacks = v("go_memstats_stack_sys_bytes")
	b.Runtime = v("go_memstats_gc_sys_bytes") + v("go_memstats_mspan_sys_bytes") + v("go_memstats_mcache_sys_bytes") +
		v("go_memstats_buck_hash_sys_bytes") + v("go_memstats_other_sys_bytes")
	if b.Anon >= 0 {
		b.NonGo = max(0, b.Anon-(b.HeapInUse+b.HeapFree+b.Stacks+b.Runtime))
	}
	return b
}

// printBreakdown prints the warm and the settled breakdowns of m, when
// they were read.
func printBreakdown(p printf, m memory) {
	printParts(p, "where the warm RSS goes:", m.Warm, m.LiveWarm)
	if m.RSSSettled > 0 {
		p("  RSS settled (warm-up and a GC)      %s  (idle %s after the warm reading, %d collection(s) meanwhile)", mib(m.RSSSettled), round(m.SettleWait), m.SettleGCs)
		printParts(p, "where the settled RSS goes:", m.SettledBreakdown, m.LiveSettled)
	}
}

func printParts(p printf, title string, b rssBreakdown, live float64) {
	if b.Anon <= 0 {
		return
	}
	p("  %-34s anonymous %s + file-backed %s (the binary's code and data, paged in)", title, mib(b.Anon), mib(b.File))
	if b.HeapInUse < 0 {
		return
	}
	p("    Go heap in use                    %s  (live at the last GC %s; the rest garbage not yet collected; goal %s)", mib(b.HeapInUse), mib(int64(live)), mib(b.HeapGoal))
	p("    Go heap free, not yet returned    %s", mib(b.HeapFree))
	p("    goroutine stacks                  %s", mib(b.Stacks))
	p("    runtime (GC metadata, spans…)     %s", mib(b.Runtime))
	p("    outside the Go runtime            %s  (SQLite's page cache and allocator, the C library)", mib(b.NonGo))
}
