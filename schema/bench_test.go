package schema_test

import (
	"strings"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/stage"
)

// Run: go test ./schema -run '^$' -bench . -benchmem

var (
	sinkStatus analysis.Status
	sinkBool   bool
	sinkErr    error

	sinkRecordStatus stage.RecordStatus
)

func BenchmarkFire(b *testing.B) {
	// Walk the happy path and one illegal event per loop, so both table
	// branches and several string switches are measured.
	steps := []struct {
		from analysis.Status
		ev   analysis.Event
	}{
		{analysis.StatusCreated, analysis.EventRequestUploadURLs},
		{analysis.StatusUploading, analysis.EventVerifyUploads},
		{analysis.StatusQueued, analysis.EventStart},
		{analysis.StatusProcessing, analysis.EventComplete},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s := steps[i&3]
		sinkStatus, sinkErr = analysis.Fire(s.from, s.ev)
	}
}

func BenchmarkCanTransition(b *testing.B) {
	// 64 (from, to) pairs spread over the 81, allowed and not.
	all := analysis.Statuses()
	var pairs [64][2]analysis.Status
	for i := range pairs {
		pairs[i] = [2]analysis.Status{all[(i*5)%9], all[(i*7+i/9)%9]}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p := &pairs[i&63]
		sinkBool = analysis.CanTransition(p[0], p[1])
	}
}

func BenchmarkParseStatus(b *testing.B) {
	names := []string{"CREATED", "UPLOAD_FAILED", "PROCESSING", "EXPIRED"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkStatus, sinkErr = analysis.ParseStatus(names[i&3])
	}
}

func BenchmarkValidateStageState(b *testing.B) {
	s := stage.NewStageState()
	s.StageName = strings.Repeat("é", 100)
	s.TaskID = "task-1"
	s.Attempts = 2
	s.Status = stage.StatusRunning
	s.History = []stage.StageStateHistoryEntry{{
		Attempt: 1, BeginStatus: stage.StatusCreated, EndStatus: stage.StatusRetry,
		BeginTs: time.Unix(0, 0).UTC().Format(time.RFC3339), EndTs: time.Unix(3, 0).UTC().Format(time.RFC3339),
		Message: "transient error", RunTimeSeconds: 3,
	}}
	b.ReportAllocs()
	for b.Loop() {
		sinkErr = s.Validate()
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
}

func BenchmarkStatusValid(b *testing.B) {
	// Declared and undeclared values of several lengths.
	names := []analysis.Status{"CREATED", "UPLOAD_FAILED", "PROCESSING", "NOT_A_STATUS"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkBool = names[i&3].Valid()
	}
}

func BenchmarkParseStatusInvalid(b *testing.B) {
	// The error path: a missing and an unknown value.
	names := []string{"", "NOT_A_STATUS"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkStatus, sinkErr = analysis.ParseStatus(names[i&1])
	}
}

func BenchmarkParseEnum(b *testing.B) {
	// A spec enumeration (stage's RecordStatus) rather than the lifecycle.
	names := []string{"error", "success", "unprocessed", "success"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkRecordStatus, sinkErr = stage.ParseRecordStatus(names[i&3])
	}
}

func BenchmarkStatusUnmarshalText(b *testing.B) {
	names := [][]byte{[]byte("CREATED"), []byte("UPLOAD_FAILED"), []byte("PROCESSING"), []byte("EXPIRED")}
	var s analysis.Status
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkErr = s.UnmarshalText(names[i&3])
	}
	sinkStatus = s
}

func BenchmarkStatusScan(b *testing.B) {
	// database/sql hands a driver's text as string or []byte.
	srcs := []any{"CREATED", []byte("UPLOAD_FAILED"), "PROCESSING", []byte("EXPIRED")}
	var s analysis.Status
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkErr = s.Scan(srcs[i&3])
	}
	sinkStatus = s
}
