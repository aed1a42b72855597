package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"pushstart/localpush"
)

const pushServiceUsage = `Usage: pushstart push-service [flags]

Runs only the local push service, until Ctrl-C (SIGINT) or SIGTERM: a real
RFC 8030 push service on this machine that Chromium and Firefox subscribe
with, that any sender (Node's web-push, pywebpush, webpush-go) pushes to,
and whose test API injects faults and reports what happened. It prints how
to point the browsers and senders at it; docs/push-service-api.md is the
reference of its HTTP API.

  --addr HOST:PORT       its HTTP port: push endpoints, Firefox's WebSocket, Chromium's
                         check-in and registration, the test API, TLS and the CONNECT
                         proxy for senders (LOCAL_PUSH_ADDR; default 127.0.0.1:8900)
  --mcs-addr HOST:PORT   Chromium's MCS port, TLS (LOCAL_PUSH_MCS_ADDR; default 127.0.0.1:8901)
  --ca-file FILE         write the certificate of the service's CA, which senders must
                         trust, to FILE (LOCAL_PUSH_CA_FILE; default: not written, it is
                         served at GET /v1/ca.pem)
  --log-level LEVEL      debug, info, warn or error; logs go to stderr (LOG_LEVEL; default info)
  --json                 once the service answers, print its configuration (GET /v1/config)
                         as one line of JSON on stdout, and nothing else there

Both addresses must be loopback; port 0 picks a free one. Everything is kept
in memory: a restarted service knows no subscription.

Exit status: 0 when stopped by a signal, 1 when the service fails, 2 for a
wrong command line or setting.
`

// Defaults of push-service's addresses: beside the kit's :8000, and fixed,
// so that a browser profile or a sender's settings outlive a restart.
const (
	defaultPushServiceAddr    = "127.0.0.1:8900"
	defaultPushServiceMCSAddr = "127.0.0.1:8901"
)

// pushService runs the local push service alone until ctx is done.
func pushService(ctx context.Context, args []string, sys IO) int {
	const cmd = "push-service"
	env := func(name, def string) string {
		if v := sys.Getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("pushstart push-service", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", env("LOCAL_PUSH_ADDR", defaultPushServiceAddr), "")
	mcsAddr := fs.String("mcs-addr", env("LOCAL_PUSH_MCS_ADDR", defaultPushServiceMCSAddr), "")
	caFile := fs.String("ca-file", env("LOCAL_PUSH_CA_FILE", ""), "")
	logLevel := fs.String("log-level", env("LOG_LEVEL", "info"), "")
	asJSON := fs.Bool("json", false, "")
	if code, ok := parseFlags(fs, args, cmd, pushServiceUsage, sys); !ok {
		return code
	}
	for _, a := range []struct{ flag, env, value string }{
		{"--addr", "LOCAL_PUSH_ADDR", *addr},
		{"--mcs-addr", "LOCAL_PUSH_MCS_ADDR", *mcsAddr},
	} {
		if err := localpush.CheckAddr(a.value); err != nil {
			return usageError(sys, cmd, fmt.Sprintf("%s (%s) %q: %v", a.flag, a.env, a.value, err))
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError(sys, cmd, fmt.Sprintf("--log-level (LOG_LEVEL) %q: want debug, info, warn or error", *logLevel))
	}

	log := slog.New(slog.NewTextHandler(sys.Stderr, &slog.HandlerOptions{Level: level}))
	svc, err := localpush.New(localpush.Config{Addr: *addr, MCSAddr: *mcsAddr, CAFile: *caFile, Log: log})
	if err != nil {
		fmt.Fprintln(sys.Stderr, "pushstart push-service:", err)
		return exitFailure
	}
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	select {
	case <-svc.Ready():
	case err := <-done:
		return serviceStopped(sys, err)
	}
	info := svc.Info()
	if *asJSON {
		b, err := json.Marshal(info)
		if err != nil {
			svc.Close()
			<-done
			fmt.Fprintln(sys.Stderr, "pushstart push-service:", err)
			return exitFailure
		}
		fmt.Fprintf(sys.Stdout, "%s\n", b)
	} else {
		printServiceInfo(sys.Stdout, info)
	}
	log.Info("local push service ready", "url", info.URL)
	return serviceStopped(sys, <-done)
}

// serviceStopped reports how the service ended and returns the exit status.
func serviceStopped(sys IO, err error) int {
	if err != nil {
		fmt.Fprintln(sys.Stderr, "pushstart push-service:", err)
		return exitFailure
	}
	return exitOK
}

// printServiceInfo writes, for people, how to point browsers and senders at
// the service.
func printServiceInfo(w io.Writer, info localpush.ServiceInfo) {
	fmt.Fprintf(w, "Local push service at %s\n\n", info.URL)

	fmt.Fprintln(w, "Chromium: start it with --user-data-dir=DIR and these switches (Playwright:")
	fmt.Fprintln(w, "launchPersistentContext's args): incognito contexts cannot subscribe, and without")
	fmt.Fprintln(w, "--user-data-dir Chromium ignores the last switch, which trusts the MCS port's key:")
	for _, a := range info.Browser.ChromiumArgs {
		fmt.Fprintf(w, "  %s\n", a)
	}

	fmt.Fprintln(w, "\nFirefox: put these lines in the profile's user.js (Playwright: firefoxUserPrefs):")
	for _, k := range slices.Sorted(maps.Keys(info.Browser.FirefoxPrefs)) {
		v, _ := json.Marshal(info.Browser.FirefoxPrefs[k])
		fmt.Fprintf(w, "  user_pref(%q, %s);\n", k, v)
	}

	fmt.Fprintln(w, "\nSenders: the endpoints answer plain http and TLS on the same port; Chromium's")
	fmt.Fprintln(w, "(https://fcm.googleapis.com/..., https://jmt17.google.com/...) are reached through")
	fmt.Fprintln(w, "the service as HTTPS proxy. Trust its CA and set the proxy:")
	if info.Sender.CAFile != "" {
		fmt.Fprintf(w, "  CA certificate: %s (also at %s/v1/ca.pem)\n", info.Sender.CAFile, info.URL)
	} else {
		fmt.Fprintf(w, "  CA certificate: %s/v1/ca.pem (--ca-file writes it to a file)\n", info.URL)
	}
	// One command's environment, not exports: in a shell, HTTPS_PROXY (a
	// proxy that refuses every other host) and SSL_CERT_FILE (a CA file in
	// place of the system's) would break curl, git, npm and go there.
	fmt.Fprintln(w, "  For the sender's command only (exported, they would break curl, git, npm and go in your shell):")
	vars := []string{"env"}
	for _, k := range slices.Sorted(maps.Keys(info.Sender.Env)) {
		vars = append(vars, k+"="+shellQuote(info.Sender.Env[k]))
	}
	fmt.Fprintf(w, "  %s <your sender command>\n", strings.Join(vars, " "))
	fmt.Fprintf(w, "  Node's web-push: webpush.sendNotification(subscription, payload, { proxy: '%s' })\n", info.Sender.Proxy)

	fmt.Fprintf(w, "\nTest API (loopback only): %s%s/ — faults, events (long poll), config, ca.pem;\n", info.URL, localpush.APIPrefix)
	fmt.Fprintln(w, "reference: docs/push-service-api.md. Ctrl-C stops the service.")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
