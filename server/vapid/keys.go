// Package vapid loads the server's identity towards push services: the VAPID
// key pair (RFC 8292) that signs every push request, and the VAPID subject.
//
// The key pair comes from the environment when set, else from
// dataDir/vapid.json, generated on first start (a secret file of package
// secretfile: mode 0600, created atomically and once, so two servers starting
// at once on a shared directory end up with the same keys).
//
// Keep the key pair: every subscription is bound to the public key, so new
// keys mean every browser must subscribe again.
package vapid

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"pushstart/push"
	"pushstart/server/secretfile"
)

// Environment variable names, used in error messages.
const (
	envPublic  = "VAPID_PUBLIC_KEY"
	envPrivate = "VAPID_PRIVATE_KEY"
)

const (
	publicLen  = 65 // uncompressed P-256 point: 0x04 || X || Y
	privateLen = 32 // P-256 scalar

	keysFile = "vapid.json"
)

// Keys is a VAPID key pair in the form browsers (applicationServerKey) and
// webpush-go expect. Its String and LogValue leave the private key out.
type Keys struct {
	Public  string // base64url (no padding) of the 65-byte uncompressed P-256 point
	Private string // base64url (no padding) of the 32-byte scalar
}

// String shows the public key only, so a Keys printed by mistake leaks no
// secret.
func (k Keys) String() string { return "{Public:" + k.Public + " Private:[redacted]}" }

// GoString is String, for %#v.
func (k Keys) GoString() string { return k.String() }

// LogValue makes slog log the public key only.
func (k Keys) LogValue() slog.Value {
	return slog.GroupValue(slog.String("public", k.Public), slog.String("private", "[redacted]"))
}

// Generate makes a new random key pair.
func Generate() (Keys, error) {
	sk, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return Keys{}, fmt.Errorf("vapid: generate keys: %w", err)
	}
	return Keys{
		Public:  push.EncodeBase64URL(sk.PublicKey().Bytes()),
		Private: push.EncodeBase64URL(sk.Bytes()),
	}, nil
}

// Check reports what is wrong with the pair, if anything: a key that is not
// unpadded base64url, has the wrong length, is not a point on (or a valid
// scalar of) P-256, or a private key that does not derive the public key.
func (k Keys) Check() error {
	return check(k, "public key", "private key")
}

func check(k Keys, pubName, privName string) error {
	pub, err := base64.RawURLEncoding.Strict().DecodeString(k.Public)
	if err != nil {
		return fmt.Errorf("vapid: %s is not base64url without padding: %w", pubName, err)
	}
	if len(pub) != publicLen {
		return fmt.Errorf("vapid: %s is %d bytes, want %d (an uncompressed P-256 point)", pubName, len(pub), publicLen)
	}
	if _, err := ecdh.P256().NewPublicKey(pub); err != nil {
		return fmt.Errorf("vapid: %s is not a point on the P-256 curve", pubName)
	}
	priv, err := base64.RawURLEncoding.Strict().DecodeString(k.Private)
	if err != nil {
		return fmt.Errorf("vapid: %s is not base64url without padding: %w", privName, err)
	}
	if len(priv) != privateLen {
		return fmt.Errorf("vapid: %s is %d bytes, want %d (a P-256 scalar)", privName, len(priv), privateLen)
	}
	sk, err := ecdh.P256().NewPrivateKey(priv)
	if err != nil {
		return fmt.Errorf("vapid: %s is not a valid P-256 private key (zero, or not below the curve order)", privName)
	}
	if !bytes.Equal(sk.PublicKey().Bytes(), pub) {
		return fmt.Errorf("vapid: %s does not derive %s: they are not one key pair", privName, pubName)
	}
	return nil
}

// normalise accepts base64 with or without padding, in the standard or the
// URL alphabet, with surrounding white space, and returns unpadded base64url.
// A private key of 30 or 31 bytes (some tools drop leading zero bytes) is
// left-padded to 32.
func normalise(s string, private bool) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := push.DecodeBase64URL(s)
	if err != nil {
		return "", fmt.Errorf("not base64: %w", err)
	}
	if private && len(b) >= privateLen-2 && len(b) < privateLen {
		b = append(make([]byte, privateLen-len(b)), b...)
	}
	return push.EncodeBase64URL(b), nil
}

// keysJSON is the layout of dataDir/vapid.json.
type keysJSON struct {
	PublicKey  string `json:"publicKey"`
	PrivateKey string `json:"privateKey"`
}

// Load returns the keys from public/private (the env values; both or neither), else from
// dataDir/vapid.json (mode 0600), else generates and writes that file. source is "environment",
// "file" or "generated". The pair is always Check()ed.
//
// Environment values may be padded or not, in either base64 alphabet; they
// come back as unpadded base64url. An invalid vapid.json is an error, never
// replaced: new keys would silently cut off every subscriber.
func Load(dataDir, public, private string) (k Keys, source string, err error) {
	public, private = strings.TrimSpace(public), strings.TrimSpace(private)
	switch {
	case public != "" && private == "":
		return Keys{}, "", fmt.Errorf("vapid: %s is set but %s is not: set both or neither", envPublic, envPrivate)
	case public == "" && private != "":
		return Keys{}, "", fmt.Errorf("vapid: %s is set but %s is not: set both or neither", envPrivate, envPublic)
	case public != "":
		k, err := fromStrings(public, private, envPublic, envPrivate)
		if err != nil {
			return Keys{}, "", err
		}
		return k, "environment", nil
	}

	if dataDir == "" {
		return Keys{}, "", errors.New("vapid: no data directory for " + keysFile)
	}
	path := filepath.Join(dataDir, keysFile)
	k, err = readKeys(path)
	if err == nil {
		return k, "file", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Keys{}, "", err
	}

	if k, err = Generate(); err != nil {
		return Keys{}, "", err
	}
	data, err := json.MarshalIndent(keysJSON{PublicKey: k.Public, PrivateKey: k.Private}, "", "  ")
	if err != nil {
		return Keys{}, "", fmt.Errorf("vapid: %w", err)
	}
	switch err := secretfile.Create(dataDir, path, append(data, '\n')); {
	case errors.Is(err, fs.ErrExist):
		// Another process created it first: use its keys.
		k, err := readKeys(path)
		if err != nil {
			return Keys{}, "", err
		}
		return k, "file", nil
	case err != nil:
		return Keys{}, "", fmt.Errorf("vapid: write %s: %w", path, err)
	}
	return k, "generated", nil
}

// readKeys reads and checks path; a missing file is an fs.ErrNotExist error.
func readKeys(path string) (Keys, error) {
	data, err := secretfile.Read(path)
	if err != nil {
		return Keys{}, err
	}
	var j keysJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return Keys{}, fmt.Errorf("vapid: %s is not valid JSON (%v); fix it, or remove it to generate new keys (every browser must then subscribe again)", path, err)
	}
	k, err := fromStrings(j.PublicKey, j.PrivateKey, "publicKey in "+path, "privateKey in "+path)
	if err != nil {
		return Keys{}, fmt.Errorf("%w; fix it, or remove the file to generate new keys (every browser must then subscribe again)", err)
	}
	return k, nil
}

// fromStrings normalises and checks a pair, naming the values as pubName and
// privName in errors.
func fromStrings(public, private, pubName, privName string) (Keys, error) {
	if public == "" {
		return Keys{}, fmt.Errorf("vapid: %s is empty", pubName)
	}
	if private == "" {
		return Keys{}, fmt.Errorf("vapid: %s is empty", privName)
	}
	var k Keys
	var err error
	if k.Public, err = normalise(public, false); err != nil {
		return Keys{}, fmt.Errorf("vapid: %s is %w", pubName, err)
	}
	if k.Private, err = normalise(private, true); err != nil {
		return Keys{}, fmt.Errorf("vapid: %s is %w", privName, err)
	}
	if err := check(k, pubName, privName); err != nil {
		return Keys{}, err
	}
	return k, nil
}
