// Package observe is what package engine shares with the module's other
// packages about an engine's observers, without exporting it to users: a
// user gives an engine its observers (engine.WithObserver); sdk/worker
// reads them here, to report the claims a driver made in SQL and to find
// the observers that also see the handlers' outcomes (worker.Observer).
package observe

// Mover is an observer of moves of type M: engine.Observer is
// Mover[engine.Move].
type Mover[M any] interface {
	Moved(m M)
}

// many is several observers as one: each sees every move, in order.
type many[M any] []Mover[M]

func (ms many[M]) Moved(m M) {
	for _, o := range ms {
		o.Moved(m)
	}
}

// Join returns a and b as one observer, which Each takes apart again; a
// nil one is left out.
func Join[M any](a, b Mover[M]) Mover[M] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return many[M](append(Each(a), Each(b)...))
}

// Each lists the observers o was joined from (Join), o alone for another,
// and none for nil.
func Each[M any](o Mover[M]) []Mover[M] {
	switch o := o.(type) {
	case nil:
		return nil
	case many[M]:
		return append([]Mover[M](nil), o...)
	}
	return []Mover[M]{o}
}

// Of returns the observer of eng, an *engine.Engine, as an engine.Observer
// in an any (nil when it has none). Package engine sets it when it is
// initialized.
var Of func(eng any) any
