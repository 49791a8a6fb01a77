package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a private PostgreSQL server a test starts for itself: initdb
// into a temporary directory, then postgres on a free port of 127.0.0.1,
// stopped and removed when the test ends (StartCluster), or when a program
// that started it with Start calls Close. Unlike the shared server of
// Schema, a test may stop, crash and restart it without disturbing the
// tests of other packages that run at the same time.
//
// As root (initdb refuses to run as root) the cluster's directory belongs to
// the postgres OS user and initdb and pg_ctl run as that user.
//
// A Cluster is not safe for concurrent use: one goroutine of the test starts
// and stops it. A test binary killed before its cleanups run (a -timeout
// panic), or a program that exits without Close, leaves the server running.
type Cluster struct {
	bin  string               // the directory of initdb and pg_ctl
	dir  string               // the cluster's directory: data/, the socket, server.log
	port int                  // the TCP port on 127.0.0.1, the same across restarts
	cred *syscall.SysProcAttr // runs initdb and pg_ctl as the postgres user; nil when not root
	// settings are the server parameters Start was given (name=value).
	settings []string
	up       bool
}

// StopMode is how Stop shuts the server down (pg_ctl stop -m).
type StopMode string

const (
	// Immediate kills every server process at once, as a crash would:
	// clients see their connections drop, and the next start recovers from
	// the write-ahead log.
	Immediate StopMode = "immediate"
	// Fast ends every session (clients get an administrator-shutdown error)
	// and shuts the server down cleanly.
	Fast StopMode = "fast"
)

// startTimeout bounds one pg_ctl start or stop, in seconds.
const startTimeout = 60

// StartCluster initializes and starts a private server for the test and
// stops and removes it when the test ends. It runs with fsync off (tests
// need no durability across a power cut; a crash of the server alone loses
// no committed write). When PostgreSQL's server binaries are missing, or
// cannot run here, the test is skipped with a loud message — except under
// CI=true, where it fails.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := Start("fsync=off")
	if err != nil {
		var u *UnavailableError
		if errors.As(err, &u) {
			unavailable(t, u.Reason, u.Hint)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return c
}

// UnavailableError is Start's error when a private server cannot be had on
// this machine: the binaries are missing, initdb cannot run, or the server
// does not start.
type UnavailableError struct {
	Reason string // what went wrong
	Hint   string // what would make it work, or empty
}

func (e *UnavailableError) Error() string {
	if e.Hint == "" {
		return "pgtest: " + e.Reason
	}
	return "pgtest: " + e.Reason + " (" + e.Hint + ")"
}

// Start initializes and starts a private server outside a test — a
// benchmark program's, say; Close stops and removes it. Each of settings is
// a server parameter, "name=value" (postgres -c); without any the server
// runs with initdb's defaults (fsync on). A server that cannot be had here
// is an *UnavailableError.
func Start(settings ...string) (*Cluster, error) {
	for _, s := range settings {
		if name, _, ok := strings.Cut(s, "="); !ok || name == "" {
			return nil, fmt.Errorf("pgtest: setting %q: want name=value", s)
		}
	}
	bin, err := serverBinaries()
	if err != nil {
		return nil, &UnavailableError{err.Error(), "install PostgreSQL's server package (initdb, pg_ctl) to run it"}
	}
	c := &Cluster{bin: bin, settings: settings}
	owner := -1 // the uid and gid the directory is chowned to; -1 keeps ours
	group := -1
	parent := os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, &UnavailableError{"running as root, and initdb refuses root: " + err.Error(), "create a postgres OS user to run it"}
		}
		owner, _ = strconv.Atoi(u.Uid)
		group, _ = strconv.Atoi(u.Gid)
		if c.cred, err = runAs(owner, group); err != nil {
			return nil, &UnavailableError{err.Error(), "run it as a user other than root"}
		}
		// The temporary directory may sit under a directory only root can enter.
		if parent, err = reachable(os.TempDir(), "/tmp"); err != nil {
			return nil, &UnavailableError{err.Error(), "set TMPDIR to a directory every user can enter"}
		}
	}
	if c.dir, err = os.MkdirTemp(parent, "pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	fail := func(err error) (*Cluster, error) {
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	if owner >= 0 {
		if err := os.Chown(c.dir, owner, group); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
	}
	if err := os.Chmod(c.dir, 0o700); err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	if out, err := c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres",
		"--no-sync", "--no-instructions", "--no-locale", "-E", "UTF8"); err != nil {
		return fail(&UnavailableError{Reason: fmt.Sprintf("initdb failed: %v\n%s", err, out)})
	}
	// A free port may be taken before the server binds it: try a few.
	for try := 1; ; try++ {
		if c.port, err = freePort(); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
		err = c.start()
		if err == nil {
			return c, nil
		}
		if try == 3 {
			return fail(&UnavailableError{Reason: "the server does not start: " + err.Error()})
		}
	}
}

// Close stops the server at once (Immediate) if it runs and removes its
// directory. A server that does not stop keeps its files.
func (c *Cluster) Close() error {
	if c.up {
		if err := c.pgctl("stop", "-m", string(Immediate)); err != nil {
			return fmt.Errorf("pgtest: stopping the cluster in %s: %w", c.dir, err)
		}
		c.up = false
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// URL returns the DSN of the cluster's database postgres, as the superuser
// postgres, over TCP (trust authentication, no TLS).
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Stop shuts the server down the way mode says and waits until it is gone.
func (c *Cluster) Stop(t testing.TB, mode StopMode) {
	t.Helper()
	if !c.up {
		t.Fatal("pgtest: Stop: the cluster is not running")
	}
	if err := c.pgctl("stop", "-m", string(mode)); err != nil {
		t.Fatalf("pgtest: stop -m %s: %v", mode, err)
	}
	c.up = false
}

// Start starts the stopped server again, on the same port, and waits until
// it answers.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if c.up {
		t.Fatal("pgtest: Start: the cluster is running")
	}
	if err := c.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Restart crashes the server (Stop with Immediate) and starts it again: a
// new postmaster, which recovers from the write-ahead log, on the same port.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.Stop(t, Immediate)
	c.Start(t)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// start runs pg_ctl start (which waits until the server accepts
// connections), then connects to be sure it answers on TCP.
func (c *Cluster) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.port, shellQuote(c.dir))
	for _, s := range c.settings {
		opts += " -c " + shellQuote(s)
	}
	if err := c.pgctl("start", "-l", filepath.Join(c.dir, "server.log"), "-o", opts); err != nil {
		return fmt.Errorf("start: %w\n%s", err, c.logTail())
	}
	c.up = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.URL())
		if err == nil {
			return conn.Close(ctx)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("the server started but does not answer at %s: %w\n%s", c.URL(), err, c.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pgctl runs pg_ctl on the cluster's data directory and waits for it.
func (c *Cluster) pgctl(args ...string) error {
	args = append([]string{"-D", c.data(), "-w", "-t", strconv.Itoa(startTimeout)}, args...)
	if out, err := c.run("pg_ctl", args...); err != nil {
		return fmt.Errorf("pg_ctl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// run runs a program of the server's binaries, as the postgres user when
// we are root, and returns its output.
func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = c.cred
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_ctl start points the server's output at server.log; should a child
	// still hold our pipe, do not wait for it.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

// logTail returns the end of the server's log, for error messages.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(filepath.Join(c.dir, "server.log"))
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "server.log ends:\n" + string(b)
}

// serverBinaries finds the directory of initdb and pg_ctl: pg_config's
// bindir, else the newest /usr/lib/postgresql/<version>/bin (Debian's
// layout, where pg_config may be the client package's).
func serverBinaries() (string, error) {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int { v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir))); return v }
	slices.SortFunc(versioned, func(a, b string) int { return version(b) - version(a) })
	dirs = append(dirs, versioned...)
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl) under pg_config --bindir or /usr/lib/postgresql/*/bin (looked in %v)", dirs)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// reachable returns the first of dirs every user may enter (each directory
// on its path has the execute bit for others), so that the postgres user
// reaches a cluster directory made in it.
func reachable(dirs ...string) (string, error) {
	for _, d := range dirs {
		ok := true
		for p := filepath.Clean(d); ; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o001 == 0 {
				ok = false
				break
			}
			if p == filepath.Dir(p) {
				break
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", fmt.Errorf("none of %v is reachable by the postgres user", dirs)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shellQuote quotes s for the shell command line pg_ctl builds from -o.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// errNoCredential is runAs's answer where a process cannot change user.
var errNoCredential = errors.New("cannot run initdb as another user on this system")
