package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"pushstart/server/secretfile"
)

// localPushKeyFile holds, in DATA_DIR, the key of the local push service's
// MCS certificate. Chromium is launched trusting that certificate by its key
// alone, so a kit restarted in local mode must present the same one for the
// browsers already running to reconnect.
const localPushKeyFile = "local-push-mcs.key"

// localPushKey reads the local push service's MCS key from dataDir, or makes
// one and keeps it there (PKCS#8 PEM, mode 0600). Of two instances starting
// at once on one directory, both end up with the key the first one wrote.
func localPushKey(dataDir string) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(dataDir, localPushKeyFile)
	for range 2 {
		data, err := secretfile.Read(path)
		if err == nil {
			return parseLocalPushKey(path, data)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		err = secretfile.Create(dataDir, path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		switch {
		case err == nil:
			return key, nil
		case !errors.Is(err, fs.ErrExist):
			return nil, err
		}
		// Another instance wrote it first: read theirs.
	}
	return nil, fmt.Errorf("%s: created and gone again", path)
}

// parseLocalPushKey reads the PEM of localPushKey's file.
func parseLocalPushKey(path string, data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key; delete it to make a new one", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; delete it to make a new one", path, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not a P-256 key; delete it to make a new one", path)
	}
	return key, nil
}
