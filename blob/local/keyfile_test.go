package local_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/taskmodel/taskmodel/blob/local"
)

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob.key")
	key, err := local.LoadOrCreateKeyFile(path)
	if err != nil || len(key) != local.MinKeyLen {
		t.Fatalf("LoadOrCreateKeyFile = %x, %v; want %d new bytes", key, err, local.MinKeyLen)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	again, err := local.LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second load = %x, %v; want the same key", again, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files left beside the key: %v", entries)
	}
	if other, _ := local.LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "k")); bytes.Equal(other, key) {
		t.Error("two new key files hold the same key")
	}
}

// TestLoadOrCreateKeyFileRace: processes starting together share one key.
func TestLoadOrCreateKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob.key")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = local.LoadOrCreateKeyFile(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("caller %d: %x, %v; want %x", i, keys[i], errs[i], keys[0])
		}
	}
}

func TestLoadOrCreateKeyFileRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"readable by others", strings.Repeat("ab", 32), 0o644, "chmod 600"},
		{"not hex", "this is not a key", 0o600, "not one line of hex"},
		{"too short", strings.Repeat("ab", 31), 0o600, "need at least 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "blob.key")
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tc.mode)
			key, err := local.LoadOrCreateKeyFile(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || key != nil {
				t.Errorf("LoadOrCreateKeyFile = %x, %v; want an error saying %q", key, err, tc.want)
			}
		})
	}
	if _, err := local.LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "missing", "blob.key")); err == nil {
		t.Error("a key file in a missing folder was created")
	}
}
