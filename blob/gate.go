package blob

import (
	"context"
	"errors"
)

// ErrUploadClosed: a signed upload URL is valid, but what it uploads for no
// longer takes files (the task left its upload statuses). A store's handler
// refuses the upload with 409 and stores nothing.
var ErrUploadClosed = errors.New("uploads are closed")

// UploadGate decides whether an upload to key, whose signed URL has been
// verified, may still be stored: nil lets it through; an error wrapping
// ErrUploadClosed refuses it (its message is the client's detail); any
// other error is a failure of the gate (500). A store's handler asks the
// gate before it reads the body and again just before it stores the blob.
type UploadGate func(ctx context.Context, key string) error

type gateKey struct{}

// WithUploadGate returns ctx carrying g, for a store's handler to consult
// (the HTTP server sets it on every request to the signed-URL handler).
func WithUploadGate(ctx context.Context, g UploadGate) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// CheckUpload asks ctx's UploadGate, if any, about an upload to key.
func CheckUpload(ctx context.Context, key string) error {
	g, _ := ctx.Value(gateKey{}).(UploadGate)
	if g == nil {
		return nil
	}
	return g(ctx, key)
}
