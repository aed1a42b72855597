//go:build !wasm

package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
)

// Config holds every setting of the server. Each one is read from the
// environment variable named in its comment and can be overridden by the flag
// of the same meaning; LoadConfig fills it, Validate checks it.
type Config struct {
	Addr             string   // ADDR, -addr: where the HTTP server listens
	DataDir          string   // DATA_DIR, -data-dir: SQLite database, VAPID keys, admin token
	WebDir           string   // WEB_DIR, -web-dir: serve the page's files (app.wasm, icons, CSS) from this folder instead of those built into the binary
	VAPIDSubject     string   // VAPID_SUBJECT, -vapid-subject: mailto: or https: contact for push services
	VAPIDPublicKey   string   // VAPID_PUBLIC_KEY: base64url; with VAPID_PRIVATE_KEY, overrides the stored pair
	VAPIDPrivateKey  string   // VAPID_PRIVATE_KEY: base64url; environment only (a secret)
	AdminToken       string   // ADMIN_TOKEN: bearer token of POST /api/notifications; environment only
	PushAllowedHosts []string // PUSH_ALLOWED_HOSTS, -push-allowed-hosts: extra push service hosts
	PushService      string   // PUSH_SERVICE, -push-service: "" for the real push services, "local" for the built-in one
	LocalPushAddr    string   // LOCAL_PUSH_ADDR, -local-push-addr: HTTP/WebSocket address of the local push service
	LocalPushMCSAddr string   // LOCAL_PUSH_MCS_ADDR, -local-push-mcs-addr: Chromium MCS (TLS) address of the local push service
	LogLevel         string   // LOG_LEVEL, -log-level: debug, info, warn or error
	LogFormat        string   // LOG_FORMAT, -log-format: text or json
}

// minAdminToken is the shortest ADMIN_TOKEN accepted: a short one could be
// guessed.
const minAdminToken = 16

// PushServiceLocal is the PUSH_SERVICE value that starts the built-in local
// push service.
const PushServiceLocal = "local"

// DefaultConfig returns the settings used when nothing is configured.
func DefaultConfig() Config {
	return Config{
		Addr:             ":8000",
		DataDir:          "./data",
		VAPIDSubject:     "mailto:webpush@localhost.localdomain",
		LocalPushAddr:    "127.0.0.1:0",
		LocalPushMCSAddr: "127.0.0.1:0",
		LogLevel:         "info",
		LogFormat:        "text",
	}
}

// LoadConfig reads the environment through getenv, then the flags in args,
// which win over the environment.
func LoadConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	c := DefaultConfig()
	str := func(dst *string, env string) {
		if v := strings.TrimSpace(getenv(env)); v != "" {
			*dst = v
		}
	}
	str(&c.Addr, "ADDR")
	str(&c.DataDir, "DATA_DIR")
	str(&c.WebDir, "WEB_DIR")
	str(&c.VAPIDSubject, "VAPID_SUBJECT")
	str(&c.VAPIDPublicKey, "VAPID_PUBLIC_KEY")
	str(&c.VAPIDPrivateKey, "VAPID_PRIVATE_KEY")
	str(&c.AdminToken, "ADMIN_TOKEN")
	str(&c.PushService, "PUSH_SERVICE")
	str(&c.LocalPushAddr, "LOCAL_PUSH_ADDR")
	str(&c.LocalPushMCSAddr, "LOCAL_PUSH_MCS_ADDR")
	str(&c.LogLevel, "LOG_LEVEL")
	str(&c.LogFormat, "LOG_FORMAT")
	hosts := strings.Join(splitList(getenv("PUSH_ALLOWED_HOSTS")), ",")

	fs := flag.NewFlagSet("pushstart", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen `address` (ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "`directory` of the database, VAPID keys and admin token (DATA_DIR)")
	fs.StringVar(&c.WebDir, "web-dir", c.WebDir, "serve the page's files (app.wasm, icons, CSS) from this `directory` instead of those built into the binary, for development (WEB_DIR)")
	fs.StringVar(&c.VAPIDSubject, "vapid-subject", c.VAPIDSubject, "VAPID contact, mailto: or https: `URI` (VAPID_SUBJECT)")
	fs.StringVar(&c.VAPIDPublicKey, "vapid-public-key", c.VAPIDPublicKey, "VAPID public `key`, base64url; the private key comes from VAPID_PRIVATE_KEY only (VAPID_PUBLIC_KEY)")
	fs.StringVar(&hosts, "push-allowed-hosts", hosts, "comma-separated extra push service `hosts` (host or host:port; plain http allowed for them) (PUSH_ALLOWED_HOSTS)")
	fs.StringVar(&c.PushService, "push-service", c.PushService, `"local" starts the built-in local push service for offline use and tests (PUSH_SERVICE)`)
	fs.StringVar(&c.LocalPushAddr, "local-push-addr", c.LocalPushAddr, "local push service HTTP and WebSocket `address` (LOCAL_PUSH_ADDR)")
	fs.StringVar(&c.LocalPushMCSAddr, "local-push-mcs-addr", c.LocalPushMCSAddr, "local push service Chromium MCS `address` (LOCAL_PUSH_MCS_ADDR)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json (LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.PushAllowedHosts = splitList(hosts)
	return c, c.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.ToLower(p))
		}
	}
	return out
}

// Validate reports the first bad setting by its environment name.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("ADDR %q: want host:port, e.g. :8000", c.Addr)
	}
	if c.DataDir == "" {
		return errors.New("DATA_DIR: must not be empty")
	}
	switch c.PushService {
	case "", PushServiceLocal:
	default:
		return fmt.Errorf("PUSH_SERVICE %q: want empty (real push services) or %q", c.PushService, PushServiceLocal)
	}
	if c.PushService == PushServiceLocal {
		for env, addr := range map[string]string{"LOCAL_PUSH_ADDR": c.LocalPushAddr, "LOCAL_PUSH_MCS_ADDR": c.LocalPushMCSAddr} {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return fmt.Errorf("%s %q: want host:port", env, addr)
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return fmt.Errorf("%s %q: the local push service listens on a loopback address only", env, addr)
			}
		}
	}
	for _, h := range c.PushAllowedHosts {
		if strings.ContainsAny(h, "/@ ?#") {
			return fmt.Errorf("PUSH_ALLOWED_HOSTS: %q is not a host or host:port", h)
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < minAdminToken {
		return fmt.Errorf("ADMIN_TOKEN: at least %d characters (unset, a random one is generated)", minAdminToken)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("LOG_FORMAT %q: want text or json", c.LogFormat)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", s)
	}
	return l, nil
}
