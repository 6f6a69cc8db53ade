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

// printf prints one line of the report.
type printf func(format string, args ...any)

// printReport prints one mode's report: the machine and setup, the
// closed-loop and open-loop tables with their targets, memory, and how
// each server stopped.
func printReport(out io.Writer, r *report, o options) {
	p := printf(func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) })
	printHeader(p, r)
	verify, healthz := printClosed(out, p, r, o)
	printClosedTargets(p, r, verify, healthz)
	p("")
	if o.rate > 0 {
		printOpen(out, p, r, o)
	}
	printMemories(p, r)
	printServers(p, r)
	p("=========================================================================")
}

// printHeader prints the title, the machine's facts and the setup.
func printHeader(p printf, r *report) {
	p("")
	if r.Mode == "scale" {
		p("========= Keyhold benchmark (make bench-scale): %d instances, PostgreSQL + Redis =========", len(r.Instances))
	} else {
		p("==================== Keyhold benchmark (make bench) ====================")
	}
	p("started %s", r.Started.Format(time.RFC3339))
	p("")
	p("machine")
	for _, k := range slices.Sorted(maps.Keys(r.Machine)) {
		p("  %-22s %s", k, r.Machine[k])
	}
	if r.Mode == "scale" {
		p("  the load generator, both instances, PostgreSQL and Redis share these CPUs")
	} else {
		p("  the load generator and the server share these CPUs")
	}
	p("")
	p("setup")
	p("  storage                %s", r.Storage)
	p("  closed loops run by    %s", r.Driver)
	p("  seeding                %d account(s) via auth.Service.Signup in %s; %d keys via keys.Service.Create in %s (%s per key, %d writer(s)); database %s",
		r.Seed.Accounts, round(r.Seed.SignupTime), r.Seed.Keys, round(r.Seed.KeysTime), r.Seed.PerKey.Round(time.Microsecond), r.Seed.Workers, mib(r.Seed.DatabaseSize))
	p("  plan                   rate 1 000 000/s, burst 10^7, quota 10^15 per key (valid keys never run out of room)")
	p("  cache warm-up          every key verified once in %s, non-2xx %d", round(r.WarmTime), r.WarmNon2)
	p("  loadgen options        -keys %s -c %s -d %s -rate %s -workers %s -warmup %s",
		r.Options["keys"], r.Options["c"], r.Options["d"], r.Options["rate"], r.Options["workers"], r.Options["warmup"])
	p("")

}

// printClosed prints the closed-loop table and its notes, and returns the
// verify phase and the healthz phases for the targets.
func printClosed(out io.Writer, p printf, r *report, o options) (verify *phase, healthz []*phase) {
	var tokens *phase
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(r.Instances) > 1 {
		p("closed loop: %d connections shared out over %d instances (one loop per instance, run together), each sends its next request when the answer arrives", o.conns, len(r.Instances))
	} else {
		p("closed loop: %d connections, each sends its next request when the answer arrives", o.conns)
	}
	fmt.Fprintln(tw, "phase\trequests\treq/s\tp50\tp99\tp99.9\tmax\tnon-2xx\terrors\tserver CPU\tloadgen CPU\tother CPU\tserver µs/req\tloadgen µs/req\tGCs\theap B/req\tkey loads\t")
	for _, ph := range r.Phases {
		if ph.Mode != "closed" {
			continue
		}
		switch {
		case ph.Name == "bare":
		case strings.Contains(ph.Endpoint, "verify"):
			verify = ph
		case strings.Contains(ph.Endpoint, "tokens"):
			tokens = ph
		default:
			healthz = append(healthz, ph)
		}
		fmt.Fprintf(tw, "%s %s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%.1fs\t%.1fs\t%.1fs\t%.1f\t%.1f\t%d\t%d\t%d\t\n",
			ph.Endpoint, suffix(ph.Name), ph.Answered, ph.ReqPerSec, lat(ph.P50), lat(ph.P99), lat(ph.P999), lat(ph.Max),
			ph.Non2xx, ph.Errors, ph.ServerCPU.Seconds(), ph.LoadgenCPU.Seconds(), ph.OtherCPU.Seconds(),
			perReq(ph.ServerCPU, ph.Answered), perReq(ph.LoadgenCPU, ph.Answered), ph.GCs, allocPerReq(ph), ph.KeyLoads)
		for i, ip := range ph.PerInstance {
			fmt.Fprintf(tw, "  instance %d (%d conns)\t%d\t%.0f\t%s\t%s\t%s\t\t%d\t%d\t%.1fs\t\t\t%.1f\t\t\t\t\t\n",
				i+1, ip.Conns, ip.Answered, ip.ReqPerSec, lat(ip.P50), lat(ip.P99), lat(ip.P999), ip.Non2xx, ip.Errors,
				ph.InstanceCPU[i].Seconds(), perReq(ph.InstanceCPU[i], ip.Answered))
		}
	}
	tw.Flush()
	for _, ph := range r.Phases {
		if ph.Mode == "closed" && (ph.Non2xx > 0 || ph.Errors > 0) {
			p("  %s %s statuses: %s; first error: %s", ph.Endpoint, suffix(ph.Name), statuses(ph.Statuses), ph.FirstError)
		}
	}
	idleNote(p, r, "closed")
	printBare(p, r.Bare)
	printTokens(p, verify, tokens)
	if r.Mode == "scale" {
		p("  CPU columns: seconds used during the phase by both instances (\"server\"; per instance below each row), this generator, and every process of the machine but these, Redis and PostgreSQL (\"other\"; Redis and PostgreSQL: see below) (%s CPUs × %s = %.0fs available)",
			r.Machine["cpus (runtime.NumCPU)"], o.duration, float64(runtime.NumCPU())*o.duration.Seconds())
	} else {
		p("  CPU columns: seconds used during the phase by the server, this generator, and every other process of the machine (%s CPUs × %s = %.0fs available)",
			r.Machine["cpus (runtime.NumCPU)"], o.duration, float64(runtime.NumCPU())*o.duration.Seconds())
	}
	return verify, healthz
}

// printTokens compares the exchange with verify: what an ECDSA signature
// and the token's JSON add per request.
func printTokens(p printf, verify, tokens *phase) {
	if verify == nil || tokens == nil || verify.ReqPerSec == 0 {
		return
	}
	p("  /v1/tokens beside /v1/verify: %.0f vs %.0f req/s (%.3f of verify), server %.1f vs %.1f µs/req (+%.1f µs for the signature and token)",
		tokens.ReqPerSec, verify.ReqPerSec, tokens.ReqPerSec/verify.ReqPerSec,
		perReq(tokens.ServerCPU, tokens.Answered), perReq(verify.ServerCPU, verify.Answered),
		perReq(tokens.ServerCPU, tokens.Answered)-perReq(verify.ServerCPU, verify.Answered))
}

// printClosedTargets prints the closed loop's throughput targets.
func printClosedTargets(p printf, r *report, verify *phase, healthz []*phase) {
	if verify == nil || len(healthz) == 0 {
		return
	}
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
	if r.Mode == "scale" {
		var each []string
		for i, ip := range verify.PerInstance {
			each = append(each, fmt.Sprintf("instance %d %.0f/s", i+1, float64(ip.OK)/max(verify.Elapsed.Seconds(), 1e-9)))
		}
		p("  target ≥ %d valid verifications/s across the %d instances: %s (%.0f/s answered 200 VALID: %s)",
			scaleTarget, len(r.Instances), verdict(verify.OKPerSec >= scaleTarget), verify.OKPerSec, strings.Join(each, ", "))
	}
}

// printOpen prints the open-loop table, its notes and its target.
func printOpen(out io.Writer, p printf, r *report, o options) {
	var openVerify *phase
	p("open loop: %d req/s scheduled, latency from each request's intended send time (coordinated omission corrected)", o.rate)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
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

// printMemories prints each instance's memory (and, in scale mode first,
// what Redis and PostgreSQL used).
func printMemories(p printf, r *report) {
	if r.Mode == "scale" {
		printBacking(p, r)
	}
	for i, in := range r.Instances {
		if i > 0 {
			p("")
		}
		title := "memory (server process)"
		if len(r.Instances) > 1 {
			title = fmt.Sprintf("memory (instance %d, pid %d, %s)", i+1, in.Pid, in.Base)
		}
		printMemory(p, title, in.Memory)
	}
	if r.RedisRSS > 0 {
		p("  redis-server RSS at the end (INFO used_memory_rss): %s", mib(r.RedisRSS))
	}
	p("")
}

// printServers prints how each instance stopped and its log at warn level
// and above.
func printServers(p printf, r *report) {
	for i, in := range r.Instances {
		if len(r.Instances) > 1 {
			p("server (instance %d)", i+1)
		} else {
			p("server")
		}
		stopErr := ""
		if in.StopErr != "" {
			stopErr = "; error: " + in.StopErr
		}
		p("  graceful stop (SIGTERM) took %s%s", round(time.Duration(in.Shutdown)), stopErr)
		p("  log lines at warn level and above: %d", len(in.LogLines))
		for i, l := range in.LogLines {
			if i == 10 {
				p("    … %d more", len(in.LogLines)-10)
				break
			}
			p("    %s", l)
		}
	}
}

// idleNote says, with -wait-idle, whether the machine was quiet when each
// phase began.
func idleNote(p printf, r *report, mode string) {
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

// allocPerReq is the heap the servers allocated per answered request in
// a phase (0 for the bare server, which is not scraped).
func allocPerReq(ph *phase) int64 {
	if ph.Answered == 0 {
		return 0
	}
	return ph.ServerAlloc / ph.Answered
}

func suffix(name string) string {
	if _, s, ok := strings.Cut(name, " "); ok {
		return s
	}
	return ""
}

// printMemory prints one instance's memory section.
func printMemory(p printf, title string, m memory) {
	p("%s", title)
	p("  RSS after start, nothing cached     %s", mib(m.RSSStart))
	p("  RSS with the cache warm             %s  (%d cached keys, Go heap in use %s)", mib(m.RSSWarm), m.CachedKeys, mib(int64(m.HeapWarm)))
	if m.CachedKeys >= 10_000 && m.RSSWarm > 0 && m.RSSStart > 0 {
		// Below 10 000 keys the connections' buffers and goroutines
		// outweigh the cache.
		p("  RSS growth per cached key           %.0f bytes", float64(m.RSSWarm-m.RSSStart)/float64(m.CachedKeys))
		p("  RSS per cached key (whole process)  %.0f bytes", float64(m.RSSWarm)/float64(m.CachedKeys))
		if m.HeapStart > 0 {
			p("  Go heap in use growth per key       %.0f bytes (garbage not yet collected included)", (m.HeapWarm-m.HeapStart)/float64(m.CachedKeys))
		}
		if m.LiveWarm > 0 {
			p("  live heap at the last GC            %s, %.0f bytes per cached key (GOGC %.0f then)", mib(int64(m.LiveWarm)), m.LiveWarm/float64(m.CachedKeys), m.GOGCWarm)
		} else {
			p("  live heap at the last GC            unknown: the memory limit set the heap goal (GOGC %.0f)", m.GOGCWarm)
		}
	}
	printBreakdown(p, m)
	p("  RSS at the end / peak (VmHWM)       %s / %s  (%d cached keys, heap in use %s)", mib(m.RSSEnd), mib(m.PeakRSS), m.CachedEnd, mib(int64(m.HeapEnd)))
	if m.CachedKeys >= 99_000 {
		// (A few warm-up reads may fail on a loaded machine.)
		settled := m.RSSWarm
		if m.RSSSettled > 0 {
			settled = m.RSSSettled
		}
		p("  target ≤ 100 MB resident with 100 000 cached keys after warm-up and a GC: %s (%.1f MB settled; %.1f MB warm, %.1f MB peak)",
			verdict(settled <= 100e6), float64(settled)/1e6, float64(m.RSSWarm)/1e6, float64(m.PeakRSS)/1e6)
	} else {
		p("  memory target (100 000 cached keys < 100 MB): run with -keys 100000")
	}
	p("  GC: %d cycles in the server's life, longest stop-the-world pause %s", m.GCCount, lat(seconds(m.GCMaxPause)))
	p("  key reads from the database: %d in all (cache misses, and refreshes when an entry is older than the verifier's TTL);", m.KeyLoadsAll)
	p("  the \"key loads\" columns count them per phase: zero means no database read on the hot path")
	p("  usage rows pending %.0f, dropped %.0f", m.UsagePend, m.UsageDrops)
}

// scaleTarget is the target for -mode scale: valid verifications
// per second across the two instances.
const scaleTarget = 25_000

// evalCommands are the commands that run a Lua script: one round trip
// each, unless pipelined (round trips/req counts Redis's read events).
var evalCommands = []string{"evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro"}

// scriptInner are the commands the verification script (take.lua) runs
// inside Redis: counted by Redis, sent by nobody.
var scriptInner = []string{"get", "mget", "set", "incrby", "hget", "hset", "hincrby", "expire"}

// printBacking prints what Redis and PostgreSQL did in each phase.
func printBacking(p printf, r *report) {
	p("redis and postgresql, per phase (Redis INFO all before and after the phase, its own INFO calls left out)")
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tanswered\tredis commands\tcommands/req\tscript calls/req\tround trips/req\tredis CPU\tredis µs/req\tpostgres CPU\t")
	var verify *phase
	for _, ph := range r.Phases {
		name := ph.Mode + " " + ph.Endpoint
		if sfx := suffix(ph.Name); sfx != "" && ph.Mode == "closed" {
			name += " " + sfx
		}
		if ph.Redis == nil {
			fmt.Fprintf(tw, "%s\t%d\t?\t?\t?\t?\t%.1fs\t\t%.1fs\t\n", name, ph.Answered, ph.RedisCPU.Seconds(), ph.PostgresCPU.Seconds())
			continue
		}
		if ph.Mode == "closed" && strings.Contains(ph.Endpoint, "verify") {
			verify = ph
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.1fs\t%.1f\t%.1fs\t\n", name, ph.Answered, ph.Redis.Commands,
			perN(ph.Redis.Commands, ph.Answered), perN(scriptCalls(ph.Redis), ph.Answered), perN(ph.Redis.Reads, ph.Answered),
			ph.RedisCPU.Seconds(), perReq(ph.RedisCPU, ph.Answered), ph.PostgresCPU.Seconds())
	}
	tw.Flush()
	for l := range strings.SplitSeq(strings.TrimRight(b.String(), "\n"), "\n") {
		p("%s", l)
	}
	for _, ph := range r.Phases {
		if ph.Redis == nil || ph.Answered == 0 || len(ph.Redis.ByCommand) == 0 {
			continue
		}
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(ph.Redis.ByCommand)) {
			parts = append(parts, fmt.Sprintf("%s %.3f (%d)", c, perN(ph.Redis.ByCommand[c], ph.Answered), ph.Redis.ByCommand[c]))
		}
		name := ph.Mode + " " + ph.Endpoint
		if sfx := suffix(ph.Name); sfx != "" && ph.Mode == "closed" {
			name += " " + sfx
		}
		p("  %s, Redis commands per request (and in all): %s", name, strings.Join(parts, ", "))
	}
	if verify != nil && verify.Answered > 0 {
		p("  round trips per verification (closed loop): %.3f (Redis read events, INFO total_reads_processed: a pipelined batch of calls is one); %.3f script call(s) (EVALSHA/EVAL) + %.3f other command(s) sent from outside a script (key loads in the phase: %d)",
			perN(verify.Redis.Reads, verify.Answered), perN(scriptCalls(verify.Redis), verify.Answered), perN(topLevelOthers(verify), verify.Answered), verify.KeyLoads)
		p("  Redis counts the GET/MGET/SET/INCRBY/HINCRBY a script runs as commands too (\"commands/req\"); they cost no round trip")
	}
	p("")
}

// scriptCalls is the number of script invocations of a phase.
func scriptCalls(rp *redisPhase) int64 {
	var n int64
	for _, c := range evalCommands {
		n += rp.ByCommand[c]
	}
	return n
}

// topLevelOthers estimates the commands of a phase that were not run by the
// verification script: all but the script calls and the commands the script
// itself runs (scriptInner). A key load's GET of the change counter
// would hide among the script's GETs, hence the key loads beside it.
func topLevelOthers(ph *phase) int64 {
	var n int64
	for c, k := range ph.Redis.ByCommand {
		if slices.Contains(evalCommands, c) || slices.Contains(scriptInner, c) {
			continue
		}
		n += k
	}
	return n
}

func perN(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// printComparison prints the results of -mode both side by side.
func printComparison(out io.Writer, single, scale *report, o options) {
	p := printf(func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) })
	p("")
	p("==================== single vs. scale, side by side ====================")
	p("closed loop -c %d, open loop -rate %d, -d %s each, -keys %d; the same machine, one run after the other", o.conns, o.rate, o.duration, o.keys)
	c := &comparison{tw: tabwriter.NewWriter(out, 0, 0, 2, ' ', 0), single: single, scale: scale}
	fmt.Fprintf(c.tw, "\tsingle SQLite\ttwo instances PG+Redis\t\n")
	c.phaseRows("closed", "healthz #1", "closed GET /healthz #1")
	c.phaseRows("closed", "verify", "closed POST /v1/verify")
	c.phaseRows("closed", "healthz #2", "closed GET /healthz #2")
	c.phaseRows("closed", "tokens", "closed POST /v1/tokens")
	c.row("verify/healthz ratio (best healthz)", func(r *report) string { return fmt.Sprintf("%.3f", r.Ratio) })
	if o.rate > 0 {
		c.phaseRows("open", "verify", "open POST /v1/verify")
		c.phaseRows("open", "healthz", "open GET /healthz")
	}
	c.row("Redis commands / script calls per verify", func(r *report) string {
		ph := findPhase(r, "closed", "verify")
		if ph == nil || ph.Redis == nil {
			return "-"
		}
		return fmt.Sprintf("%.3f / %.3f", perN(ph.Redis.Commands, ph.Answered), perN(scriptCalls(ph.Redis), ph.Answered))
	})
	c.memoryRows()
	c.tw.Flush()
	if v := findPhase(scale, "closed", "verify"); v != nil {
		p("target ≥ %d valid verifications/s across the two instances: %s (%.0f/s)", scaleTarget, verdict(v.OKPerSec >= scaleTarget), v.OKPerSec)
	}
	p("=========================================================================")
}

// findPhase returns r's phase of mode and name, or nil.
func findPhase(r *report, mode, name string) *phase {
	for _, ph := range r.Phases {
		if ph.Mode == mode && ph.Name == name {
			return ph
		}
	}
	return nil
}

// comparison is the side-by-side table of a single and a scale report.
type comparison struct {
	tw            *tabwriter.Writer
	single, scale *report
}

// row prints one line: label, then f of each report.
func (c *comparison) row(label string, f func(r *report) string) {
	fmt.Fprintf(c.tw, "%s\t%s\t%s\t\n", label, f(c.single), f(c.scale))
}

// phaseRow prints one line of the phase of mode and name in each report
// ("-" where a report has none).
func (c *comparison) phaseRow(mode, name, label string, f func(ph *phase) string) {
	c.row(label, func(r *report) string {
		if ph := findPhase(r, mode, name); ph != nil {
			return f(ph)
		}
		return "-"
	})
}

// phaseRows prints the lines of one phase: throughput, latency, errors
// and CPU.
func (c *comparison) phaseRows(mode, name, label string) {
	row := func(label string, f func(ph *phase) string) { c.phaseRow(mode, name, label, f) }
	if mode == "closed" {
		row(label+" req/s", func(ph *phase) string { return fmt.Sprintf("%.0f", ph.ReqPerSec) })
		if len(c.scale.Instances) > 1 {
			row("  per instance req/s", perInstanceRates)
		}
	} else {
		row(label+" achieved/s", func(ph *phase) string { return fmt.Sprintf("%.0f of %d", ph.ReqPerSec, ph.TargetRate) })
	}
	if strings.Contains(name, "verify") {
		row("  valid (200)/s", func(ph *phase) string { return fmt.Sprintf("%.0f", ph.OKPerSec) })
	}
	row("  p50 / p99 / p99.9", func(ph *phase) string {
		return fmt.Sprintf("%s / %s / %s", lat(ph.P50), lat(ph.P99), lat(ph.P999))
	})
	row("  non-2xx / errors", func(ph *phase) string { return fmt.Sprintf("%d / %d", ph.Non2xx, ph.Errors) })
	row("  CPU keyhold / loadgen / other", func(ph *phase) string {
		return fmt.Sprintf("%.1fs / %.1fs / %.1fs", ph.ServerCPU.Seconds(), ph.LoadgenCPU.Seconds(), ph.OtherCPU.Seconds())
	})
	if ph := findPhase(c.scale, mode, name); ph != nil && ph.Redis != nil {
		c.row("  CPU redis / postgres", func(r *report) string {
			if r == c.single {
				return "-"
			}
			return fmt.Sprintf("%.1fs / %.1fs", ph.RedisCPU.Seconds(), ph.PostgresCPU.Seconds())
		})
	}
}

// perInstanceRates is "a + b": each instance's req/s in a closed loop.
func perInstanceRates(ph *phase) string {
	if len(ph.PerInstance) == 0 {
		return "-"
	}
	var each []string
	for _, ip := range ph.PerInstance {
		each = append(each, fmt.Sprintf("%.0f", ip.ReqPerSec))
	}
	return strings.Join(each, " + ")
}

// memoryRows prints each instance's RSS, and Redis's.
func (c *comparison) memoryRows() {
	n := max(len(c.single.Instances), len(c.scale.Instances))
	for i := range n {
		label := fmt.Sprintf("RSS instance %d warm / end / peak", i+1)
		if n == 1 {
			label = "RSS warm / end / peak"
		}
		c.row(label, func(r *report) string {
			if i >= len(r.Instances) {
				return "-"
			}
			m := r.Instances[i].Memory
			return fmt.Sprintf("%s / %s / %s", mib(m.RSSWarm), mib(m.RSSEnd), mib(m.PeakRSS))
		})
	}
	c.row("redis-server RSS", func(r *report) string {
		if r.RedisRSS == 0 {
			return "-"
		}
		return mib(r.RedisRSS)
	})
}
