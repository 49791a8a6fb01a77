//go:build !linux

package sqlite

// watchFile has no file watch off Linux: the watcher polls PRAGMA
// data_version instead.
func watchFile(string) commits { return nil }
