package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/pgdb"
)

// TestListenGate: the change trigger fires only while a Notifier of the
// model is registered. The gate (the sequence training_listening) follows
// the Notifiers that start and stop, forgets one whose session died when
// the next one registers, and a write while it is closed sends nothing.
func TestListenGate(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Schema(t)
	pool, err := postgres.OpenConfig(ctx, cfg, training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := backends.NewStore[training.Training, training.Event](trainingdb.NewDriver(pool))
	gate := func() int64 {
		t.Helper()
		var v int64
		if err := pool.QueryRow(ctx, `SELECT pg_sequence_last_value('training_listening')`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	type running struct {
		n    *postgres.Notifier
		stop func()
	}
	start := func() running {
		t.Helper()
		n, stop := startNotifier(t, pool)
		return running{n, stop}
	}

	heard := listenProbe(t, pool)
	notified := func() bool {
		t.Helper()
		switch n := heard(func() error { _, err := store.Create(ctx, training.NewTraining(), backends.Meta{}); return err }); n {
		case 0, 1:
			return n == 1
		default:
			t.Fatalf("a create sent %d notices", n)
			return true
		}
	}

	steps := []struct {
		name   string
		do     func(*[]running)
		gate   int64
		notify bool
	}{
		{"nobody listens", func(*[]running) {}, 0, false},
		{"one Notifier", func(r *[]running) { *r = append(*r, start()) }, 1, true},
		{"two Notifiers", func(r *[]running) { *r = append(*r, start()) }, 2, true},
		{"the first stops", func(r *[]running) { (*r)[0].stop(); *r = (*r)[1:] }, 1, true},
		{"the second's session dies: its row stays", func(r *[]running) {
			terminate(t, pool, (*r)[0].n)
			(*r)[0].stop()
			*r = nil
		}, 1, true},
		{"a third registers and forgets the dead one", func(r *[]running) { *r = append(*r, start()) }, 1, true},
		{"the third stops", func(r *[]running) { (*r)[0].stop(); *r = nil }, 0, false},
	}
	var live []running
	defer func() {
		for _, r := range live {
			r.stop()
		}
	}()
	for _, s := range steps {
		s.do(&live)
		if got := gate(); got != s.gate {
			t.Fatalf("%s: gate %d, want %d", s.name, got, s.gate)
		}
		if got := notified(); got != s.notify {
			t.Fatalf("%s: a write notified: %v, want %v", s.name, got, s.notify)
		}
	}
}

// terminate ends the session of n's listening connection, as a crash of
// its process would (the test's Notifiers do not reconnect).
func terminate(t *testing.T, pool *pgxpool.Pool, n *postgres.Notifier) {
	t.Helper()
	pid := n.PID()
	if _, err := pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, int32(pid)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var alive bool
		if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, int32(pid)).Scan(&alive); err != nil {
			t.Fatal(err)
		}
		if !alive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %d did not end", pid)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestLeaseWritesDoNotNotify: with a listener registered, a reservation and
// a heartbeat (which write only a task's lease columns) send no change
// notice; the claim that moves a task sends one.
func TestLeaseWritesDoNotNotify(t *testing.T) {
	ctx := context.Background()
	cfg := pgtest.Schema(t)
	pool, err := postgres.OpenConfig(ctx, cfg, training.Migrations(postgres.Engine))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	d := trainingdb.NewDriver(pool)
	store := backends.NewStore[training.Training, training.Event](d)
	_, stop := startNotifier(t, pool)
	defer stop()
	heard := listenProbe(t, pool)
	now := time.Now()
	var lease backends.Lease
	var x *training.Training
	steps := []struct {
		name  string
		write func() error
		want  int
	}{
		{"create", func() (err error) { x, err = store.Create(ctx, training.NewTraining(), backends.Meta{}); return err }, 1},
		{"reserve", func() error {
			cs, err := d.Reserve(ctx, training.Worker.Queue, "w1", now, now.Add(time.Minute), 1)
			if err == nil && len(cs) != 1 {
				err = fmt.Errorf("reserved %d tasks, want 1", len(cs))
			}
			if err == nil {
				lease, x = cs[0].Lease, cs[0].Task
			}
			return err
		}, 0},
		{"claim event", func() (err error) {
			x, err = store.FireFrom(ctx, x, training.EventStart, nil, backends.Meta{Actor: "w1"})
			return err
		}, 1},
		{"heartbeat", func() error {
			ok, err := d.Heartbeat(ctx, x.ID, lease, training.Worker.Running, now.Add(2*time.Minute))
			if err == nil && !ok {
				err = fmt.Errorf("the heartbeat lost the lease")
			}
			return err
		}, 0},
	}
	for _, s := range steps {
		if got := heard(s.write); got != s.want {
			t.Errorf("%s sent %d notices, want %d", s.name, got, s.want)
		}
	}
}

// listenProbe returns a counter of the change notices of the training table
// of pool's schema: heard(write) runs write and returns how many notices it
// sent, those a raw session (listening without registering, so the gate is
// left as it is) hears before a marker sent after it.
func listenProbe(t *testing.T, pool *pgxpool.Pool) func(write func() error) int {
	t.Helper()
	return listenProbeOn(t, pool, "taskmodel_training")
}

// listenProbeOn is listenProbe on the channel "<schema>.<name>".
func listenProbeOn(t *testing.T, pool *pgxpool.Pool, name string) func(write func() error) int {
	t.Helper()
	ctx := context.Background()
	probe, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { probe.Close(ctx) })
	var channel string
	if err := probe.QueryRow(ctx, `SELECT current_schema() || '.' || $1`, name).Scan(&channel); err != nil {
		t.Fatal(err)
	}
	if _, err := probe.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return func(write func() error) int {
		t.Helper()
		if err := write(); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `SELECT pg_notify($1, 'marker')`, channel); err != nil {
			t.Fatal(err)
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for k := 0; ; k++ {
			m, err := probe.WaitForNotification(c)
			if err != nil {
				t.Fatal(err)
			}
			if m.Payload == "marker" {
				return k
			}
		}
	}
}

// startNotifier runs a Notifier of the training model on pool until stop,
// once it has registered (and opened the gate). A terminated session of it
// stays gone: it does not reconnect within a test.
func startNotifier(t *testing.T, pool *pgxpool.Pool) (n *postgres.Notifier, stop func()) {
	t.Helper()
	n = postgres.NewNotifier(pool, "training")
	postgres.SetBackoff(n, time.Hour)
	c, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Listen(c, func(backends.Notice) {}) }()
	stop = func() { cancel(); <-done }
	for deadline := time.Now().Add(10 * time.Second); n.PID() == 0; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatal("the Notifier did not register")
		}
	}
	return n, stop
}
