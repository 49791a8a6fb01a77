package sdktest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CPUMeter measures, between Start and Report, the CPU time this process
// used and the CPU time the whole machine used (from /proc/stat, so on Linux
// only): on a machine that runs the database server and the benchmark alone,
// the difference is the server's share. Report adds them to a benchmark as
// microseconds per unit of work, with the machine's idle share, so that a
// figure says where the time went and whether the machine was saturated.
type CPUMeter struct {
	self, busy, idle time.Duration
	ok               bool
}

// StartCPUMeter starts a meter.
func StartCPUMeter() *CPUMeter {
	m := &CPUMeter{}
	m.self = selfCPU()
	m.busy, m.idle, m.ok = machineCPU()
	return m
}

// Report adds the metrics "client-µs/<unit>", "server-µs/<unit>" (the rest
// of the machine) and "idle-%" to b, for n units of work. Off Linux it adds
// the client figure alone.
func (m *CPUMeter) Report(b *testing.B, n int, unit string) {
	if n <= 0 {
		return
	}
	self := selfCPU() - m.self
	b.ReportMetric(float64(self.Microseconds())/float64(n), "client-µs/"+unit)
	busy, idle, ok := machineCPU()
	if !ok || !m.ok {
		return
	}
	busy, idle = busy-m.busy, idle-m.idle
	b.ReportMetric(float64((busy-self).Microseconds())/float64(n), "server-µs/"+unit)
	if busy+idle > 0 {
		b.ReportMetric(100*float64(idle)/float64(busy+idle), "idle-%")
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU reads the busy and idle (iowait included) time of all CPUs.
func machineCPU() (busy, idle time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, false
	}
	tick := time.Second / 100 // USER_HZ, 100 on every Linux port Go supports
	for i, s := range f[1:8] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i == 3 || i == 4 { // idle, iowait
			idle += time.Duration(v) * tick
		} else {
			busy += time.Duration(v) * tick
		}
	}
	return busy, idle, true
}
