package main

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// lat formats a latency for the table: µs below a millisecond.
func lat(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

func statuses(by map[int]int64) string {
	if len(by) == 0 {
		return "-"
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, fmt.Sprintf("%d×%d", c, by[c]))
	}
	return strings.Join(parts, " ")
}

func verdict(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}

func printReport(out io.Writer, r *report, o options) {
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	p("")
	p("==================== Keyhold benchmark (make bench) ====================")
	p("started %s", r.Started.Format(time.RFC3339))
	p("")
	p("machine")
	for _, k := range slices.Sorted(maps.Keys(r.Machine)) {
		p("  %-22s %s", k, r.Machine[k])
	}
	p("  the load generator and the server share these CPUs")
	p("")
	p("setup")
	p("  storage                SQLite (embedded default), fresh database in a temporary folder")
	p("  seeding                %d account(s) via auth.Service.Signup in %s; %d keys via keys.Service.Create in %s (%s per key, %d writer(s)); database %s",
		r.Seed.Accounts, round(r.Seed.SignupTime), r.Seed.Keys, round(r.Seed.KeysTime), r.Seed.PerKey.Round(time.Microsecond), r.Seed.Workers, mib(r.Seed.DatabaseSize))
	p("  plan                   rate 1 000 000/s, burst 10^7, quota 10^15 per key (valid keys never run out of room)")
	p("  cache warm-up          every key verified once in %s, non-2xx %d", round(r.WarmTime), r.WarmNon2)
	p("  loadgen options        -keys %s -c %s -d %s -rate %s -workers %s -warmup %s",
		r.Options["keys"], r.Options["c"], r.Options["d"], r.Options["rate"], r.Options["workers"], r.Options["warmup"])
	p("")

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	p("closed loop: %d connections, each sends its next request when the answer arrives", o.conns)
	fmt.Fprintln(tw, "phase\trequests\treq/s\tp50\tp99\tp99.9\tmax\tnon-2xx\terrors\tserver CPU\tloadgen CPU\tother CPU\tserver µs/req\tloadgen µs/req\tGCs\tkey loads\t")
	var verify *phase
	var healthz []*phase
	for _, ph := range r.Phases {
		if ph.Mode != "closed" {
			continue
		}
		if strings.Contains(ph.Endpoint, "verify") {
			verify = ph
		} else {
			healthz = append(healthz, ph)
		}
		fmt.Fprintf(tw, "%s %s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%.1fs\t%.1fs\t%.1fs\t%.1f\t%.1f\t%d\t%d\t\n",
			ph.Endpoint, suffix(ph.Name), ph.Answered, ph.ReqPerSec, lat(ph.P50), lat(ph.P99), lat(ph.P999), lat(ph.Max),
			ph.Non2xx, ph.Errors, ph.ServerCPU.Seconds(), ph.LoadgenCPU.Seconds(), ph.OtherCPU.Seconds(),
			perReq(ph.ServerCPU, ph.Answered), perReq(ph.LoadgenCPU, ph.Answered), ph.GCs, ph.KeyLoads)
	}
	tw.Flush()
	for _, ph := range r.Phases {
		if ph.Mode == "closed" && (ph.Non2xx > 0 || ph.Errors > 0) {
			p("  %s %s statuses: %s; first error: %s", ph.Endpoint, suffix(ph.Name), statuses(ph.Statuses), ph.FirstError)
		}
	}
	idleNote(p, r, "closed")
	p("  CPU columns: seconds used during the phase by the server, this generator, and every other process of the machine (%s CPUs × %s = %.0fs available)",
		r.Machine["cpus (runtime.NumCPU)"], o.duration, float64(runtime.NumCPU())*o.duration.Seconds())
	if verify != nil && len(healthz) > 0 {
		best := healthz[0]
		sum := 0.0
		for _, h := range healthz {
			sum += h.ReqPerSec
			if h.ReqPerSec > best.ReqPerSec {
				best = h
			}
		}
		mean := sum / float64(len(healthz))
		p("  verify/healthz throughput: %.3f of the best healthz run (%.0f req/s), %.3f of their mean (%.0f req/s)",
			r.Ratio, best.ReqPerSec, verify.ReqPerSec/mean, mean)
		p("  target ≥ 0.80 of healthz: %s; zero non-2xx for valid keys: %s; /v1/verify absolute: %.0f req/s",
			verdict(r.Ratio >= 0.8), verdict(verify.Non2xx == 0 && verify.Errors == 0), verify.ReqPerSec)
	}
	p("")

	var openVerify *phase
	if o.rate > 0 {
		p("open loop: %d req/s scheduled, latency from each request's intended send time (coordinated omission corrected)", o.rate)
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "phase\tsent\tanswered\tachieved/s\tp50\tp99\tp99.9\tmax\tservice p99\tsend lag p99\tsend lag max\tnon-2xx\terrors\tconns\tserver CPU\tloadgen CPU\tother CPU\tGCs\tkey loads\t")
		for _, ph := range r.Phases {
			if ph.Mode != "open" {
				continue
			}
			if strings.Contains(ph.Endpoint, "verify") {
				openVerify = ph
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.1fs\t%.1fs\t%.1fs\t%d\t%d\t\n",
				ph.Endpoint, ph.Sent, ph.Answered, ph.ReqPerSec, lat(ph.P50), lat(ph.P99), lat(ph.P999), lat(ph.Max),
				lat(ph.ServiceP99), lat(ph.LagP99), lat(ph.LagMax), ph.Non2xx, ph.Errors, ph.Dials,
				ph.ServerCPU.Seconds(), ph.LoadgenCPU.Seconds(), ph.OtherCPU.Seconds(), ph.GCs, ph.KeyLoads)
		}
		tw.Flush()
		for _, ph := range r.Phases {
			if ph.Mode == "open" && (ph.Non2xx > 0 || ph.Errors > 0) {
				p("  %s statuses: %s; first error: %s", ph.Endpoint, statuses(ph.Statuses), ph.FirstError)
			}
		}
		idleNote(p, r, "open")
		p("  service p99: from the actual send; send lag: how late the generator sent (its timer and its share of the CPUs)")
		p("  conns: connections the generator had to open (one per request in flight at the peak)")
		if openVerify != nil {
			p("  target /v1/verify p99 ≤ 1ms at %d req/s: %s (p99 %s)", o.rate, verdict(openVerify.P99 <= time.Millisecond), lat(openVerify.P99))
		}
		p("")
	}

	m := r.Memory
	p("memory (server process)")
	p("  RSS after start, nothing cached     %s", mib(m.RSSStart))
	p("  RSS with the cache warm             %s  (%d cached keys, Go heap in use %s)", mib(m.RSSWarm), m.CachedKeys, mib(int64(m.HeapWarm)))
	if m.CachedKeys >= 10_000 && m.RSSWarm > 0 && m.RSSStart > 0 {
		// Below 10 000 keys the connections' buffers and goroutines
		// outweigh the cache.
		p("  RSS growth per cached key           %.0f bytes", float64(m.RSSWarm-m.RSSStart)/float64(m.CachedKeys))
	}
	p("  RSS at the end / peak (VmHWM)       %s / %s  (%d cached keys, heap in use %s)", mib(m.RSSEnd), mib(m.PeakRSS), m.CachedEnd, mib(int64(m.HeapEnd)))
	if m.CachedKeys >= 100_000 {
		p("  target < 100 MB resident with 100 000 cached keys: %s (%.1f MB warm, %.1f MB peak)",
			verdict(m.RSSWarm < 100e6 && m.PeakRSS < 100e6), float64(m.RSSWarm)/1e6, float64(m.PeakRSS)/1e6)
	} else {
		p("  memory target (100 000 cached keys < 100 MB): run with -keys 100000")
	}
	p("  GC: %d cycles in the server's life, longest stop-the-world pause %s", m.GCCount, lat(seconds(m.GCMaxPause)))
	p("  key reads from the database: %d in all (cache misses, and refreshes when an entry is older than the verifier's TTL);", m.KeyLoadsAll)
	p("  the \"key loads\" columns count them per phase: zero means no database read on the hot path")
	p("  usage rows pending %.0f, dropped %.0f", m.UsagePend, m.UsageDrops)
	p("")
	p("server")
	p("  graceful stop (SIGTERM) took %s%s", round(r.Shutdown), map[bool]string{true: "; error: " + r.StopErr, false: ""}[r.StopErr != ""])
	p("  log lines at warn level and above: %d", len(r.LogLines))
	for i, l := range r.LogLines {
		if i == 10 {
			p("    … %d more", len(r.LogLines)-10)
			break
		}
		p("    %s", l)
	}
	p("=========================================================================")
}

// idleNote says, with -wait-idle, whether the machine was quiet when each
// phase began.
func idleNote(p func(string, ...any), r *report, mode string) {
	for _, ph := range r.Phases {
		if ph.Mode == mode && ph.IdleWait > 0 {
			state := "quiet"
			if !ph.Idle {
				state = "still busy"
			}
			p("  %s %s: waited %s for other processes; the machine was %s", ph.Endpoint, suffix(ph.Name), round(ph.IdleWait), state)
		}
	}
}

// perReq is CPU microseconds per answered request.
func perReq(cpu time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(n)
}

func suffix(name string) string {
	if _, s, ok := strings.Cut(name, " "); ok {
		return s
	}
	return ""
}
