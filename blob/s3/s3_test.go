package s3_test

import (
	"testing"

	"github.com/taskmodel/taskmodel/blob"
	"github.com/taskmodel/taskmodel/blob/blobtest"
	blobs3 "github.com/taskmodel/taskmodel/blob/s3"
	"github.com/taskmodel/taskmodel/blob/s3/s3test"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, blobtest.Harness{
		New: func(t *testing.T, clock *blobtest.Clock) blob.Store {
			cfg := s3test.Start(t).Config()
			cfg.Clock = clock.Now
			s, err := blobs3.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	})
}
