package backendtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/gen/catalog"
	"github.com/taskmodel/taskmodel/tasktype"
)

// ListingAnchor is the "now" of the listing benchmark's data set.
var ListingAnchor = time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)

// ListingTypes are the unified listing's five task types, the tables the data set fills.
var ListingTypes = []string{"model_upload", "dataset_upload", "training", "evaluation", "synthesis"}

// DatasetRow is one task of the listing benchmark's data set.
type DatasetRow struct {
	Table     string
	ID        uuid.UUID
	Status    string
	Tag       *string
	Owner     string // the user_id column, the models' api owner
	CreatedAt time.Time
	EndDate   *time.Time
}

// ListingUsers is how many users own the listing benchmark's tasks;
// ListingHeavyUser owns a tenth of them (a service account, say) and the
// others, "user-0002" to "user-1000", share the rest evenly.
const (
	ListingUsers     = 1000
	ListingHeavyUser = "user-0001"
	// ListingUser is a typical user of the data set (about 900 tasks).
	ListingUser = "user-0500"
)

// ListingDataset returns n tasks spread evenly over the five listing
// types, created uniformly over the 30 days before ListingAnchor: 94% DONE,
// 3% FAILED, 1% CANCELLED, 1.5% RUNNING, 0.5% QUEUED (unfinished tasks of
// any age stay in every window); 20% untagged, 1% "production-model-v2",
// the rest "experiment-1" to "experiment-100"; owners as ListingUsers
// says. The same seed gives the same rows on every engine (and owners come
// from a generator of their own, so the other columns are what they were
// before the data set had owners).
func ListingDataset(n int, emit func(DatasetRow) error) error {
	rng := rand.New(rand.NewPCG(42, 2026))
	owners := rand.New(rand.NewPCG(7, 2026))
	users := make([]string, ListingUsers+1)
	for i := 1; i <= ListingUsers; i++ {
		users[i] = fmt.Sprintf("user-%04d", i)
	}
	tags := make([]string, 101)
	for i := 1; i <= 100; i++ {
		tags[i] = fmt.Sprintf("experiment-%d", i)
	}
	prod := "production-model-v2"
	for i := range n {
		r := DatasetRow{Table: ListingTypes[i%len(ListingTypes)]}
		var b [16]byte
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		r.ID, _ = uuid.FromBytes(b[:])
		r.ID[6] = (r.ID[6] & 0x0f) | 0x40
		r.ID[8] = (r.ID[8] & 0x3f) | 0x80
		r.CreatedAt = ListingAnchor.Add(-time.Duration(rng.Int64N(int64(30 * 24 * time.Hour)))).Truncate(time.Microsecond)
		switch p := rng.Float64(); {
		case p < 0.94:
			r.Status = "DONE"
		case p < 0.97:
			r.Status = "FAILED"
		case p < 0.98:
			r.Status = "CANCELLED"
		case p < 0.995:
			r.Status = "RUNNING"
		default:
			r.Status = "QUEUED"
		}
		if r.Status != "RUNNING" && r.Status != "QUEUED" {
			end := r.CreatedAt.Add(time.Duration(1+rng.IntN(3600)) * time.Second)
			r.EndDate = &end
		}
		switch p := rng.Float64(); {
		case p < 0.2:
		case p < 0.21:
			r.Tag = &prod
		default:
			r.Tag = &tags[1+rng.IntN(100)]
		}
		if owners.Float64() < 0.1 {
			r.Owner = users[1]
		} else {
			r.Owner = users[2+owners.IntN(ListingUsers-1)]
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// ListingQuery is one of the unified listing's example requests.
type ListingQuery struct {
	Name   string
	Filter backends.ListFilter
}

// ListingQueries are the unified listing's example requests, with the
// defaults the guide states (the last hour) and a page of 50 where it gives
// no limit; then each of them as a user who is not an admin sends it
// (owner_*: a typical user, heavy_owner_*: the user owning a tenth of the
// tasks), which may return no rows.
func ListingQueries() []ListingQuery {
	qs := requiredQueries()
	for _, owner := range []struct{ prefix, user string }{{"owner_", ListingUser}, {"heavy_owner_", ListingHeavyUser}} {
		for _, lq := range requiredQueries() {
			lq.Name, lq.Filter.Owner = owner.prefix+lq.Name, &owner.user
			qs = append(qs, lq)
		}
	}
	return qs
}

func requiredQueries() []ListingQuery {
	tag := func(s string) *string { return &s }
	codes := func(cs ...tasktype.Code) []tasktype.Code { return cs }
	return []ListingQuery{
		{"recent", backends.ListFilter{WithinHours: 1, Limit: 50}},
		{"types_training_evaluation", backends.ListFilter{TaskTypes: []string{"training", "evaluation"}, WithinHours: 1, Limit: 50}},
		{"types_within_6h", backends.ListFilter{TaskTypes: []string{"training", "evaluation"}, WithinHours: 6, Limit: 50}},
		{"status_R", backends.ListFilter{Statuses: codes("R"), WithinHours: 1, Limit: 50}},
		{"status_F_24h", backends.ListFilter{Statuses: codes("F"), WithinHours: 24, Limit: 50}},
		{"combined_training_R_tag_limit5", backends.ListFilter{TaskTypes: []string{"training"}, Statuses: codes("R"), Tag: tag("experiment-1"), WithinHours: 1, Limit: 5}},
		{"combined_types_QR_tag_4h_limit10", backends.ListFilter{TaskTypes: []string{"training", "evaluation"}, Statuses: codes("Q", "R"), Tag: tag("production-model-v2"), WithinHours: 4, Limit: 10}},
		{"page_1", backends.ListFilter{WithinHours: 1, Limit: 10, Offset: 0}},
		{"page_2", backends.ListFilter{WithinHours: 1, Limit: 10, Offset: 10}},
	}
}

// NaiveFunc runs the naive listing (union first, filter after) for a
// resolved query and returns how many rows it gave.
type NaiveFunc func(ctx context.Context, q backends.ListQuery, taskTypes, codes []string) (int, error)

// BenchmarkListing measures every example listing query against a data set
// already loaded behind lister, reporting p50 and p99 latency; with naive
// set, it measures the naive design too and reports the p50 ratio
// (TASKMODEL_BENCH_NAIVE=0 skips it: each naive run reads every row).
func BenchmarkListing(b *testing.B, lister backends.Lister, naive NaiveFunc) {
	ctx := context.Background()
	cat := backends.NewCatalog(lister, catalog.Models(), backends.WithClock(func() time.Time { return ListingAnchor }))
	for _, lq := range ListingQueries() {
		var pushP50 time.Duration
		b.Run(lq.Name, func(b *testing.B) {
			var lat []time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				rows, err := cat.List(ctx, lq.Filter)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if len(rows) == 0 && lq.Filter.Owner == nil {
					b.Fatalf("%s returned no rows: the data set is not loaded", lq.Name)
				}
				n = len(rows)
			}
			pushP50 = report(b, lat)
			b.ReportMetric(float64(n), "rows")
		})
		// The naive query has no owner filter.
		if naive == nil || os.Getenv("TASKMODEL_BENCH_NAIVE") == "0" || lq.Filter.Owner != nil {
			continue
		}
		b.Run(lq.Name+"/naive", func(b *testing.B) {
			q, err := cat.Resolve(lq.Filter)
			if err != nil {
				b.Fatal(err)
			}
			types := lq.Filter.TaskTypes
			if len(types) == 0 {
				types = cat.ModelNames()
			}
			codes := []string{"Q", "R", "D", "F", "C"}
			if len(lq.Filter.Statuses) > 0 {
				codes = codes[:0]
				for _, c := range lq.Filter.Statuses {
					codes = append(codes, string(c))
				}
			}
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				n, err := naive(ctx, q, types, codes)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					b.Fatal("naive listing returned no rows")
				}
			}
			p50 := report(b, lat)
			if pushP50 > 0 {
				b.ReportMetric(float64(p50)/float64(pushP50), "x-slower-than-pushdown")
			}
		})
	}
}

func report(b *testing.B, lat []time.Duration) time.Duration {
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(p(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
	return p(0.50)
}
