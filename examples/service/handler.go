package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/examples/service/gen/report"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/server"
)

// Row is one day of a report.
type Row struct {
	Day   string `json:"day"`
	Count int    `json:"count"`
	Cents int64  `json:"cents,omitempty"` // ORDERS only: revenue
}

// reportHandler builds a report: one row per day, reporting progress after
// each (stepTime is each day's "work": a query of your own data would go
// there), then writes the file where GET /tasks/{id}/downloads finds it
// and sets rows, which the finish event requires. A title starting with
// "fail" fails the report with NO_DATA, to show the failure path.
func reportHandler(blobs blob.Store, stepTime time.Duration, now func() time.Time) worker.Handler[report.Report] {
	return func(ctx context.Context, t *report.Report, p *worker.Progress[report.Report]) error {
		if strings.HasPrefix(t.Title, "fail") {
			return worker.Fail(string(report.ErrorCodeNoData), "no %s data for %q", t.Kind, t.Title)
		}
		end := now().UTC().Truncate(24 * time.Hour)
		rows := make([]Row, 0, t.Days)
		for i := range t.Days {
			select {
			case <-ctx.Done(): // cancelled (POST /tasks/{id}/cancel) or shutting down
				return context.Cause(ctx)
			case <-time.After(stepTime):
			}
			day := end.AddDate(0, 0, int(i-t.Days+1)).Format(time.DateOnly)
			rows = append(rows, makeRow(t.Kind, day))
			if err := p.Report(ctx, float64(i+1)/float64(t.Days), nil); err != nil {
				return err
			}
		}
		body, contentType, err := encode(t.Format, rows)
		if err != nil {
			return err
		}
		key := server.OutputPrefix(t.Owner(), t.ID) + "report." + string(t.Format)
		if _, err := blobs.Put(ctx, key, bytes.NewReader(body), blob.PutOptions{ContentType: contentType, MaxSize: 10 << 20}); err != nil {
			return fmt.Errorf("writing %s: %w", key, err)
		}
		n := int64(len(rows))
		return p.Report(ctx, 1, func(t *report.Report) { t.Rows = &n })
	}
}

// makeRow stands in for a query of the service's own data: the same day
// and kind always give the same numbers.
func makeRow(kind report.Kind, day string) Row {
	h := fnv.New32a()
	h.Write([]byte(string(kind) + day))
	v := int(h.Sum32() % 500)
	r := Row{Day: day, Count: v}
	if kind == report.KindOrders {
		r.Cents = int64(v) * 1999
	}
	return r
}

func encode(f report.Format, rows []Row) ([]byte, string, error) {
	if f == report.FormatJSON {
		body, err := json.MarshalIndent(rows, "", "  ")
		return append(body, '\n'), "application/json", err
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"day", "count", "cents"})
	for _, r := range rows {
		cents := ""
		if r.Cents != 0 {
			cents = strconv.FormatInt(r.Cents, 10)
		}
		_ = w.Write([]string{r.Day, strconv.Itoa(r.Count), cents})
	}
	w.Flush()
	return b.Bytes(), "text/csv", w.Error()
}
