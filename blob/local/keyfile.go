package local

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// NewSigningKey returns MinKeyLen bytes from crypto/rand.
func NewSigningKey() []byte {
	k := make([]byte, MinKeyLen)
	rand.Read(k) // never fails (crypto/rand panics rather than return short)
	return k
}

// LoadOrCreateKeyFile returns the signing key kept in the file at path,
// creating the file with a new random key if there is none. The file holds
// the key in hex on one line and must not be readable by group or others
// (mode 0600); a key file that is, or is shorter than MinKeyLen bytes, is
// an error rather than a weak key. Creation is atomic: processes starting
// together all end up with the key of the first one to create the file.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	// Write the new key to a temporary file, then link it into place:
	// the link fails if another process created the file first, and no
	// process ever reads a half-written key.
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".blobkey-*")
	if err != nil {
		return nil, fmt.Errorf("signing key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	text := hex.EncodeToString(NewSigningKey()) + "\n"
	if _, err = tmp.WriteString(text); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("signing key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("signing key file: %w", err)
	}
	return readKeyFile(path)
}

func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("signing key file %s: mode %v lets others read it; chmod 600 it", path, fi.Mode().Perm())
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key file: %w", err)
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(text)))
	if err != nil {
		return nil, fmt.Errorf("signing key file %s: not one line of hex: %w", path, err)
	}
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("signing key file %s: %d bytes, need at least %d", path, len(key), MinKeyLen)
	}
	return key, nil
}
