package mysql

// SetAfterStatement makes migrations call f after each statement they
// apply, until the test ends.
func SetAfterStatement(t interface{ Cleanup(func()) }, f func(migration string, statements int)) {
	old := afterStatement
	afterStatement = f
	t.Cleanup(func() { afterStatement = old })
}
