package admin

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestAdminTokenFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	tok, path, generated, err := Token(dir, "s3cret-from-env")
	if err != nil || tok != "s3cret-from-env" || path != "" || generated {
		t.Errorf("AdminToken = %q, %q, %v, %v; want the env token, no path, not generated", tok, path, generated, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written although the token came from the environment: %v", entries)
	}
}

func TestAdminTokenGenerated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tok, path, generated, err := Token(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !generated || path != filepath.Join(dir, "admin-token") {
		t.Errorf("generated = %v, path = %q; want true, %q", generated, path, filepath.Join(dir, "admin-token"))
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(tok); err != nil || len(b) != 32 {
		t.Errorf("token %q is not base64url of 32 bytes (%d, %v)", tok, len(b), err)
	}
	if m := mode(t, path); m != 0o600 {
		t.Errorf("admin-token mode %v, want 0600", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("data directory mode %v, want 0700", m)
	}
	if data, _ := os.ReadFile(path); string(data) != tok+"\n" {
		t.Errorf("admin-token holds %q, want the token and a newline", data)
	}

	tok2, path2, generated, err := Token(dir, "")
	if err != nil || tok2 != tok || path2 != path || generated {
		t.Errorf("second AdminToken = %q, %q, %v, %v; want the same token from the file", tok2, path2, generated, err)
	}
	tok3, _, _ := mustToken(t, dir, "override")
	if tok3 != "override" {
		t.Errorf("env token %q did not override the file", tok3)
	}

	other, _, _ := mustToken(t, t.TempDir(), "")
	if other == tok {
		t.Error("two data directories got the same generated token")
	}
}

func mustToken(t *testing.T, dir, env string) (string, string, bool) {
	t.Helper()
	tok, path, generated, err := Token(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	return tok, path, generated
}

func TestAdminTokenFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		perm    os.FileMode
		want    string
		wantErr string
	}{
		{name: "hand-written", content: "my token\n", perm: 0o600, want: "my token"},
		{name: "loose mode is tightened", content: "tok", perm: 0o644, want: "tok"},
		{name: "empty", content: " \n", perm: 0o600, wantErr: "admin-token is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "admin-token")
			if err := os.WriteFile(path, []byte(tt.content), tt.perm); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tt.perm)
			tok, gotPath, generated, err := Token(dir, "")
			if tt.wantErr != "" {
				wantErr(t, err, tt.wantErr)
				if data, _ := os.ReadFile(path); string(data) != tt.content {
					t.Errorf("admin-token rewritten to %q", data)
				}
				return
			}
			if err != nil || tok != tt.want || gotPath != path || generated {
				t.Errorf("AdminToken = %q, %q, %v, %v; want %q from %q", tok, gotPath, generated, err, tt.want, path)
			}
			if m := mode(t, path); m != 0o600 {
				t.Errorf("mode after AdminToken %v, want 0600", m)
			}
		})
	}
}

func TestAdminTokenConcurrentStart(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	toks := make([]string, n)
	gens := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			toks[i], _, gens[i], err = Token(dir, "")
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	count := 0
	for i := range n {
		if toks[i] != toks[0] {
			t.Errorf("AdminToken %d returned a different token", i)
		}
		if gens[i] {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d calls generated a token, want exactly 1", count)
	}
}

func TestTokenEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"secret", "secret", true},
		{"secret", "secreT", false},
		{"secret", "secret2", false},
		{"secret", "", false},
		{"", "secret", false},
		{"", "", false},
		{strings.Repeat("x", 64), strings.Repeat("x", 64), true},
	}
	for _, tt := range tests {
		if got := TokenEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("TokenEqual(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
