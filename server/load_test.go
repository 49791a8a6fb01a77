package server_test

import (
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLoad drives the server over loopback HTTP with keep-alive
// clients and reports requests/s and latency percentiles, next to a bare
// net/http handler answering a task-sized JSON body on the same machine:
//
//	go test ./server -run '^$' -bench Load -benchtime 20000x
//
// Clients and server share the machine's cores, as with any load
// generator on the same host.
func BenchmarkLoad(b *testing.B) {
	const clients = 32
	bare := func(b *testing.B) string {
		// A task as GET /tasks/{id} returns it (the size of an upload → process task).
		body := []byte(`{"task_id":"01a2293e-55bd-7a81-96a6-cc775c50e831","task_type":"analysis","id":"01a2293e-55bd-7a81-96a6-cc775c50e831","status":"CREATED","version":1,"created_at":"2026-11-29T21:38:00.765688Z","updated_at":"2026-11-29T21:38:00.765688Z","user_id":"alice","tool_id":"profile-my-data","agents":["unified-profiler","score-risk"],"progress":0,"progress_detail":null,"error_code":null,"error_message":null,"blobs_cleaned":false,"upload_started_at":null,"upload_failed_at":null,"queued_at":null,"processing_started_at":null,"completed_at":null,"failed_at":null,"cancelled_at":null,"expired_at":null}` + "\n")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(body)
		})}
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { srv.Close() })
		return "http://" + ln.Addr().String()
	}
	b.Run("bare", func(b *testing.B) {
		url := bare(b) + "/tasks/x"
		load(b, clients, func(int) (string, string) { return url, "" })
	})
	for _, backend := range sqlBackends {
		e := newEnv(b, backend, envOptions{})
		ids := make([]string, 1000)
		for i := range ids {
			ids[i] = e.create("alice")
		}
		token := e.tokens["alice"]
		b.Run(backend+"/get", func(b *testing.B) {
			load(b, clients, func(i int) (string, string) { return e.url + "/tasks/" + ids[i%len(ids)], token })
		})
		b.Run(backend+"/list", func(b *testing.B) {
			load(b, clients, func(int) (string, string) {
				return e.url + "/tasks?task_type=analysis&status=Q&within_hours=24&limit=20", token
			})
		})
	}
}

// load sends b.N GET requests from clients goroutines, each with its own
// keep-alive connection, and reports req/s, p50 and p99.
func load(b *testing.B, clients int, target func(i int) (url, token string)) {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	lat := make([][]time.Duration, clients)
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				url, token := target(r.IntN(1 << 30))
				req, _ := http.NewRequest("GET", url, nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
