// Command taskgen generates a Go package from a taskmodel spec.
//
//	go run github.com/taskmodel/taskmodel/tools/taskgen -spec schema/analysis.yaml -out gen/analysis
//	go run github.com/taskmodel/taskmodel/tools/taskgen -spec schema -out gen
//
// With a file, the package is written into -out (-pkg renames it). With a
// directory, every *.yaml directly inside it is a model, written into
// -out/<package>; generated packages whose spec is gone are removed. Files
// are only rewritten when their content changes. The spec language is
// described in docs/spec-language.md.
package main

import (
	"os"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
