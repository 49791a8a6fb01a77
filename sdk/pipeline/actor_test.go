package pipeline_test

import (
	"testing"

	"github.com/taskmodel/taskmodel/sdk/pipeline"
)

// TestAsRecordsItsActor: a tracker from As records its actor in the
// history rows of its changes, shares the storage, and leaves the
// original's actor as it was.
func TestAsRecordsItsActor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		ana := e.tr.As("user:ana")
		if ana.Actor() != "user:ana" || e.tr.Actor() != "test" {
			t.Fatalf("actors: %q and %q", ana.Actor(), e.tr.Actor())
		}
		r, err := ana.Start(e.ctx, "STATIC", "Build Database", pipeline.StartOptions{Process: &pipeline.Process{}, NoGitLookup: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.tr.Complete(e.ctx, r.ID, "done"); err != nil {
			t.Fatal(err)
		}
		h, err := e.st.Runs().History(e.ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var actors []string
		for _, x := range h {
			actors = append(actors, x.Actor)
		}
		if want := []string{"user:ana", "user:ana", "test"}; len(actors) != len(want) || actors[0] != want[0] || actors[1] != want[1] || actors[2] != want[2] {
			t.Errorf("history actors %q, want %q", actors, want)
		}
	})
}

// TestNoGitLookup: a run started with NoGitLookup records the git commit
// it is given and nothing else, although the working directory is in a git
// work tree whose commit Start would otherwise record.
func TestNoGitLookup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.register(t)
		if pipeline.GitCommit(e.ctx, ".") == "" {
			t.Skip("no git work tree here: nothing a lookup would find")
		}
		looked, err := e.tr.Start(e.ctx, "STATIC", "Build Database", pipeline.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if looked.GitCommit == nil {
			t.Fatal("without NoGitLookup the work tree's commit is not recorded")
		}
		none, err := e.tr.Start(e.ctx, "STATIC", "Build Database", pipeline.StartOptions{NoGitLookup: true})
		if err != nil {
			t.Fatal(err)
		}
		given, err := e.tr.Start(e.ctx, "STATIC", "Build Database", pipeline.StartOptions{NoGitLookup: true, GitCommit: "9f1c2ab"})
		if err != nil {
			t.Fatal(err)
		}
		if none.GitCommit != nil || given.GitCommit == nil || *given.GitCommit != "9f1c2ab" {
			t.Errorf("NoGitLookup: %v and %v, want nil and 9f1c2ab", none.GitCommit, given.GitCommit)
		}
	})
}
