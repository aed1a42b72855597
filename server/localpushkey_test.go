package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pushstart/localpush"
)

// A kit restarted in local mode on the same data directory tells Chromium to
// trust the same MCS key, so a browser launched for the first run finds the
// second; another directory gets another key.
func TestLocalPushKeyKeptInDataDir(t *testing.T) {
	spki := func(dir string) string {
		t.Helper()
		key, err := localPushKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := localpush.New(localpush.Config{MCSKey: key})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, a := range s.Browser().ChromiumArgs {
			if v, ok := strings.CutPrefix(a, "--ignore-certificate-errors-spki-list="); ok {
				return v
			}
		}
		t.Fatalf("no SPKI switch in %v", s.Browser().ChromiumArgs)
		return ""
	}
	dir := t.TempDir()
	first, again := spki(dir), spki(dir)
	if first != again {
		t.Errorf("restarted on the same data directory, Chromium is told %s, then %s", first, again)
	}
	if other := spki(t.TempDir()); other == first {
		t.Errorf("another data directory got the same key %s", other)
	}
	fi, err := os.Stat(filepath.Join(dir, localPushKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestLocalPushKeyDamagedFileNamed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, localPushKeyFile)
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := localPushKey(dir)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("damaged key file: %v, want an error naming %s and what to do", err, path)
	}
}
