package backendtest

import (
	"strings"

	"github.com/taskmodel/taskmodel/tasktype"
)

// GeneratedFrom returns the name (without the model) of the first of ms
// whose generated header says it was generated from the spec of the
// migration named name ("-- from the spec of <name> to …"): the migration
// a program lacking name is refused for. "" when none is.
func GeneratedFrom(ms []tasktype.Migration, name string) string {
	for _, m := range ms {
		if strings.Contains(m.SQL, "\n-- from the spec of "+name+" ") {
			_, n, _ := strings.Cut(m.Name, "/")
			return n
		}
	}
	return ""
}
