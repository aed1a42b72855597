//go:build !wasm

package server

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"pushstart/push"
)

func TestLoadConfig(t *testing.T) {
	env := map[string]string{
		"ADDR":               "127.0.0.1:9000",
		"DATA_DIR":           "/tmp/x",
		"PUSH_ALLOWED_HOSTS": " push.example.com, 127.0.0.1:7000 ,",
		"PUSH_SERVICE":       "local",
		"ADMIN_TOKEN":        "a-long-enough-secret\n",
	}
	cfg, err := LoadConfig([]string{"-addr", "127.0.0.1:9001"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9001" {
		t.Errorf("flag did not win over ADDR: %q", cfg.Addr)
	}
	if cfg.DataDir != "/tmp/x" || cfg.AdminToken != "a-long-enough-secret" || cfg.PushService != "local" {
		t.Errorf("environment not read: %+v", cfg)
	}
	if strings.Join(cfg.PushAllowedHosts, "|") != "push.example.com|127.0.0.1:7000" {
		t.Errorf("PUSH_ALLOWED_HOSTS parsed as %q", cfg.PushAllowedHosts)
	}
}

// TestAdminConsoleSettings: the admin console's settings come from the
// environment, a flag wins over it, and unset they have their defaults.
func TestAdminConsoleSettings(t *testing.T) {
	for _, tt := range []struct {
		name      string
		env       map[string]string
		args      []string
		ttl       time.Duration
		signIn    int
		eventRate int
	}{
		{name: "defaults", ttl: 12 * time.Hour, signIn: 5, eventRate: 120},
		{name: "environment",
			env: map[string]string{"ADMIN_SESSION_TTL": " 30m ", "ADMIN_SIGNIN_RATE": "0", "EVENT_RATE": "600"},
			ttl: 30 * time.Minute, signIn: 0, eventRate: 600},
		{name: "flags win",
			env:  map[string]string{"ADMIN_SESSION_TTL": "30m", "ADMIN_SIGNIN_RATE": "3", "EVENT_RATE": "600"},
			args: []string{"-admin-session-ttl", "720h", "-admin-signin-rate", "10", "-event-rate", "0"},
			ttl:  720 * time.Hour, signIn: 10, eventRate: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AdminSessionTTL != tt.ttl || cfg.AdminSignInRate != tt.signIn || cfg.EventRate != tt.eventRate {
				t.Errorf("ADMIN_SESSION_TTL %v, ADMIN_SIGNIN_RATE %d, EVENT_RATE %d; want %v, %d, %d",
					cfg.AdminSessionTTL, cfg.AdminSignInRate, cfg.EventRate, tt.ttl, tt.signIn, tt.eventRate)
			}
		})
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{env: map[string]string{"ADDR": "8000"}, want: "ADDR"},
		{env: map[string]string{"PUSH_SERVICE": "fcm"}, want: "PUSH_SERVICE"},
		{env: map[string]string{"PUSH_SERVICE": "local", "LOCAL_PUSH_ADDR": "0.0.0.0:1"}, want: "LOCAL_PUSH_ADDR"},
		{env: map[string]string{"PUSH_ALLOWED_HOSTS": "https://push.example.com/"}, want: "PUSH_ALLOWED_HOSTS"},
		{env: map[string]string{"LOG_LEVEL": "loud"}, want: "LOG_LEVEL"},
		{env: map[string]string{"ADMIN_TOKEN": "short"}, want: "ADMIN_TOKEN"},
		{env: map[string]string{"ADMIN_SESSION_TTL": "forever"}, want: "ADMIN_SESSION_TTL"},
		{env: map[string]string{"ADMIN_SESSION_TTL": "12"}, want: "ADMIN_SESSION_TTL"},
		{env: map[string]string{"ADMIN_SESSION_TTL": "1m"}, want: "ADMIN_SESSION_TTL"},
		{env: map[string]string{"ADMIN_SESSION_TTL": "721h"}, want: "ADMIN_SESSION_TTL"},
		{args: []string{"-admin-session-ttl", "30s"}, want: "ADMIN_SESSION_TTL"},
		{env: map[string]string{"ADMIN_SIGNIN_RATE": "five"}, want: "ADMIN_SIGNIN_RATE"},
		{env: map[string]string{"ADMIN_SIGNIN_RATE": "-1"}, want: "ADMIN_SIGNIN_RATE"},
		{args: []string{"-admin-signin-rate", "-2"}, want: "ADMIN_SIGNIN_RATE"},
		{env: map[string]string{"EVENT_RATE": "1.5"}, want: "EVENT_RATE"},
		{env: map[string]string{"EVENT_RATE": "-1"}, want: "EVENT_RATE"},
		{args: []string{"stray"}, want: "stray"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			_, err := LoadConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
}

// TestPushServiceForms: PUSH_SERVICE is empty, "local", or the http:// URL
// of a local push service on loopback; anything else is refused with an
// error naming PUSH_SERVICE and what is wanted.
func TestPushServiceForms(t *testing.T) {
	for _, tt := range []struct {
		name     string
		env      map[string]string
		args     []string
		external bool
		want     string // in the error; "" for none
	}{
		{name: "real"},
		{name: "local", env: map[string]string{"PUSH_SERVICE": "local"}},
		{name: "URL", env: map[string]string{"PUSH_SERVICE": "http://127.0.0.1:8900"}, external: true},
		{name: "URL with a slash", env: map[string]string{"PUSH_SERVICE": "http://localhost:8900/"}, external: true},
		{name: "flag", args: []string{"-push-service", "http://[::1]:8900"}, external: true},
		{name: "LOCAL_PUSH_ADDR ignored with a URL", env: map[string]string{"PUSH_SERVICE": "http://127.0.0.1:8900", "LOCAL_PUSH_ADDR": "0.0.0.0:1"}, external: true},
		{name: "a word", env: map[string]string{"PUSH_SERVICE": "fcm"}, want: `PUSH_SERVICE "fcm": want empty (real push services), "local"`},
		{name: "https", env: map[string]string{"PUSH_SERVICE": "https://127.0.0.1:8900"}, want: "the http:// URL of a local push service running on this machine"},
		{name: "not loopback", env: map[string]string{"PUSH_SERVICE": "http://push.example.com:8900"}, want: `PUSH_SERVICE "http://push.example.com:8900": the local push service is on loopback only`},
		{name: "a path", env: map[string]string{"PUSH_SERVICE": "http://127.0.0.1:8900/v1"}, want: "PUSH_SERVICE \"http://127.0.0.1:8900/v1\": want the service's base URL, with no path"},
		{name: "a query", env: map[string]string{"PUSH_SERVICE": "http://127.0.0.1:8900/?x=1"}, want: "want no query"},
		{name: "a password", env: map[string]string{"PUSH_SERVICE": "http://me:s3cret@127.0.0.1:8900"}, want: "PUSH_SERVICE (a URL with a user or password): want no user or password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want == "" && cfg.ExternalPushService() != tt.external:
				t.Errorf("ExternalPushService() = %v for %q", !tt.external, cfg.PushService)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one saying %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestHostAllowlist(t *testing.T) {
	a := NewAllowlist([]string{"push.example.com", "127.0.0.1:7000"}, []string{"http://127.0.0.1:7100/wpush/"}, 0)
	for _, tt := range []struct {
		endpoint string
		ok       bool
	}{
		{"https://fcm.googleapis.com/fcm/send/abc", true},
		{"https://jmt17.google.com/fcm/send/abc", true},
		{"https://updates.push.services.mozilla.com/wpush/v2/abc", true},
		{"https://web.push.apple.com/QGx", true},
		{"https://wns2-by3p.notify.windows.com/w/?token=x", true},
		{"https://push.example.com/x", true},
		{"http://push.example.com/x", true},
		{"http://push.example.com:6379/x", false},
		{"https://fcm.googleapis.com:443/fcm/send/abc", true},
		{"http://127.0.0.1:7000/wpush/x", true},
		{"http://127.0.0.1:7001/wpush/x", false},
		{"http://fcm.googleapis.com/fcm/send/abc", false},
		{"https://fcm.googleapis.com:8443/fcm/send/abc", false},
		{"https://evilpush.apple.com/x", false},
		{"https://push.apple.com.evil.example/x", false},
		{"https://169.254.169.254/latest/meta-data", false},
		{"https://localhost/x", false},
		{"file:///etc/passwd", false},
		// The local push service: exactly the endpoints it hands out.
		{"http://127.0.0.1:7100/wpush/AbC-_123", true},
		{"http://127.0.0.1:7100/wpush/", false},
		{"http://127.0.0.1:7100/wpush/a/b", false},
		{"http://127.0.0.1:7100/wpush/a?x=1", false},
		{"http://127.0.0.1:7100/faults", false},
		{"http://127.0.0.1:7100/events", false},
		{"http://127.0.0.1:7100/wpush/" + strings.Repeat("a", 129), false},
		// Spaces and control characters are never part of an endpoint.
		{"https://fcm.googleapis.com/fcm/send/abc ", false},
		{" https://fcm.googleapis.com/fcm/send/abc", false},
		{"https://fcm.googleapis.com/fcm/send/a\tb", false},
		{"https://fcm.googleapis.com/fcm/send/a\x7fb", false},
		// Longer than the push services' own endpoints.
		{"https://fcm.googleapis.com/fcm/send/" + strings.Repeat("a", DefaultMaxEndpointBytes), false},
	} {
		err := a.Check(tt.endpoint)
		if got := err == nil; got != tt.ok {
			t.Errorf("%q: allowed=%v, want %v (%v)", tt.endpoint, got, tt.ok, err)
		}
		var fe *push.FieldError
		if err != nil && (!errors.As(err, &fe) || fe.Field != "endpoint") {
			t.Errorf("%q: error %v does not name the field endpoint", tt.endpoint, err)
		}
	}
}

// TestPublicURLNotInUsage: usage, printed on any mistyped flag, never
// shows PUBLIC_URL, which a mistake may fill with a password; the
// environment's value still counts, and the flag wins over it.
func TestPublicURLNotInUsage(t *testing.T) {
	var usage strings.Builder
	env := map[string]string{"PUBLIC_URL": "https://me:s3cretpw@push.example.com"}
	if _, err := LoadConfig([]string{"-nosuchflag"}, func(k string) string { return env[k] }, &usage); err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if !strings.Contains(usage.String(), "-public-url") || strings.Contains(usage.String(), "s3cretpw") {
		t.Errorf("the usage text shows PUBLIC_URL's password:\n%s", usage.String())
	}
	env = map[string]string{"PUBLIC_URL": "https://push.example.com"}
	cfg, err := LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.PublicURL != env["PUBLIC_URL"] {
		t.Errorf("PUBLIC_URL from the environment: %q, %v", cfg.PublicURL, err)
	}
}

func TestDatabaseURLNotInUsage(t *testing.T) {
	var usage strings.Builder
	env := map[string]string{"DATABASE_URL": "postgres://u:s3cretpw@db:5432/x"}
	_, err := LoadConfig([]string{"-nosuchflag"}, func(k string) string { return env[k] }, &usage)
	if err == nil {
		t.Fatal("an unknown flag was accepted")
	}
	if strings.Contains(usage.String(), "s3cretpw") {
		t.Errorf("the usage text shows DATABASE_URL's password:\n%s", usage.String())
	}
	cfg, err := LoadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.DatabaseURL != env["DATABASE_URL"] {
		t.Errorf("DATABASE_URL from the environment: %q, %v", cfg.DatabaseURL, err)
	}
	cfg, err = LoadConfig([]string{"-database-url", "postgres://other/db"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.DatabaseURL != "postgres://other/db" {
		t.Errorf("the flag should win over the environment: %q, %v", cfg.DatabaseURL, err)
	}
}

// TestPublicURL: notifications link to PUBLIC_URL's origin (the flag wins
// over the environment), or without it to the port of ADDR on localhost or
// on ADDR's own host; a PUBLIC_URL that is no origin is refused by name.
func TestPublicURL(t *testing.T) {
	for _, tt := range []struct {
		name       string
		env        map[string]string
		args       []string
		listenPort int
		want       string // "" for an error naming PUBLIC_URL
	}{
		{name: "default", want: "http://localhost:8000"},
		{name: "ADDR on every interface", env: map[string]string{"ADDR": "0.0.0.0:9000"}, want: "http://localhost:9000"},
		{name: "ADDR on every IPv6 interface", env: map[string]string{"ADDR": "[::]:9000"}, want: "http://localhost:9000"},
		{name: "ADDR's host", env: map[string]string{"ADDR": "127.0.0.1:9000"}, want: "http://127.0.0.1:9000"},
		{name: "ADDR's IPv6 host", env: map[string]string{"ADDR": "[::1]:9000"}, want: "http://[::1]:9000"},
		{name: "ADDR's port 0, once listening", env: map[string]string{"ADDR": "127.0.0.1:0"}, listenPort: 41234, want: "http://127.0.0.1:41234"},
		{name: "environment", env: map[string]string{"PUBLIC_URL": " https://Push.Example.com/ "}, want: "https://push.example.com"},
		{name: "flag wins", env: map[string]string{"PUBLIC_URL": "https://a.example"}, args: []string{"-public-url", "https://b.example:8443"}, want: "https://b.example:8443"},
		{name: "PUBLIC_URL wins over ADDR", env: map[string]string{"ADDR": "127.0.0.1:9000", "PUBLIC_URL": "https://push.example.com"}, listenPort: 9000, want: "https://push.example.com"},
		{name: "a path", env: map[string]string{"PUBLIC_URL": "https://push.example.com/app"}},
		{name: "no scheme", env: map[string]string{"PUBLIC_URL": "push.example.com"}},
		{name: "another scheme", env: map[string]string{"PUBLIC_URL": "ftp://push.example.com"}},
		{name: "a query", env: map[string]string{"PUBLIC_URL": "https://push.example.com?a=1"}},
		{name: "a fragment", env: map[string]string{"PUBLIC_URL": "https://push.example.com#x"}},
		{name: "a user", env: map[string]string{"PUBLIC_URL": "https://me@push.example.com"}},
		{name: "a user and password", env: map[string]string{"PUBLIC_URL": "https://me:s3cretpw@push.example.com"}},
		{name: "a user and password, by flag", args: []string{"-public-url", "https://me:s3cretpw@push.example.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.want == "" {
				if err == nil || !strings.HasPrefix(err.Error(), "PUBLIC_URL ") {
					t.Fatalf("err %v, want one naming PUBLIC_URL", err)
				}
				if strings.Contains(err.Error(), "s3cretpw") {
					t.Errorf("err %q repeats the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o, err := cfg.PublicOrigin(tt.listenPort)
			if err != nil || o.String() != tt.want {
				t.Fatalf("PublicOrigin(%d) = %q, %v; want %q", tt.listenPort, o, err, tt.want)
			}
		})
	}
}
