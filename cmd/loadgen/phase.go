package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// phaseStart is what is read just before a phase's load begins, to take
// from what is read after it.
type phaseStart struct {
	metrics    []metrics // each instance's scrape
	serverCPU  []time.Duration
	redis      redisInfo
	redisErr   error
	redisCPU   time.Duration
	pgCPU      time.Duration
	selfCPU    time.Duration
	machineCPU time.Duration
}

// measure runs body as phase p: it waits for the machine to go quiet
// (-wait-idle), reads the counters before and after, fills p with the
// difference, adds p to the report and pauses.
func (b *benchRun) measure(p *phase, body func()) {
	if b.o.waitIdle > 0 {
		p.IdleWait, p.Idle = waitIdle(b.ctx, b.ours, b.o.waitIdle)
	}
	st := b.startPhase()
	body()
	mEnd := machineCPU()
	p.LoadgenCPU = b.loadCPU() - st.selfCPU
	p.InstanceCPU = make([]time.Duration, len(b.srvs))
	for i, s := range b.srvs {
		p.InstanceCPU[i] = s.cpuTime() - st.serverCPU[i]
		p.ServerCPU += p.InstanceCPU[i]
	}
	if b.back != nil {
		b.endBackingPhase(p, st)
	}
	p.OtherCPU = max(0, mEnd-st.machineCPU-p.ServerCPU-p.LoadgenCPU-p.RedisCPU-p.PostgresCPU)
	p.LoadAvg = loadAvg()
	b.endServerPhase(p, st)
	b.rep.Phases = append(b.rep.Phases, p)
	time.Sleep(b.o.pause)
}

// startPhase reads the counters a phase is measured against.
func (b *benchRun) startPhase() *phaseStart {
	st := &phaseStart{metrics: make([]metrics, len(b.srvs)), serverCPU: make([]time.Duration, len(b.srvs))}
	for i, s := range b.srvs {
		st.metrics[i], _ = s.scrape(b.ctx, b.ctl)
	}
	if b.back != nil {
		st.redis, st.redisErr = b.back.info()
		st.redisCPU, st.pgCPU = b.back.redis.cpuTime(), b.back.pg.cpuTime()
	}
	for i, s := range b.srvs {
		st.serverCPU[i] = s.cpuTime()
	}
	st.selfCPU, st.machineCPU = b.loadCPU(), machineCPU()
	return st
}

// endBackingPhase sets what Redis and PostgreSQL did during the phase.
func (b *benchRun) endBackingPhase(p *phase, st *phaseStart) {
	p.RedisCPU, p.PostgresCPU = b.back.redis.cpuTime()-st.redisCPU, b.back.pg.cpuTime()-st.pgCPU
	after, err := b.back.info()
	if err != nil || st.redisErr != nil {
		return
	}
	p.Redis = redisDelta(st.redis, after, p.RedisCPU)
}

// redisDelta is what Redis did between two INFOs, leaving out the INFO
// commands themselves.
func redisDelta(before, after redisInfo, cpu time.Duration) *redisPhase {
	rp := &redisPhase{ByCommand: map[string]int64{}, CPU: cpu}
	for c, n := range after.calls {
		if d := n - before.calls[c]; d > 0 && c != "info" {
			rp.ByCommand[c] = d
		}
	}
	rp.Commands = after.commands - before.commands - (after.calls["info"] - before.calls["info"])
	// Each INFO is one read event too.
	rp.Reads = max(0, after.reads-before.reads-(after.calls["info"]-before.calls["info"]))
	return rp
}

// endServerPhase sets the instances' collections, pauses, key loads and
// memory at the end of the phase.
func (b *benchRun) endServerPhase(p *phase, st *phaseStart) {
	p.InstanceRSS = make([]int64, len(b.srvs))
	for i, s := range b.srvs {
		if after, err := s.scrape(b.ctx, b.ctl); err == nil && st.metrics[i] != nil {
			before := st.metrics[i]
			n0, s0, _ := before.summary("go_gc_duration_seconds", 1)
			n1, s1, _ := after.summary("go_gc_duration_seconds", 1)
			p.GCs += int64(n1 - n0)
			p.GCPause += seconds(s1 - s0)
			p.KeyLoads += int64(after.sum("keyhold_verify_key_loads_total") - before.sum("keyhold_verify_key_loads_total"))
			p.ServerAlloc += int64(after.sum("go_memstats_alloc_bytes_total") - before.sum("go_memstats_alloc_bytes_total"))
		}
		p.InstanceRSS[i], _ = s.procStatus()
		p.ServerRSS += p.InstanceRSS[i]
	}
	if len(b.srvs) == 1 {
		p.InstanceCPU, p.InstanceRSS = nil, nil
	}
}

// closedPhase runs one closed-loop phase over ts (one target per
// instance, run together) and reports it in all and per instance.
func (b *benchRun) closedPhase(name string, ts []target) *phase {
	o := b.o
	p := &phase{Name: name, Endpoint: ts[0].name, Mode: "closed", Conns: o.conns}
	b.say("closed loop: %s, %d connections over %d instance(s), %s", ts[0].name, o.conns, len(ts), o.duration)
	var lats []latencies
	var ocs []*outcome
	var els []time.Duration
	d0 := b.dials.Load()
	b.measure(p, func() { lats, ocs, els = b.closed(ts, o.conns, o.duration) })
	p.Dials = b.dials.Load() - d0
	oc := &outcome{}
	for i := range ts {
		oc.add(ocs[i])
		p.Elapsed = max(p.Elapsed, els[i])
		if len(ts) > 1 {
			p.PerInstance = append(p.PerInstance, instanceShare(lats[i], ocs[i], connShare(o.conns, len(ts), i), els[i]))
		}
	}
	fill(p, merge(lats, ocs), oc)
	p.ReqPerSec = float64(p.Answered) / p.Elapsed.Seconds()
	p.OKPerSec = float64(p.Statuses[200]) / p.Elapsed.Seconds()
	return p
}

// instanceShare is one instance's part of a closed-loop phase.
func instanceShare(s latencies, oc *outcome, conns int, elapsed time.Duration) *instancePhase {
	ip := &instancePhase{Conns: conns, OK: oc.statuses[200].Load(),
		P50: s.quantile(0.5), P99: s.quantile(0.99), P999: s.quantile(0.999), Errors: oc.errors.Load()}
	ip.Answered, ip.Non2xx, _ = oc.counts()
	if elapsed > 0 {
		ip.ReqPerSec = float64(ip.Answered) / elapsed.Seconds()
	}
	return ip
}

// openPhase runs one open-loop phase against t at -rate requests per
// second, on connections of its own.
func (b *benchRun) openPhase(name string, t target) *phase {
	o := b.o
	p := &phase{Name: name, Endpoint: t.name, Mode: "open", TargetRate: o.rate}
	b.say("open loop: %s at %d req/s, %s, up to %d in flight, alternating over %d instance(s)", t.name, o.rate, o.duration, o.workers, len(b.srvs))
	var dials atomic.Int64
	client := newClient(o.workers, &dials)
	defer client.CloseIdleConnections()
	oc := &outcome{}
	var r openResult
	b.measure(p, func() { r = openLoop(b.ctx, client, t, o.rate, o.duration, o.workers, oc) })
	p.Dials, p.Sent, p.Elapsed = dials.Load(), r.sent, r.elapsed
	fill(p, r.total.snapshot(), oc)
	svc, lag := r.service.snapshot(), r.startLag.snapshot()
	p.ServiceP50, p.ServiceP99, p.ServiceP999 = svc.quantile(0.5), svc.quantile(0.99), svc.quantile(0.999)
	p.LagP99, p.LagMax = lag.quantile(0.99), time.Duration(lag.max)
	if p.Elapsed > 0 {
		p.ReqPerSec = float64(p.Answered) / p.Elapsed.Seconds()
		p.OKPerSec = float64(p.Statuses[200]) / p.Elapsed.Seconds()
	}
	return p
}

// readEndState records each instance's memory and counters after the
// last phase, and Redis's memory.
func (b *benchRun) readEndState() {
	for i, srv := range b.srvs {
		m := &b.rep.Instances[i].Memory
		m.RSSEnd, m.PeakRSS = srv.procStatus()
		mt, err := srv.scrape(b.ctx, b.ctl)
		if err != nil {
			continue
		}
		m.CachedEnd = int64(mt.sum("keyhold_verify_cached_keys"))
		m.HeapEnd = mt.sum("go_memstats_heap_inuse_bytes")
		n, _, pmax := mt.summary("go_gc_duration_seconds", 1)
		m.GCCount, m.GCMaxPause = int64(n), pmax
		m.UsageDrops = mt.sum("keyhold_usage_dropped_rows_total")
		m.UsagePend = mt.sum("keyhold_usage_pending_rows")
		m.KeyLoadsAll = int64(mt.sum("keyhold_verify_key_loads_total"))
	}
	if b.back != nil {
		if ri, err := b.back.info(); err == nil {
			b.rep.RedisRSS = ri.rss
		}
	}
	b.ctl.CloseIdleConnections()
}

// stopServers stops every instance with SIGTERM, recording how long each
// took and its log; the first instance's figures are the report's own.
func (b *benchRun) stopServers() {
	b.say("stopping keyhold (SIGTERM)")
	for i, srv := range b.srvs {
		in := b.rep.Instances[i]
		d, err := srv.stop(20 * time.Second)
		in.Shutdown = int64(d)
		if err != nil {
			in.StopErr = err.Error()
		}
		in.LogLines = srv.logLines()
	}
	first := b.rep.Instances[0]
	b.rep.Memory, b.rep.Shutdown, b.rep.StopErr, b.rep.LogLines = first.Memory, time.Duration(first.Shutdown), first.StopErr, first.LogLines
}

// closed runs one closed loop per target (instance) at the same time, with
// the run's driver (-driver), the connections shared out between them. It
// returns each loop's latencies, outcome and elapsed time.
func (b *benchRun) closed(ts []target, conns int, d time.Duration) ([]latencies, []*outcome, []time.Duration) {
	lats := make([]latencies, len(ts))
	if b.wrk == nil || d <= 0 {
		hs, ocs := make([]*hist, len(ts)), make([]*outcome, len(ts))
		els := closedSplit(b.ctx, b.client, ts, conns, d, hs, ocs)
		for i := range hs {
			lats[i] = hs[i].snapshot()
		}
		return lats, ocs, els
	}
	ocs, els := make([]*outcome, len(ts)), make([]time.Duration, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		c := connShare(conns, len(ts), i)
		lats[i], ocs[i] = &wrkResult{}, &outcome{}
		if c == 0 {
			continue
		}
		if t.wrk == nil {
			ocs[i].fail(fmt.Errorf("wrk cannot make the requests of %s", t.name))
			continue
		}
		wg.Go(func() {
			r, err := b.wrk.run(b.ctx, t.wrk, c, wrkThreads(len(ts), c), d)
			if err != nil {
				ocs[i].fail(err)
				return
			}
			b.wrkCPU.Add(int64(r.cpu))
			lats[i], ocs[i], els[i] = r, r.outcome(), r.elapsed
		})
	}
	wg.Wait()
	return lats, ocs, els
}

// loadCPU is the CPU time of the load generator so far: this program's,
// and that of the wrk processes it ran.
func (b *benchRun) loadCPU() time.Duration {
	return selfCPU() + time.Duration(b.wrkCPU.Load())
}

// merge is the latencies of several loops together. The Go client's
// histograms merge exactly; wrk's percentiles cannot, so each quantile is
// the highest of the loops' (a bound, not the exact value).
func merge(lats []latencies, ocs []*outcome) latencies {
	if len(lats) == 1 {
		return lats[0]
	}
	all := &snapshot{}
	exact := true
	for _, l := range lats {
		s, ok := l.(*snapshot)
		if !ok {
			exact = false
			break
		}
		all.add(s)
	}
	if exact {
		return all
	}
	m := &wrkResult{pct: map[int]time.Duration{}}
	var n int64
	var sum float64
	for i, l := range lats {
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
			m.pct[perMille(q)] = max(m.pct[perMille(q)], l.quantile(q))
		}
		m.top = max(m.top, l.maximum())
		k, _, _ := ocs[i].counts()
		n += k
		sum += float64(k) * float64(l.mean())
	}
	if n > 0 {
		m.avg = time.Duration(sum / float64(n))
	}
	return m
}
