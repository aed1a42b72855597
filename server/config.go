//go:build !wasm

package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"pushstart/localpush"
	"pushstart/push"
	"pushstart/server/delivery"
)

// Config holds every setting of the server. Each one is read from the
// environment variable named in its comment and can be overridden by the flag
// of the same meaning; LoadConfig fills it, Validate checks it.
type Config struct {
	Addr             string   // ADDR, -addr: where the HTTP server listens
	PublicURL        string   // PUBLIC_URL, -public-url: the origin users open the page at, which notifications link to; empty: derived from ADDR (see PublicOrigin)
	DataDir          string   // DATA_DIR, -data-dir: SQLite database, VAPID keys, admin token
	DatabaseURL      string   // DATABASE_URL, -database-url: postgres://... to keep subscriptions and the queue in PostgreSQL; empty for SQLite in DATA_DIR
	WebDir           string   // WEB_DIR, -web-dir: serve the page's files (app.wasm, icons, CSS) from this folder instead of those built into the binary
	VAPIDSubject     string   // VAPID_SUBJECT, -vapid-subject: mailto: or https: contact for push services
	VAPIDPublicKey   string   // VAPID_PUBLIC_KEY: base64url; with VAPID_PRIVATE_KEY, overrides the stored pair
	VAPIDPrivateKey  string   // VAPID_PRIVATE_KEY: base64url; environment only (a secret)
	AdminToken       string   // ADMIN_TOKEN: bearer token of POST /api/notifications; environment only
	PushAllowedHosts []string // PUSH_ALLOWED_HOSTS, -push-allowed-hosts: extra push service hosts
	PushService      string   // PUSH_SERVICE, -push-service: "" for the real push services, "local" for the built-in one, or the http:// URL of a local push service running elsewhere on this machine
	LocalPushAddr    string   // LOCAL_PUSH_ADDR, -local-push-addr: HTTP/WebSocket address of the local push service (PUSH_SERVICE=local only)
	LocalPushMCSAddr string   // LOCAL_PUSH_MCS_ADDR, -local-push-mcs-addr: Chromium MCS (TLS) address of the local push service (PUSH_SERVICE=local only)
	LogLevel         string   // LOG_LEVEL, -log-level: debug, info, warn or error
	LogFormat        string   // LOG_FORMAT, -log-format: text or json

	// Limits on what anonymous clients can make the server do. A rate is
	// requests per minute, with bursts of as many; 0 turns a limit off.
	SubscribeRate        int    // SUBSCRIBE_RATE, -subscribe-rate: subscribes and unsubscribes per client address
	TestSendRate         int    // TEST_SEND_RATE, -test-send-rate: test sends per client address
	TestSendEndpointRate int    // TEST_SEND_ENDPOINT_RATE, -test-send-endpoint-rate: test sends per endpoint
	MaxSubscriptions     int    // MAX_SUBSCRIPTIONS, -max-subscriptions: stored subscriptions at most
	MaxEndpointBytes     int    // MAX_ENDPOINT_BYTES, -max-endpoint-bytes: longest endpoint URL accepted
	PushMaxConnsPerHost  int    // PUSH_MAX_CONNS_PER_HOST, -push-max-conns-per-host: requests in flight, and connections open, to one push service host at most
	TrustedProxyHeader   string // TRUSTED_PROXY_HEADER, -trusted-proxy-header: X-Forwarded-For or X-Real-IP, set by your reverse proxy
	AdminSignInRate      int    // ADMIN_SIGNIN_RATE, -admin-signin-rate: wrong admin tokens per client address, after which it must wait
	EventRate            int    // EVENT_RATE, -event-rate: notification events (shown, clicked, closed) per client address

	// AdminSessionTTL (ADMIN_SESSION_TTL, -admin-session-ttl) is how long
	// the admin console's session lasts after signing in with the token.
	AdminSessionTTL time.Duration

	// DeliveryRescueAfter (DELIVERY_RESCUE_AFTER, -delivery-rescue-after) is
	// how long a part of a broadcast may look running before another
	// worker takes it over: after a crash, how soon the broadcast resumes.
	DeliveryRescueAfter time.Duration
	// BroadcastChunkSize (BROADCAST_CHUNK_SIZE, -broadcast-chunk-size) is
	// how many subscriptions one job of a broadcast sends to: the unit of
	// work instances share.
	BroadcastChunkSize int
}

// minAdminToken is the shortest ADMIN_TOKEN accepted: a short one could be
// guessed.
const minAdminToken = 16

// PushServiceLocal is the PUSH_SERVICE value that starts the built-in local
// push service. The third form of PUSH_SERVICE, an http:// URL, names a
// local push service already running on this machine (a `pushstart
// push-service`, or another kit's): "external" mode, in which the kit starts
// none (see Config.ExternalPushService).
const PushServiceLocal = "local"

// ExternalPushService reports whether PUSH_SERVICE names a local push
// service running elsewhere on this machine by its URL.
func (c Config) ExternalPushService() bool {
	return c.PushService != "" && c.PushService != PushServiceLocal
}

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

		SubscribeRate:        30,
		TestSendRate:         10,
		TestSendEndpointRate: 4,
		MaxSubscriptions:     100_000,
		MaxEndpointBytes:     DefaultMaxEndpointBytes,
		PushMaxConnsPerHost:  64,
		DeliveryRescueAfter:  delivery.DefaultRescueAfter,
		BroadcastChunkSize:   delivery.DefaultChunkSize,
		AdminSignInRate:      5,
		EventRate:            120,
		AdminSessionTTL:      12 * time.Hour,
	}
}

// Allowlist is the push service allowlist these settings ask for, with the
// endpoints of local, the local push service, when it runs.
func (c Config) Allowlist(local LocalPush) *Allowlist {
	var prefixes []string
	if local != nil {
		prefixes = []string{local.EndpointPrefix()}
	}
	return NewAllowlist(c.PushAllowedHosts, prefixes, c.MaxEndpointBytes)
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
	str(&c.PublicURL, "PUBLIC_URL")
	str(&c.DataDir, "DATA_DIR")
	str(&c.DatabaseURL, "DATABASE_URL")
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
	str(&c.TrustedProxyHeader, "TRUSTED_PROXY_HEADER")
	hosts := strings.Join(splitList(getenv("PUSH_ALLOWED_HOSTS")), ",")
	ints := []struct {
		dst  *int
		env  string
		flag string
		help string
	}{
		{&c.SubscribeRate, "SUBSCRIBE_RATE", "subscribe-rate", "subscribes and unsubscribes a minute per client address; 0 for no limit"},
		{&c.TestSendRate, "TEST_SEND_RATE", "test-send-rate", "test sends a minute per client address; 0 for no limit"},
		{&c.TestSendEndpointRate, "TEST_SEND_ENDPOINT_RATE", "test-send-endpoint-rate", "test sends a minute per endpoint; 0 for no limit"},
		{&c.MaxSubscriptions, "MAX_SUBSCRIPTIONS", "max-subscriptions", "stored subscriptions at most; 0 for no ceiling"},
		{&c.MaxEndpointBytes, "MAX_ENDPOINT_BYTES", "max-endpoint-bytes", "longest endpoint URL accepted, in bytes"},
		{&c.PushMaxConnsPerHost, "PUSH_MAX_CONNS_PER_HOST", "push-max-conns-per-host", "requests in flight, and connections open, to one push service host at most"},
		{&c.BroadcastChunkSize, "BROADCAST_CHUNK_SIZE", "broadcast-chunk-size", "subscriptions per job of a broadcast, the unit of work instances share"},
		{&c.AdminSignInRate, "ADMIN_SIGNIN_RATE", "admin-signin-rate", "wrong admin tokens a minute per client address before it must wait; 0 for no limit"},
		{&c.EventRate, "EVENT_RATE", "event-rate", "notification events (shown, clicked, closed) a minute per client address; 0 for no limit"},
	}
	for _, n := range ints {
		if v := strings.TrimSpace(getenv(n.env)); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil {
				return c, fmt.Errorf("%s %q: want a whole number", n.env, v)
			}
			*n.dst = i
		}
	}

	for _, d := range []struct {
		dst     *time.Duration
		env, eg string
	}{
		{&c.DeliveryRescueAfter, "DELIVERY_RESCUE_AFTER", "5m or 30s"},
		{&c.AdminSessionTTL, "ADMIN_SESSION_TTL", "12h or 30m"},
	} {
		if v := strings.TrimSpace(getenv(d.env)); v != "" {
			v, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("%s %q: want a duration such as %s", d.env, getenv(d.env), d.eg)
			}
			*d.dst = v
		}
	}

	fs := flag.NewFlagSet("pushstart", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() {
		fmt.Fprintln(usage, "Usage: pushstart [flags]  runs the server; `pushstart help` lists the subcommands (send, vapid-keys).")
		fmt.Fprintln(usage, "Every flag has an environment variable of the same meaning, named in parentheses; the flag wins.")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen `address` (ADDR)")
	// No default shown from the environment: a mistaken PUBLIC_URL may
	// hold a user and password, and usage is printed on any mistyped flag.
	var publicURL string
	fs.StringVar(&publicURL, "public-url", "", "the origin users open the page at, such as https://push.example.com, which notifications link to; empty: http://localhost and the port of ADDR, or ADDR's host (PUBLIC_URL)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "`directory` of the database, VAPID keys and admin token (DATA_DIR)")
	// No default shown from the environment: the URL may hold a password,
	// and usage is printed on any mistyped flag.
	var databaseURL string
	fs.StringVar(&databaseURL, "database-url", "", "postgres://`URL` of a PostgreSQL database for the subscriptions and the delivery queue, shared by every instance; empty for SQLite in DATA_DIR (DATABASE_URL)")
	fs.DurationVar(&c.DeliveryRescueAfter, "delivery-rescue-after", c.DeliveryRescueAfter, "how long a part of a broadcast may look running before another worker takes it over: after a crash, how soon sending resumes (DELIVERY_RESCUE_AFTER)")
	fs.DurationVar(&c.AdminSessionTTL, "admin-session-ttl", c.AdminSessionTTL, "how long an admin console session lasts after signing in (ADMIN_SESSION_TTL)")
	fs.StringVar(&c.WebDir, "web-dir", c.WebDir, "serve the page's files (app.wasm, icons, CSS) from this `directory` instead of those built into the binary, for development (WEB_DIR)")
	fs.StringVar(&c.VAPIDSubject, "vapid-subject", c.VAPIDSubject, "VAPID contact, mailto: or https: `URI` (VAPID_SUBJECT)")
	fs.StringVar(&c.VAPIDPublicKey, "vapid-public-key", c.VAPIDPublicKey, "VAPID public `key`, base64url; the private key comes from VAPID_PRIVATE_KEY only (VAPID_PUBLIC_KEY)")
	fs.StringVar(&hosts, "push-allowed-hosts", hosts, "comma-separated extra push service `hosts` (host or host:port; plain http allowed for them) (PUSH_ALLOWED_HOSTS)")
	fs.StringVar(&c.PushService, "push-service", c.PushService, `"local" starts the built-in local push service for offline use and tests; an http://127.0.0.1:P `+"`URL`"+` uses a local push service already running there, such as pushstart push-service's (PUSH_SERVICE)`)
	fs.StringVar(&c.LocalPushAddr, "local-push-addr", c.LocalPushAddr, "local push service HTTP and WebSocket `address`, with -push-service local (LOCAL_PUSH_ADDR)")
	fs.StringVar(&c.LocalPushMCSAddr, "local-push-mcs-addr", c.LocalPushMCSAddr, "local push service Chromium MCS `address`, with -push-service local (LOCAL_PUSH_MCS_ADDR)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json (LOG_FORMAT)")
	fs.StringVar(&c.TrustedProxyHeader, "trusted-proxy-header", c.TrustedProxyHeader, "the `header` your reverse proxy puts the client's address in, X-Forwarded-For or X-Real-IP; only behind such a proxy (TRUSTED_PROXY_HEADER)")
	for _, n := range ints {
		fs.IntVar(n.dst, n.flag, *n.dst, n.help+" ("+n.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.PushAllowedHosts = splitList(hosts)
	if databaseURL != "" {
		c.DatabaseURL = databaseURL
	}
	if publicURL != "" {
		c.PublicURL = publicURL
	}
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
	if _, err := c.PublicOrigin(0); err != nil {
		return err
	}
	if c.DataDir == "" {
		return errors.New("DATA_DIR: must not be empty")
	}
	if c.ExternalPushService() {
		if err := checkPushServiceURL(c.PushService); err != nil {
			return err
		}
	}
	if c.PushService == PushServiceLocal {
		for env, addr := range map[string]string{"LOCAL_PUSH_ADDR": c.LocalPushAddr, "LOCAL_PUSH_MCS_ADDR": c.LocalPushMCSAddr} {
			if err := localpush.CheckAddr(addr); err != nil {
				return fmt.Errorf("%s %q: %w", env, addr, err)
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
	for env, v := range map[string]int{
		"SUBSCRIBE_RATE": c.SubscribeRate, "TEST_SEND_RATE": c.TestSendRate,
		"TEST_SEND_ENDPOINT_RATE": c.TestSendEndpointRate, "MAX_SUBSCRIPTIONS": c.MaxSubscriptions,
		"ADMIN_SIGNIN_RATE": c.AdminSignInRate, "EVENT_RATE": c.EventRate,
	} {
		if v < 0 {
			return fmt.Errorf("%s %d: must not be negative", env, v)
		}
	}
	// A subscription body (at most 8 KiB) must hold an endpoint and the old
	// one it replaces.
	if c.MaxEndpointBytes < 256 || c.MaxEndpointBytes > 3072 {
		return fmt.Errorf("MAX_ENDPOINT_BYTES %d: want 256 to 3072 (push services' endpoints are under 600 bytes)", c.MaxEndpointBytes)
	}
	if c.PushMaxConnsPerHost < 1 {
		return fmt.Errorf("PUSH_MAX_CONNS_PER_HOST %d: want at least 1", c.PushMaxConnsPerHost)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return errors.New("DATABASE_URL: want postgres://user:password@host:port/database (or empty for SQLite in DATA_DIR)")
	}
	if c.BroadcastChunkSize < 10 || c.BroadcastChunkSize > 10_000 {
		return fmt.Errorf("BROADCAST_CHUNK_SIZE %d: want 10 to 10000", c.BroadcastChunkSize)
	}
	if c.DeliveryRescueAfter < 2*time.Second || c.DeliveryRescueAfter > 24*time.Hour {
		return fmt.Errorf("DELIVERY_RESCUE_AFTER %v: want 2s to 24h", c.DeliveryRescueAfter)
	}
	if c.AdminSessionTTL < 5*time.Minute || c.AdminSessionTTL > 30*24*time.Hour {
		return fmt.Errorf("ADMIN_SESSION_TTL %v: want 5m to 720h", c.AdminSessionTTL)
	}
	switch http.CanonicalHeaderKey(c.TrustedProxyHeader) {
	case "", "X-Forwarded-For", "X-Real-Ip":
	default:
		return fmt.Errorf("TRUSTED_PROXY_HEADER %q: want X-Forwarded-For or X-Real-IP, or empty when no reverse proxy is in front", c.TrustedProxyHeader)
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

// PublicOrigin is the origin users open the page at, the base of the
// absolute URLs in every notification (push.Notification.Marshal): that of
// PUBLIC_URL, or, when it is unset, http://localhost with ADDR's port, or
// ADDR's own host when it names one other than 0.0.0.0 or ::. listenPort,
// when not 0, is the port the server listens on, which an ADDR port of 0
// leaves to the system. An ADDR with port 0 and no listenPort gives the
// zero Origin and no error.
func (c Config) PublicOrigin(listenPort int) (push.Origin, error) {
	if c.PublicURL != "" {
		o, err := push.ParseOrigin(c.PublicURL)
		if err != nil {
			// Not repeated when it may hold a password (ParseOrigin
			// refuses a user in it).
			shown := strconv.Quote(c.PublicURL)
			if strings.Contains(c.PublicURL, "@") {
				shown = "(a URL with a user or password)"
			}
			return push.Origin{}, fmt.Errorf("PUBLIC_URL %s %v", shown, err)
		}
		return o, nil
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return push.Origin{}, fmt.Errorf("ADDR %q: want host:port, e.g. :8000", c.Addr)
	}
	if listenPort != 0 {
		port = strconv.Itoa(listenPort)
	}
	if port == "0" {
		return push.Origin{}, nil
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "localhost"
	}
	o, err := push.ParseOrigin("http://" + net.JoinHostPort(host, port))
	if err != nil {
		return push.Origin{}, fmt.Errorf("PUBLIC_URL is unset and ADDR %q gives no origin to link notifications to (%v): set PUBLIC_URL", c.Addr, err)
	}
	return o, nil
}

// checkPushServiceURL checks PUSH_SERVICE's URL form. A value with a user
// or password in it is not repeated in the error.
func checkPushServiceURL(v string) error {
	shown := strconv.Quote(v)
	if strings.Contains(v, "@") {
		shown = "(a URL with a user or password)"
	}
	if !strings.HasPrefix(strings.ToLower(v), "http://") {
		return fmt.Errorf("PUSH_SERVICE %s: want empty (real push services), %q (start the local push service in-process) "+
			"or the http:// URL of a local push service running on this machine, such as http://127.0.0.1:8900", shown, PushServiceLocal)
	}
	if _, err := localpush.CheckServiceURL(v); err != nil {
		return fmt.Errorf("PUSH_SERVICE %s: %w", shown, err)
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
