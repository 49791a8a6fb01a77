package validation

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Shape describes a value type (a spec's types:) as its current spec has
// it, so that a value stored under an earlier version of the spec can still
// be read. Value types are stored as JSON inside a column, and decoding is
// strict (an unknown key or a missing required key is an error), which is
// right for what clients send but would make every task stored before a
// type changed unreadable. Conform brings such a stored value to the
// current shape first. Generated packages declare one Shape per value type;
// the drivers pass it to backends.DecodeStoredJSON.
type Shape struct {
	// Keys are the type's JSON keys now. A stored key that is not among
	// them (nor renamed to one of them) belonged to a field since removed:
	// Conform drops it.
	Keys []string
	// Renamed maps a field's earlier key (renamed_from) to its key now.
	Renamed map[string]string
	// Fill holds, for each required key, the value a stored object that
	// lacks it gets: the field's backfill, else its default, else the zero
	// value of its type.
	Fill map[string]json.RawMessage
	// Fields maps a key whose field holds a value type, or a list of them,
	// to that type's Shape.
	Fields map[string]*Shape
}

// Conform returns data, a stored value of the type or a JSON array of them
// (a list field), in the shape the current spec decodes: renamed keys under
// their new names, keys of removed fields dropped, missing required keys
// filled, and the same for the value types it holds. null stays null. It
// changes nothing else: a value that breaks a limit stays as it is.
func (s *Shape) Conform(data []byte) ([]byte, error) {
	v, err := s.conform(json.RawMessage(data), 0)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// maxDepth bounds the recursion through nested arrays: a spec's types nest
// only as deep as the spec declares them, but a stored value is data.
const maxDepth = 64

func (s *Shape) conform(data json.RawMessage, depth int) (json.RawMessage, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("stored value nests deeper than %d levels", maxDepth)
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 {
		return nil, fmt.Errorf("stored value is empty")
	}
	switch t[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, err
		}
		for i, it := range items {
			c, err := s.conform(it, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = c
		}
		return json.Marshal(items)
	case '{':
	default:
		return data, nil // null, or a value the strict decoding will name
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(s.Keys))
	for _, k := range s.Keys {
		known[k] = true
	}
	out := make(map[string]json.RawMessage, len(s.Keys))
	for k, v := range obj {
		if known[k] {
			out[k] = v
		}
	}
	for old, now := range s.Renamed {
		if v, ok := obj[old]; ok && known[now] {
			if _, taken := obj[now]; !taken {
				out[now] = v
			}
		}
	}
	for k, v := range s.Fill {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	for k, sub := range s.Fields {
		if v, ok := out[k]; ok && sub != nil {
			c, err := sub.conform(v, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = c
		}
	}
	return json.Marshal(out)
}
