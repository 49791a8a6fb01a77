// Package schema holds taskmodel's built-in specs — the built-in models —
// and the tests that check the generated packages in gen/ against their
// requirements.
//
// The specs are embedded so programs (the server's /openapi.json, the review
// tooling) can read them. Regenerate gen/ after editing a spec:
//
//	go generate ./schema   (or: make gen)
package schema

import "embed"

//go:generate go -C ../tools run ./taskgen -spec ../schema -out ../gen

// FS holds the spec files: *.yaml and lifecycles/*.yaml.
//
//go:embed *.yaml lifecycles/*.yaml
var FS embed.FS
