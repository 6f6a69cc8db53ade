package main

// What the report says about processes and the machine, read from /proc
// through github.com/prometheus/procfs. A value that cannot be read is
// reported as unknown (-1, 0 or "?"), never as an error: the benchmark's
// numbers stand without it.

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// procFS is /proc; the zero FS when it cannot be opened, and then every
// read below fails and reports unknown.
var procFS, _ = procfs.NewDefaultFS()

// cpuSeconds converts procfs's seconds to a Duration.
func cpuSeconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// procMemory returns VmRSS and VmHWM (peak RSS) of pid, in bytes; -1, -1
// when it cannot be read (the process has gone).
func procMemory(pid int) (rss, hwm int64) {
	p, err := procFS.Proc(pid)
	if err != nil {
		return -1, -1
	}
	st, err := p.NewStatus()
	if err != nil {
		return -1, -1
	}
	return int64(st.VmRSS), int64(st.VmHWM)
}

// procRSSParts returns the anonymous and the file-backed part of pid's
// resident memory (smaps_rollup), in bytes; -1, -1 when it cannot be
// read. File-backed pages are mostly the binary's own code and read-only
// data, paged in from the page cache as they are touched.
func procRSSParts(pid int) (anon, file int64) {
	p, err := procFS.Proc(pid)
	if err != nil {
		return -1, -1
	}
	r, err := p.ProcSMapsRollup()
	if err != nil {
		return -1, -1
	}
	return int64(r.Anonymous), int64(r.Rss) - int64(r.Anonymous)
}

// procCPU returns the user+system CPU time of pid so far.
func procCPU(pid int) time.Duration {
	p, err := procFS.Proc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return cpuSeconds(st.CPUTime())
}

// treeCPU returns the user+system CPU time of the process pid and of its
// live children.
func treeCPU(pid int) time.Duration {
	procs, err := procFS.AllProcs()
	if err != nil {
		return 0
	}
	var t time.Duration
	for _, p := range procs {
		st, err := p.Stat()
		if err != nil || (p.PID != pid && st.PPID != pid) {
			continue
		}
		t += cpuSeconds(st.CPUTime())
	}
	return t
}

// selfCPU returns this process's user+system CPU time so far, to the
// microsecond (getrusage; /proc counts in hundredths of a second).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU returns the CPU time all processes of the machine were busy,
// summed over CPUs: every state but idle and iowait (guest time is already
// counted in user).
func machineCPU() time.Duration {
	st, err := procFS.Stat()
	if err != nil {
		return 0
	}
	return cpuSeconds(busySeconds(st.CPUTotal))
}

// busySeconds is the busy part of a CPU's times.
func busySeconds(c procfs.CPUStat) float64 {
	return c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
}

// loadAvg returns the 1, 5 and 15 minute load averages, or "?".
func loadAvg() string {
	la, err := procFS.LoadAvg()
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", la.Load1, la.Load5, la.Load15)
}

// cpuModel returns the model name of the first CPU, or "".
func cpuModel() string {
	ci, err := procFS.CPUInfo()
	if err != nil || len(ci) == 0 {
		return ""
	}
	return strings.TrimSpace(ci[0].ModelName)
}

// memTotal returns the machine's memory as /proc/meminfo says it ("24684092
// kB"), or "".
func memTotal() string {
	mi, err := procFS.Meminfo()
	if err != nil || mi.MemTotal == nil {
		return ""
	}
	return fmt.Sprintf("%d kB", *mi.MemTotal)
}
