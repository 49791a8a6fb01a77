// Command bench compares taskmodel with River (github.com/riverqueue/river)
// on the same workloads, run alternately, on a private PostgreSQL server it
// starts with PostgreSQL's default settings and on SQLite files in a
// temporary directory, and prints one Markdown table: each workload's
// median over the rounds with its range, taskmodel's ratio to each River,
// and the CPU time per job of the harness (client) and of the PostgreSQL
// server.
//
//	make bench-compare                # = cd bench && go run .
//	BENCH_QUICK=1 make bench-compare  # every workload, small: minutes
//	cd bench && go run . -rounds 5 -workloads burn-1000,pickup-remote
//
// It is a module of its own, so that River is never a dependency of
// taskmodel's. See docs/benchmarks.md, "Side by side with River".
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
)

// allSystems is every system compared, in the order each round runs them.
var allSystems = []system{taskmodelSystem, riverSystem, riverTunedSystem, sqlAloneSystem}

func main() {
	if raw := os.Getenv(childEnv); raw != "" {
		if err := childMain(raw); err != nil {
			fmt.Fprintln(os.Stderr, "bench (inserting child):", err)
			os.Exit(1)
		}
		return
	}
	quick := flag.Bool("quick", os.Getenv("BENCH_QUICK") == "1", "a small comparison (also BENCH_QUICK=1)")
	rounds := flag.Int("rounds", 0, "rounds of every workload (default 3; 2 with -quick)")
	only := flag.String("workloads", "", "comma-separated workloads to run (default all): "+strings.Join(workloadIDs(fullSizes), ", "))
	flag.BoolVar(&sqlAloneLikeTaskmodel, "sql-alone-like-taskmodel", false, "give SQL alone's tables the indexes and history columns taskmodel's have")
	flag.Parse()
	sz := fullSizes
	if *quick {
		sz = quickSizes
	}
	if *rounds < 0 {
		fmt.Fprintln(os.Stderr, "bench: -rounds must be at least 1")
		os.Exit(2)
	}
	if *rounds > 0 {
		sz.rounds = *rounds
	}
	var ids []string
	if *only != "" {
		ids = strings.Split(*only, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out, err := compare(ctx, sz, ids, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

// legend explains the table's columns.
const legend = `Medians over the rounds, [smallest–largest]. Each ratio divides taskmodel's median by the other system's:
above 1 taskmodel is ahead in jobs/s, behind in ms. SQL alone is no queue but a reference: the fewest rows and
statements a queue that keeps a history row per transition writes for a job (a claim of many jobs in one statement,
then their completion in one), with almost nothing spent in the client; it runs only the PostgreSQL burn-downs.
CPU per job: the harness process's (and its inserting child's) user and system time, and the PostgreSQL server's
processes', per job of the run; on SQLite there is no server.
`

// workloadIDs lists the workloads' names, for -workloads.
func workloadIDs(sz sizes) []string {
	var ids []string
	for _, w := range workloads(sz) {
		ids = append(ids, w.id)
	}
	return ids
}

// selectWorkloads returns the workloads of sz named in ids (all without
// ids), or an error naming an unknown one.
func selectWorkloads(sz sizes, ids []string) ([]workload, error) {
	all := workloads(sz)
	if len(ids) == 0 {
		return all, nil
	}
	var out []workload
	for _, id := range ids {
		found := false
		for _, w := range all {
			if w.id == strings.TrimSpace(id) {
				out, found = append(out, w), true
			}
		}
		if !found {
			return nil, fmt.Errorf("workload %q: want one of %s", id, strings.Join(workloadIDs(sz), ", "))
		}
	}
	return out, nil
}

// compare runs the workloads named in ids (all when empty) with sz's sizes,
// round after round, each system in turn, logging each run to log, and
// returns the report: a description of the machine and the table.
func compare(ctx context.Context, sz sizes, ids []string, log io.Writer) (string, error) {
	ws, err := selectWorkloads(sz, ids)
	if err != nil {
		return "", err
	}
	pg := false
	for _, w := range ws {
		pg = pg || !w.sqlite
	}
	e, err := newEnv(ctx, pg)
	if err != nil {
		return "", err
	}
	defer e.close()
	res := newResults()
	for r := 1; r <= sz.rounds; r++ {
		for _, w := range ws {
			for _, sys := range allSystems {
				if w.sqlite && !sys.sqlite || sys.burnOnly && !w.burn {
					continue
				}
				s, err := e.runOnce(ctx, w, sys)
				if err != nil {
					return "", fmt.Errorf("round %d, %s, %s: %w", r, w.id, sys.name, err)
				}
				for i, rw := range w.rows {
					res.add(rw, sys.name, s[i])
					fmt.Fprintf(log, "round %d/%d  %-11s %s: %s\n", r, sz.rounds, sys.name, rw.name, s[i].String(rw))
				}
			}
		}
	}
	return e.describe(ctx, sz) + "\n" + res.table() + "\n" + legend, nil
}
