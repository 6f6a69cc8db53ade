package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// benchRun is one mode's run: what it started, and the report it fills.
type benchRun struct {
	ctx   context.Context
	o     options
	out   io.Writer
	scale bool
	rep   *report

	dir    string   // the run's temporary folder
	back   *backing // PostgreSQL and Redis (scale mode), or nil
	srvs   []*server
	bases  []string // the servers' base URLs
	bodies [][]byte // one /v1/verify body per key

	ctl    *http.Client // readiness and scrapes
	client *http.Client // the closed loops
	dials  atomic.Int64 // connections client opened
	wrk    *wrkDriver   // -driver wrk, or nil
	wrkCPU atomic.Int64 // CPU time (ns) of the wrk runs so far
}

// bench runs one mode: single (one instance on SQLite) or scale (two
// instances on a PostgreSQL and a Redis of their own). Everything it starts
// it stops before it returns, on error and on Ctrl-C too: the keyhold
// processes first (they flush usage), then Redis and PostgreSQL.
func bench(ctx context.Context, o options, mode string, out io.Writer) (*report, error) {
	b := &benchRun{ctx: ctx, o: o, out: out, scale: mode == "scale", rep: newReport(mode)}
	defer b.close()
	env, dbURL, err := b.prepare()
	if err != nil {
		return nil, err
	}
	if err := b.seedKeys(dbURL, env.plansPath); err != nil {
		return nil, err
	}
	if err := b.startServers(env.vars); err != nil {
		return nil, err
	}
	if err := b.warmCaches(); err != nil {
		return nil, err
	}
	b.runPhases()
	b.readEndState()
	b.stopServers()
	return b.rep, nil
}

// newReport starts a mode's report with the machine's facts and the flags.
func newReport(mode string) *report {
	rep := &report{Mode: mode, Started: time.Now().UTC(), Machine: machineFacts(), Options: map[string]string{}}
	rep.Machine["load average at start"] = loadAvg()
	flag.VisitAll(func(f *flag.Flag) { rep.Options[f.Name] = f.Value.String() })
	return rep
}

func (b *benchRun) say(format string, args ...any) {
	fmt.Fprintf(b.out, "loadgen: "+format+"\n", args...)
}

// close stops what the run started that is still running and removes its
// folder (unless -keep).
func (b *benchRun) close() {
	for _, s := range b.srvs {
		if s != nil && s.alive() {
			_, _ = s.stop(20 * time.Second)
		}
	}
	if b.back != nil {
		b.say("stopping Redis and PostgreSQL")
		b.back.stop()
	}
	if b.dir != "" && !b.o.keep {
		os.RemoveAll(b.dir)
	}
}

// keyholdEnv is the environment every instance gets, and the plans file
// in it.
type keyholdEnv struct {
	vars      []string
	plansPath string
}

// prepare makes the run's folder and plans file and, in scale mode,
// starts PostgreSQL and Redis; it returns the instances' environment and
// the database they share.
func (b *benchRun) prepare() (keyholdEnv, string, error) {
	var env keyholdEnv
	dir, err := os.MkdirTemp(benchBase(b.scale), "keyhold-bench-")
	if err != nil {
		return env, "", err
	}
	b.dir = dir
	if b.o.keep {
		b.say("keeping %s", dir)
	}
	if b.o.driver == "wrk" {
		if b.wrk, err = newWrkDriver(dir); err != nil {
			return env, "", err
		}
		b.rep.Driver = "wrk (" + b.wrk.path + "), one process per instance, the machine's cores shared out as its threads"
	} else {
		b.rep.Driver = "loadgen's own Go client"
	}
	env.plansPath = filepath.Join(dir, "plans.json")
	if err := writePlans(env.plansPath, max(b.o.keys, b.o.perAccount)); err != nil {
		return env, "", err
	}
	env.vars = []string{"KEYHOLD_PLANS_FILE=" + env.plansPath}
	dbURL := "sqlite://" + filepath.Join(dir, "keyhold.db")
	b.rep.Storage = "SQLite (embedded default), fresh database in a temporary folder"
	if b.scale {
		vars, err := b.startBacking()
		if err != nil {
			return env, "", err
		}
		env.vars = append(env.vars, vars...)
		dbURL = b.back.pgURL
	}
	env.vars = append(env.vars, "KEYHOLD_DATABASE_URL="+dbURL)
	return env, dbURL, nil
}

// instances is how many keyhold processes the mode runs.
func (b *benchRun) instances() int {
	if b.scale {
		return 2
	}
	return 1
}

// startBacking starts the PostgreSQL and Redis of scale mode and returns
// the settings that point the instances at them, with a shared secret.
func (b *benchRun) startBacking() ([]string, error) {
	// PostgreSQL runs as another user when this program is root: it must
	// be able to reach its folder inside this one.
	if err := os.Chmod(b.dir, 0o755); err != nil {
		return nil, err
	}
	b.say("starting PostgreSQL and Redis on 127.0.0.1")
	back, err := startBacking(b.ctx, b.dir)
	if err != nil {
		return nil, err
	}
	b.back = back
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	ri, _ := back.info()
	b.rep.Storage = fmt.Sprintf("PostgreSQL (%s; fsync, full_page_writes and synchronous_commit off) + Redis %s (no persistence), both temporary, started by loadgen on 127.0.0.1; %d keyhold instances with the same KEYHOLD_DATABASE_URL, KEYHOLD_REDIS_URL, KEYHOLD_SECRET, KEYHOLD_PLANS_FILE",
		back.pgVersion, ri.version, b.instances())
	b.say("PostgreSQL pid %d at %s, Redis pid %d at %s", back.pg.pid(), redactDSN(back.pgURL), back.redis.pid(), back.redisAddr)
	return []string{"KEYHOLD_REDIS_URL=" + back.redisURL(), "KEYHOLD_SECRET=" + hex.EncodeToString(secret)}, nil
}

// seedKeys creates the accounts and keys through the real services and
// keeps one verify body per key.
func (b *benchRun) seedKeys(dbURL, plansPath string) error {
	o := b.o
	storeName := "SQLite"
	if b.scale {
		storeName = "PostgreSQL"
	}
	dbPath := filepath.Join(b.dir, "keyhold.db")
	if o.seedCache != "" && !b.scale {
		secrets, ok, err := loadSeedCache(o.seedCache, dbPath, o.keys)
		if err != nil {
			return err
		}
		if ok {
			b.say("seed cache: %d keys and their database from %s", len(secrets), o.seedCache)
			b.rep.Seed = seedStats{Keys: len(secrets)}
			b.setBodies(secrets)
			return b.markEvents(dbURL)
		}
	}
	b.say("seeding %d keys through keys.Service (%s, %d per account, %d writer(s))", o.keys, storeName, o.perAccount, o.seedWorkers)
	secrets, st, err := seed(b.ctx, dbURL, plansPath, o.keys, o.perAccount, o.seedWorkers, b.out)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if o.seedCache != "" && !b.scale {
		if err := saveSeedCache(o.seedCache, dbPath, secrets); err != nil {
			return err
		}
		b.say("seed cache: kept the database and keys in %s", o.seedCache)
	}
	if b.scale {
		st.DatabaseSize = pgDatabaseSize(b.ctx, dbURL)
	} else if fi, err := os.Stat(dbPath); err == nil {
		st.DatabaseSize = fi.Size()
	}
	b.rep.Seed = st
	b.say("seeded %d accounts in %s, %d keys in %s (%s per key)", st.Accounts, round(st.SignupTime), st.Keys, round(st.KeysTime), st.PerKey.Round(time.Microsecond))
	b.setBodies(secrets)
	return b.markEvents(dbURL)
}

// markEvents marks seeding's events fanned out (markEventsFannedOut).
func (b *benchRun) markEvents(dbURL string) error {
	n, err := markEventsFannedOut(b.ctx, dbURL)
	if err != nil {
		return err
	}
	if n > 0 {
		b.say("marked seeding's %d events fanned out (no webhook endpoint: none would be delivered)", n)
	}
	return nil
}

// setBodies keeps one verify body per key.
func (b *benchRun) setBodies(secrets []string) {
	b.bodies = make([][]byte, len(secrets))
	for i, s := range secrets {
		b.bodies[i] = []byte(`{"key":"` + s + `"}`)
	}
}

// startServers starts every instance and waits until each is ready.
func (b *benchRun) startServers(env []string) error {
	n := b.instances()
	b.srvs = make([]*server, 0, n)
	for i := range n {
		logName := "server.log"
		if n > 1 {
			logName = fmt.Sprintf("server-%d.log", i+1)
		}
		srv, err := startServer(b.o.keyhold, b.dir, logName, env)
		if err != nil {
			return err
		}
		b.srvs = append(b.srvs, srv)
	}
	b.ctl = newClient(4*n, nil)
	b.bases = make([]string, n)
	b.rep.Instances = make([]*instance, n)
	for i, srv := range b.srvs {
		if err := srv.waitReady(b.ctx, b.ctl, 30*time.Second); err != nil {
			return err
		}
		b.bases[i] = srv.base
		b.rep.Instances[i] = &instance{Pid: srv.cmd.Process.Pid, Base: srv.base}
		b.say("keyhold pid %d ready at %s", srv.cmd.Process.Pid, srv.base)
		b.rep.Instances[i].Memory.RSSStart, _ = srv.procStatus()
	}
	if m, err := b.srvs[0].scrape(b.ctx, b.ctl); err == nil {
		b.rep.Instances[0].Memory.HeapStart = m.sum("go_memstats_heap_inuse_bytes")
		if v := m.sum("go_sched_gomaxprocs_threads"); v > 0 {
			b.rep.Machine["server GOMAXPROCS"] = fmt.Sprint(v)
		}
	}
	return nil
}

// warmCaches verifies every key once on every instance, then records each
// instance's memory with the cache warm.
func (b *benchRun) warmCaches() error {
	b.client = newClient(b.o.conns, &b.dials)
	for i, srv := range b.srvs {
		b.say("warming the cache of %s: verifying each of %d keys once", srv.base, len(b.bodies))
		wt, wo, err := warm(b.ctx, b.client, srv.base, b.bodies, b.o.conns)
		if err != nil {
			return fmt.Errorf("warm: %w", err)
		}
		_, non2, by := wo.counts()
		b.rep.WarmTime += wt
		b.rep.WarmNon2 += non2
		if non2 > 0 {
			b.say("WARNING: %d of %d warm-up verifications on instance %d were not 2xx: %v", non2, len(b.bodies), i+1, by)
		}
	}
	time.Sleep(b.o.pause) // let the first usage flush pass
	for i, srv := range b.srvs {
		m := &b.rep.Instances[i].Memory
		m.RSSWarm, _ = srv.procStatus()
		mt, err := srv.scrape(b.ctx, b.ctl)
		m.Warm = readBreakdown(srv.cmd.Process.Pid, mt)
		if err == nil {
			m.CachedKeys = int64(mt.sum("keyhold_verify_cached_keys"))
			m.HeapWarm = mt.sum("go_memstats_heap_inuse_bytes")
			m.GOGCWarm = mt.sum("go_gc_gogc_percent")
			if goal, limit := mt.sum("go_memstats_next_gc_bytes"), mt.sum("go_gc_gomemlimit_bytes"); m.GOGCWarm > 0 && goal < 0.9*limit {
				m.LiveWarm = goal / (1 + m.GOGCWarm/100)
			}
		}
		b.say("warm: instance %d has %d keys cached; RSS %s", i+1, m.CachedKeys, mib(m.RSSWarm))
	}
	b.say("warm-up took %s", round(b.rep.WarmTime))
	if b.o.settle > 0 {
		b.settle()
	}
	return nil
}

// settle waits -settle after the warm reading, with the servers idle, and
// reads each one's memory again: what an idle server holds after warm-up
// and the collections that followed (a server returns memory it no longer
// needs some seconds after a burst: cmd/keyhold's gctune.go).
func (b *benchRun) settle() {
	gcs := func(srv *server) uint64 {
		mt, err := srv.scrape(b.ctx, b.ctl)
		if err != nil {
			return 0
		}
		n, _, _ := mt.summary("go_gc_duration_seconds", 1)
		return n
	}
	n0 := make([]uint64, len(b.srvs))
	for i, srv := range b.srvs {
		n0[i] = gcs(srv)
	}
	t0 := time.Now()
	select {
	case <-b.ctx.Done():
	case <-time.After(b.o.settle):
	}
	for i, srv := range b.srvs {
		m := &b.rep.Instances[i].Memory
		m.SettleWait = time.Since(t0)
		m.SettleGCs = int64(gcs(srv) - n0[i])
		m.RSSSettled, _ = srv.procStatus()
		mt, err := srv.scrape(b.ctx, b.ctl)
		m.SettledBreakdown = readBreakdown(srv.cmd.Process.Pid, mt)
		if err == nil {
			if gogc, goal := mt.sum("go_gc_gogc_percent"), mt.sum("go_memstats_next_gc_bytes"); gogc > 0 && goal < 0.9*mt.sum("go_gc_gomemlimit_bytes") {
				m.LiveSettled = goal / (1 + gogc/100)
			}
		}
		b.say("settled: instance %d RSS %s, %s idle after the warm reading, %d collection(s) meanwhile", i+1, mib(m.RSSSettled), round(m.SettleWait), m.SettleGCs)
	}
}

// runPhases runs the measured phases (closed loop: healthz, verify,
// healthz, tokens; open loop: verify, healthz). Closed loop: each instance gets its
// share of the connections, with targets of its own; the open loop
// alternates between the instances.
func (b *benchRun) runPhases() {
	healthEach, verifyEach, tokensEach := make([]target, len(b.bases)), make([]target, len(b.bases)), make([]target, len(b.bases))
	for i, base := range b.bases {
		healthEach[i], verifyEach[i] = healthTarget(base), verifyTarget([]string{base}, b.bodies)
		tokensEach[i] = tokensTarget([]string{base}, b.bodies)
	}
	if b.o.warmup > 0 {
		b.closed(verifyEach, b.o.conns, b.o.warmup)
		time.Sleep(b.o.pause)
	}
	h1 := b.closedPhase("healthz #1", healthEach)
	v := b.closedPhase("verify", verifyEach)
	if !b.scale {
		b.barePhase() // the ceiling, right after verify (bare.go)
	}
	h2 := b.closedPhase("healthz #2", healthEach)
	if best := max(h1.ReqPerSec, h2.ReqPerSec); best > 0 {
		b.rep.Ratio = v.ReqPerSec / best
	}
	// The exchange, on the same keys and connections, after the healthz
	// runs that bracket verify so they measure what they always did.
	b.closedPhase("tokens", tokensEach)
	if b.o.rate > 0 && b.ctx.Err() == nil {
		b.openPhase("verify", verifyTarget(b.bases, b.bodies))
		b.openPhase("healthz", healthTarget(b.bases...))
	}
	b.client.CloseIdleConnections()
}

// ours is the CPU time of every process this benchmark started, and of
// this one.
func (b *benchRun) ours() time.Duration {
	t := b.loadCPU()
	for _, s := range b.srvs {
		t += s.cpuTime()
	}
	if b.back != nil {
		t += b.back.redis.cpuTime() + b.back.pg.cpuTime()
	}
	return t
}
