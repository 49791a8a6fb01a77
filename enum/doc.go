// Package enum holds what every string enumeration of a generated model
// shares: its declared values in order, the error that lists them, and the
// text and SQL decoding that accepts only them.
//
// A generated enumeration (a model's Status, Event and ErrorCode, and every
// enumeration of its spec) is a named string type, its constants, and one
// Table built from them; its ParseX, UnmarshalText and Scan delegate to the
// Table, so the code and the error messages are the same for every model.
// The lookup that Valid, Fire and CanTransition use stays generated: a
// switch on the value's length and comparisons against constants, which the
// compiler turns into a few word compares (a generic lookup has to call the
// runtime's memory compare instead, about three times slower).
//
// Errors are *tasktype.FieldError, so callers test them the same way as every
// other invalid field (errors.As, errors.Is with tasktype.ErrValidation). The
// package imports nothing else from taskmodel (tasktype is a leaf package).
package enum
