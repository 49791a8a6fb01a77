package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// clientCPU is the CPU time (user and system) of this process so far.
func clientCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// server reads the CPU time of a PostgreSQL server's processes from /proc:
// the postmaster's, its children's (the backends and the background
// processes) and, through the postmaster's cutime and cstime, that of the
// children it has reaped (backends whose connections closed).
type server struct {
	postmaster int
}

// findServer finds the postmaster of the server at url: the parent of a
// backend.
func findServer(ctx context.Context, url string) (*server, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var backend int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return nil, err
	}
	st, err := readStat(backend)
	if err != nil {
		return nil, fmt.Errorf("the server's processes cannot be read (is it on this machine?): %w", err)
	}
	return &server{postmaster: st.ppid}, nil
}

// cpu returns the server's CPU time so far.
func (s *server) cpu() (time.Duration, error) {
	pm, err := readStat(s.postmaster)
	if err != nil {
		return 0, err
	}
	total := pm.self + pm.children
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == s.postmaster {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.ppid != s.postmaster {
			continue // gone since the listing, or another program's
		}
		total += st.self + st.children
	}
	return total, nil
}

// procStat is what the harness reads of /proc/<pid>/stat.
type procStat struct {
	ppid     int
	self     time.Duration // utime + stime
	children time.Duration // cutime + cstime: reaped children
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[end+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	num := func(field int) int64 { v, _ := strconv.ParseInt(f[field-3], 10, 64); return v }
	tick := time.Second / 100 // USER_HZ, 100 on every Linux port Go supports
	return procStat{
		ppid:     int(num(4)),
		self:     time.Duration(num(14)+num(15)) * tick,
		children: time.Duration(num(16)+num(17)) * tick,
	}, nil
}
