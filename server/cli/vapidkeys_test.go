package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"pushstart/server/vapid"
)

var envLines = regexp.MustCompile(`^VAPID_PUBLIC_KEY=([A-Za-z0-9_-]+)\nVAPID_PRIVATE_KEY=([A-Za-z0-9_-]+)\n$`)

func TestVAPIDKeys(t *testing.T) {
	r := run(t, nil, "", "vapid-keys")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	m := envLines.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout %q: want exactly VAPID_PUBLIC_KEY=... and VAPID_PRIVATE_KEY=... lines", r.stdout)
	}
	k := vapid.Keys{Public: m[1], Private: m[2]}
	if err := k.Check(); err != nil {
		t.Errorf("the printed pair: %v", err)
	}
	// The server takes them as it takes any VAPID_* settings.
	got, source, err := vapid.Load(t.TempDir(), k.Public, k.Private)
	if err != nil || source != "environment" || got != k {
		t.Errorf("vapid.Load(the printed pair) = %v, %q, %v", got, source, err)
	}
	for _, want := range []string{"same pair", "secret"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}

	again := envLines.FindStringSubmatch(run(t, nil, "", "vapid-keys").stdout)
	if again == nil || again[2] == k.Private {
		t.Error("a second run printed the same private key, or none")
	}
}

func TestVAPIDKeysJSON(t *testing.T) {
	r := run(t, nil, "", "vapid-keys", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout %q is not JSON: %v", r.stdout, err)
	}
	if len(got) != 2 {
		t.Errorf("keys %v: want publicKey and privateKey only", got)
	}
	if err := (vapid.Keys{Public: got["publicKey"], Private: got["privateKey"]}).Check(); err != nil {
		t.Errorf("the printed pair: %v", err)
	}
	if !strings.Contains(r.stderr, "secret") {
		t.Errorf("stderr %q has no note on the secret", r.stderr)
	}
}

func TestVAPIDKeysUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		noOutput bool
	}{
		{name: "help", args: []string{"-h"}, code: 0, stdout: "Usage: pushstart vapid-keys"},
		{name: "unknown flag", args: []string{"--pem"}, code: 2, stderr: "-pem", noOutput: true},
		{name: "argument", args: []string{"now"}, code: 2, stderr: `unexpected argument "now"`, noOutput: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "", append([]string{"vapid-keys"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q in stdout, %q in stderr", r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
			}
			if tt.noOutput && r.stdout != "" {
				t.Errorf("stdout %q after a usage error", r.stdout)
			}
		})
	}
}
