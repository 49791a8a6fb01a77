package local_test

import (
	"testing"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/blobtest"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, blobtest.Harness{
		New: func(t *testing.T, clock *blobtest.Clock) blob.Store {
			return newServed(t, clock.Now)
		},
		RefusesOversize:  true,
		ListsContentType: true,
	})
}
