package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be the pickup workload's inserting child,
// as the harness's own binary is.
func TestMain(m *testing.M) {
	if raw := os.Getenv(childEnv); raw != "" {
		if err := childMain(raw); err != nil {
			os.Stderr.WriteString("bench (inserting child): " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCompare runs a small comparison of every system on a PostgreSQL
// burn-down, the pickup of jobs another process inserts and a SQLite
// burn-down, so that the harness cannot rot unseen. It starts a private
// PostgreSQL server and takes about a minute on two cores: it runs only
// with BENCH_TEST=1.
func TestCompare(t *testing.T) {
	if os.Getenv("BENCH_TEST") != "1" {
		t.Skip("set BENCH_TEST=1 to run a small comparison (a private PostgreSQL server, about a minute)")
	}
	sz := quickSizes
	sz.rounds, sz.burnJobs, sz.pickupJobs, sz.sqliteJobs = 1, 1000, 5, 200
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := compare(ctx, sz, []string{"burn-100", "pickup-remote", "sqlite-100"}, t.Output())
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out)
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| workload") && !strings.HasPrefix(line, "| ---") {
			rows = append(rows, line)
		}
	}
	if len(rows) != 4 { // the burn-down, the pickup's p50 and p99, SQLite
		t.Fatalf("%d rows in the table, want 4:\n%s", len(rows), out)
	}
	for _, r := range rows {
		cells := strings.Split(strings.Trim(r, "| "), " | ")
		for i, c := range cells[1 : 1+len(allSystems)] {
			sys := allSystems[i]
			ran := !sys.burnOnly || strings.HasPrefix(cells[0], "PostgreSQL burn-down")
			if ran != strings.Contains(c, "[") {
				t.Errorf("row %q: %s: %q, want a figure: %v", cells[0], sys.name, c, ran)
			}
		}
	}
}

func TestSelectWorkloads(t *testing.T) {
	for _, tc := range []struct {
		ids     []string
		want    []string
		wantErr string
	}{
		{ids: nil, want: workloadIDs(fullSizes)},
		{ids: []string{"sqlite-100", " burn-1000"}, want: []string{"sqlite-100", "burn-1000"}},
		{ids: []string{"burn-7"}, wantErr: `workload "burn-7": want one of burn-100, burn-1000, burn-4000, create, pickup, pickup-remote, sqlite-100, sqlite-1000`},
	} {
		ws, err := selectWorkloads(fullSizes, tc.ids)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("selectWorkloads(%q) = %v, want the error %q", tc.ids, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, w := range ws {
			got = append(got, w.id)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("selectWorkloads(%q) = %v, want %v", tc.ids, got, tc.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs          []float64
		med, lo, hi float64
	}{
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
	} {
		med, lo, hi := median(tc.xs)
		if med != tc.med || lo != tc.lo || hi != tc.hi {
			t.Errorf("median(%v) = %v, %v, %v; want %v, %v, %v", tc.xs, med, lo, hi, tc.med, tc.lo, tc.hi)
		}
	}
}

func TestFormatValue(t *testing.T) {
	rate, ms := row{unit: "jobs/s"}, row{unit: "ms", lower: true}
	for _, tc := range []struct {
		v    float64
		r    row
		want string
	}{
		{975.4, rate, "975"},
		{4071, rate, "4.07k"},
		{25_930, rate, "25.9k"},
		{1.234, ms, "1.23"},
		{136.4, ms, "136"},
	} {
		if got := formatValue(tc.v, tc.r); got != tc.want {
			t.Errorf("formatValue(%v, %s) = %q, want %q", tc.v, tc.r.unit, got, tc.want)
		}
	}
}

// TestReadStat reads this process's own /proc entry (its parent), and
// fails on a process that does not exist.
func TestReadStat(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != os.Getppid() {
		t.Errorf("ppid = %d, want %d", st.ppid, os.Getppid())
	}
	if _, err := readStat(-1); err == nil {
		t.Error("readStat(-1) succeeded")
	}
}

// TestTable: medians with their ranges, ratios of medians, CPU medians, and
// dashes where a system did not run or there is no server.
func TestTable(t *testing.T) {
	res := newResults()
	rate := row{name: "burn", unit: "jobs/s"}
	lite := row{name: "lite", unit: "jobs/s"}
	for _, v := range []float64{2000, 4000, 3000} {
		res.add(rate, "taskmodel", sample{value: v, client: v / 100, server: v / 50, serverKnown: true})
		res.add(rate, "River", sample{value: v / 2, client: 10, server: 20, serverKnown: true})
	}
	res.add(lite, "taskmodel", sample{value: 800, client: 900})
	res.add(lite, "River", sample{value: 400, client: 700})
	res.add(lite, "River tuned", sample{value: 1600, client: 600})
	res.add(rate, "SQL alone", sample{value: 6000, client: 2, server: 25, serverKnown: true})
	want := `| workload | taskmodel | River | River tuned | SQL alone | taskmodel ÷ River | taskmodel ÷ River tuned | taskmodel ÷ SQL alone | µs CPU/job client / server, taskmodel | µs CPU/job client / server, River | µs CPU/job client / server, River tuned | µs CPU/job client / server, SQL alone |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| burn (jobs/s) | 3.00k [2.00k–4.00k] | 1.50k [1.00k–2.00k] | — | 6.00k [6.00k–6.00k] | 2.00 | — | 0.50 | 30 / 60 | 10 / 20 | — | 2 / 25 |
| lite (jobs/s) | 800 [800–800] | 400 [400–400] | 1.60k [1.60k–1.60k] | — | 2.00 | 0.50 | — | 900 / — | 700 / — | 600 / — | — |
`
	if got := res.table(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}
