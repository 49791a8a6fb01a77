package gen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// SumFile is the file of a model's package that holds the checksum of every
// migration file taskgen wrote (each engine's SQL and the spec snapshots),
// so that a migration edited after it was generated is refused before a
// database applies the edit. It is the migrations directory's own, as
// atlas.sum is a migration directory's in Atlas.
const SumFile = MigrationsDir + "/taskmodel.sum"

// sumHeader starts the sum file.
const sumHeader = "# " + Header + "\n" +
	"# The SHA-256 of every migration file as taskgen wrote it: taskgen refuses a\n" +
	"# migration that no longer matches (applied migrations are never rewritten).\n"

// fileSum is the checksum of a migration file's content, its line ends
// made "\n" (a checkout that turns them into "\r\n" changes nothing).
func fileSum(data []byte) string {
	sum := sha256.Sum256(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")))
	return hex.EncodeToString(sum[:])
}

// renderSums is the sum file of files (paths under the package directory,
// as Generate names them), listing those under migrations/ but itself.
func renderSums(files map[string][]byte) []byte {
	var paths []string
	for p := range files {
		if rel, ok := strings.CutPrefix(p, MigrationsDir+"/"); ok && p != SumFile {
			paths = append(paths, rel)
		}
	}
	sort.Strings(paths)
	var b bytes.Buffer
	b.WriteString(sumHeader)
	for _, p := range paths {
		fmt.Fprintf(&b, "%s %s\n", p, fileSum(files[MigrationsDir+"/"+p]))
	}
	return b.Bytes()
}

// SumChanges compares two sum files: the paths (under migrations/) that
// was lists with a checksum now lists not (changed), or not at all
// (removed), each sorted. A path only now lists (a new migration) is
// neither.
func SumChanges(was, now []byte) (changed, removed []string) {
	nowSums := parseSums(now)
	for p, sums := range parseSums(was) {
		got, ok := nowSums[p]
		switch {
		case !ok:
			removed = append(removed, p)
		case !sameSet(sums, got):
			changed = append(changed, p)
		}
	}
	sort.Strings(changed)
	sort.Strings(removed)
	return changed, removed
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// parseSums reads a sum file: each path (under migrations/) with the
// checksums it is listed with. It is read leniently: comments, blank lines
// and the markers git leaves in a file it could not merge are skipped, and
// a path that two merged branches list with different checksums keeps
// both (each branch's file is checked against its own).
func parseSums(data []byte) map[string][]string {
	sums := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		path, sum, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.ContainsAny(sum, " \t") || len(sum) != 64 {
			continue
		}
		sums[path] = append(sums[path], sum)
	}
	return sums
}

// checkSums refuses a migration file that the sum file lists with another
// checksum: it was edited after taskgen wrote it. A file the sum file does
// not list (one an earlier taskgen wrote, before it kept sums) is taken as
// it is. dir is the package directory, as messages name it.
func (h *History) checkSums(dir string) error {
	if h.Sum == nil {
		return nil
	}
	sums := parseSums(h.Sum)
	check := func(rel string, data []byte) error {
		listed, ok := sums[rel]
		if !ok {
			return nil
		}
		got := fileSum(data)
		for _, s := range listed {
			if s == got {
				return nil
			}
		}
		path := filepath.Join(dir, MigrationsDir, filepath.FromSlash(rel))
		return fmt.Errorf("%s is not the file taskgen wrote: its checksum is not the one %s holds, so it was edited after it was generated. Applied migrations are never rewritten: a database that applied it refuses a program with other SQL, and one that did not would apply the edit. Restore it from version control (git checkout -- %s); if the edit is meant and no database applied the migration, remove its line from %s and run go generate again",
			path, filepath.Join(dir, filepath.FromSlash(SumFile)), path, filepath.Join(dir, filepath.FromSlash(SumFile)))
	}
	return h.eachFile(check)
}
