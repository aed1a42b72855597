// Package admin guards the kit's administrative API with the admin token:
// ADMIN_TOKEN when set, else a random token generated on first start into
// dataDir/admin-token (a secret file of package secretfile).
package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"pushstart/push"
	"pushstart/server/secretfile"
)

const tokenFile = "admin-token"

// TokenPath is the file in dataDir where Token keeps a generated token.
func TokenPath(dataDir string) string { return filepath.Join(dataDir, tokenFile) }

// Token returns token if non-empty, else the one in dataDir/admin-token (mode 0600),
// generating it (32 random bytes, base64url) if absent. path is the file ("" when from env).
//
// The file holds the token and a newline; surrounding white space is
// ignored when reading. An empty file is an error rather than silently
// replaced.
func Token(dataDir, token string) (tok, path string, generated bool, err error) {
	if token != "" {
		return token, "", false, nil
	}
	if dataDir == "" {
		return "", "", false, errors.New("admin: no data directory for " + tokenFile)
	}
	path = TokenPath(dataDir)
	tok, err = readToken(path)
	if err == nil {
		return tok, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", "", false, err
	}

	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", false, fmt.Errorf("admin: generate admin token: %w", err)
	}
	tok = push.EncodeBase64URL(b)
	switch err := secretfile.Create(dataDir, path, []byte(tok+"\n")); {
	case errors.Is(err, fs.ErrExist):
		// Another process created it first: use its token.
		if tok, err = readToken(path); err != nil {
			return "", "", false, err
		}
		return tok, path, false, nil
	case err != nil:
		return "", "", false, fmt.Errorf("admin: write %s: %w", path, err)
	}
	return tok, path, true, nil
}

func readToken(path string) (string, error) {
	data, err := secretfile.Read(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("admin: %s is empty; remove it to generate a new admin token", path)
	}
	return tok, nil
}

// TokenEqual reports whether a and b are the same non-empty token, in time
// that does not depend on where they differ or on their lengths (both are
// hashed first). An empty token never matches, so an unset token can never
// be guessed as "".
func TokenEqual(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
