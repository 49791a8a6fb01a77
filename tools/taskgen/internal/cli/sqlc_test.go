package cli

import (
	"flag"
	"testing"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		base string
		want string
	}{
		{"relative to base", []string{"-sqlc", "/w/sqlc.yaml", "-out", "/w/gen", "-spec", "/w/schema"}, "/w",
			"taskgen -spec schema -out gen -sqlc sqlc.yaml"},
		{"outside base", []string{"-spec", "/specs/a.yaml", "-out", "/w/gen/a", "-pkg", "alpha", "-sqlc", "/w/sqlc.yaml"}, "/w",
			"taskgen -spec ../specs/a.yaml -out gen/a -pkg alpha -sqlc sqlc.yaml"},
		{"quoted", []string{"-spec", "/w/my specs/it's.yaml", "-out", "/w/gen", "-sqlc", "/w/sqlc.yaml"}, "/w",
			`taskgen -spec 'my specs/it'\''s.yaml' -out gen -sqlc sqlc.yaml`},
		{"not on one line", []string{"-spec", "/w/a\nb.yaml", "-out", "/w/gen", "-sqlc", "/w/sqlc.yaml"}, "/w", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("taskgen", flag.ContinueOnError)
			for _, name := range []string{"spec", "out", "pkg", "sqlc"} {
				fs.String(name, "", "")
			}
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if got := commandLine(fs, tt.base); got != tt.want {
				t.Errorf("commandLine = %q\nwant %q", got, tt.want)
			}
		})
	}
}
