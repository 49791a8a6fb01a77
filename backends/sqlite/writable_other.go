//go:build !unix

package sqlite

// checkWritable accepts every file where the system has no access(2): the
// first write reports a read-only file.
func checkWritable(string) error { return nil }
