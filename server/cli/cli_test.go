package cli

import (
	"flag"
	"regexp"
	"strings"
	"testing"
)

func TestMainLeavesTheServerItsArguments(t *testing.T) {
	for _, args := range [][]string{nil, {}, {"-addr", ":8000"}, {"--addr=:8000"}, {"-h"}, {"-data-dir", "send"}} {
		if code, ok := Main(t.Context(), args, IO{}); ok {
			t.Errorf("Main(%q) ran a command (exit %d); the server should run", args, code)
		}
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "help", args: []string{"help"}, stdout: "pushstart send [flags]"},
		{name: "help help", args: []string{"help", "help"}, stdout: "pushstart vapid-keys"},
		{name: "help send", args: []string{"help", "send"}, stdout: "Usage: pushstart send [flags]"},
		{name: "help vapid-keys", args: []string{"help", "vapid-keys"}, stdout: "Usage: pushstart vapid-keys"},
		{name: "send -h", args: []string{"send", "-h"}, stdout: "Usage: pushstart send [flags]"},
		{name: "send --help", args: []string{"send", "--help"}, stdout: "Usage: pushstart send [flags]"},
		{name: "help unknown", args: []string{"help", "sned"}, code: 2, stderr: `unknown command "sned"`},
		{name: "unknown command", args: []string{"sned"}, code: 2, stderr: `unknown command "sned"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code, ok := Main(t.Context(), tt.args, IO{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
			if !ok || code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("Main(%q) = %d, %v; stdout %q, stderr %q", tt.args, code, ok, stdout.String(), stderr.String())
			}
		})
	}
}

// TestSendUsageNamesEveryFlag keeps the hand-written usage in step with the
// flags defined.
func TestSendUsageNamesEveryFlag(t *testing.T) {
	var f sendFlags
	fs := f.flagSet(IO{Getenv: func(string) string { return "" }})
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z-]+)`).FindAllStringSubmatch(sendUsage, -1) {
		documented[m[1]] = true
	}
	for name := range documented {
		if fs.Lookup(name) == nil {
			t.Errorf("sendUsage documents --%s, which is not a flag", name)
		}
	}
	fs.VisitAll(func(fl *flag.Flag) {
		if !documented[fl.Name] {
			t.Errorf("sendUsage does not document --%s", fl.Name)
		}
	})
	for _, name := range notificationFlags {
		if fs.Lookup(name) == nil {
			t.Errorf("notificationFlags names --%s, which is not a flag", name)
		}
	}
}
