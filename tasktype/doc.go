// Package tasktype holds the public types shared by every generated model
// package, the backends and the engine: unified status codes, display
// metadata, and the error values callers test with errors.Is and errors.As.
//
// It is a leaf package: it imports nothing from taskmodel, so generated code,
// backends and user code can all depend on it without cycles (the role
// rivertype plays for River).
package tasktype
