package auth

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
)

// A secret is "tm_" + ID + "_" + KEY: ID is 10 random bytes in lowercase
// base32 (16 characters), KEY 32 random bytes in unpadded base64url (43
// characters). Only the id is stored in the clear.
const (
	secretPrefix = "tm_"
	idBytes      = 10
	keyBytes     = 32
	idLen        = 16 // base32 of idBytes, no padding
	keyLen       = 43 // base64url of keyBytes, no padding
	secretLen    = len(secretPrefix) + idLen + 1 + keyLen
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// dummySecret has a secret's length and shape but no token's id (its id has
// a '0', outside the id alphabet).
const dummySecret = "tm_0000000000000000_0000000000000000000000000000000000000000000"

// newSecret returns a fresh secret and its id.
func newSecret() (secret, id string, err error) {
	var b [idBytes + keyBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	id = idEncoding.EncodeToString(b[:idBytes])
	return secretPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[idBytes:]), id, nil
}

// parseSecret returns the id part of a well-formed secret. Its work does not
// depend on where a well-sized input goes wrong: every character is
// checked. It does not decide whether the secret is valid, only whether it
// is shaped like one.
func parseSecret(s string) (id string, ok bool) {
	if len(s) != secretLen {
		return "", false
	}
	bad := 0
	for i := 0; i < len(secretPrefix); i++ {
		bad |= int(s[i] ^ secretPrefix[i])
	}
	for i := len(secretPrefix); i < len(secretPrefix)+idLen; i++ {
		bad |= b2i(!idChar(s[i]))
	}
	bad |= int(s[len(secretPrefix)+idLen] ^ '_')
	for i := len(secretPrefix) + idLen + 1; i < secretLen; i++ {
		bad |= b2i(!keyChar(s[i]))
	}
	if bad != 0 {
		return "", false
	}
	return s[len(secretPrefix) : len(secretPrefix)+idLen], true
}

// validID reports whether id is shaped like a token id.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return false
		}
	}
	return true
}

func idChar(c byte) bool { return 'a' <= c && c <= 'z' || '2' <= c && c <= '7' }

func keyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
