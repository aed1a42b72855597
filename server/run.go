//go:build !wasm

package server

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/localpush"
	"pushstart/server/admin"
	"pushstart/server/delivery"
	"pushstart/server/messageid"
	"pushstart/server/sender"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// Build is what the binary was built with.
type Build struct {
	Version string // the kit's version, shown in logs and to the page
	// Web holds the page's files as `make build` leaves them in web/:
	// app.wasm with its .br, .gz and .sum, icons and CSS. WEB_DIR, when set,
	// replaces them with a folder on disk.
	Web fs.FS
	// Page is go-app's handler of the page (package app's Handler): its
	// HTML, manifest and service worker. The server sets its version and
	// resources.
	Page *goapp.Handler
}

// Main runs the server with the given arguments and environment until ctx
// is done, and returns the process exit status.
func Main(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, build Build) int {
	cfg, err := LoadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "pushstart:", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	if err := Run(ctx, cfg, build, log, nil); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Run starts every part, serves until ctx is done, then shuts down
// gracefully. When ready is not nil it receives the listening address once
// the server accepts requests.
func Run(ctx context.Context, cfg Config, build Build, log *slog.Logger, ready chan<- string) error {
	if err := privateDir(cfg.DataDir, log); err != nil {
		return fmt.Errorf("DATA_DIR: %w", err)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()
	log.Info("store ready", "database", st.Dialect())

	keys, source, err := vapid.Load(cfg.DataDir, cfg.VAPIDPublicKey, cfg.VAPIDPrivateKey)
	if err != nil {
		return err
	}
	log.Info("VAPID keys ready", "source", source, "publicKey", keys.Public)
	if err := sharedKeys(ctx, st, keys); err != nil {
		return err
	}
	if _, err := vapid.Subject(cfg.VAPIDSubject); err != nil {
		return err
	}
	var appleRefuses *vapid.AppleSubjectError
	if errors.As(vapid.CheckApple(cfg.VAPIDSubject), &appleRefuses) && cfg.PushService == "" {
		// Only a warning: the kit may never send to Apple, and the default
		// subject, a placeholder, must start it. The sender refuses each
		// push to Apple itself, in errors that leave the subject out; it
		// is named here, once. A local push service never reaches Apple.
		log.Warn("VAPID_SUBJECT " + appleRefuses.Subject + ": " + appleRefuses.Error() +
			"; until then no push goes to Apple's push service (Safari, and Home Screen web apps on iOS and iPadOS)")
	}
	token, tokenPath, generated, err := admin.Token(cfg.DataDir, cfg.AdminToken)
	if err != nil {
		return err
	}
	if tokenPath != "" {
		log.Info("admin token (sign in at /admin, or Authorization: Bearer) is in a file", "path", tokenPath, "generated", generated)
	}

	// local is the local push service the kit uses, if any; inProcess is
	// it when the kit runs it itself, and so serves it.
	var local LocalPush
	var inProcess *localpush.Service
	var transport http.RoundTripper = sender.NewTransport(cfg.PushMaxConnsPerHost)
	switch {
	case cfg.PushService == PushServiceLocal:
		mcsKey, err := localPushKey(cfg.DataDir)
		if err != nil {
			return fmt.Errorf("the local push service's key: %w", err)
		}
		inProcess, err = localpush.New(localpush.Config{Addr: cfg.LocalPushAddr, MCSAddr: cfg.LocalPushMCSAddr, MCSKey: mcsKey, Log: log.With("component", "localpush")})
		if err != nil {
			return fmt.Errorf("starting the local push service: %w", err)
		}
		local = inProcess
		log.Info("local push service started; browsers must be pointed at it (see GET /api/local-push)", "url", local.URL())
	case cfg.ExternalPushService():
		// Another process runs it: the kit neither listens for browsers
		// (LOCAL_PUSH_ADDR, LOCAL_PUSH_MCS_ADDR) nor keeps an MCS key.
		client, err := localpush.Dial(ctx, cfg.PushService, log.With("component", "localpush"))
		if err != nil {
			return fmt.Errorf("PUSH_SERVICE %w", err)
		}
		local = client
		log.Info("using the local push service running at PUSH_SERVICE; browsers must be pointed at it (see GET /api/local-push)", "url", local.URL())
	}
	if local != nil {
		defer local.Close()
		transport = local.Transport(transport)
	}

	allow := cfg.Allowlist(local)
	trace := NewTraceHub(local)
	var breaks *sender.Breaks
	if local != nil {
		breaks = sender.NewBreaks()
	}
	snd, err := sender.New(sender.Options{
		Keys:          keys,
		Subject:       cfg.VAPIDSubject,
		Client:        sender.NewHTTPClient(transport),
		Store:         st,
		Log:           log.With("component", "sender"),
		CheckEndpoint: allow.Check,
		MaxPerHost:    cfg.PushMaxConnsPerHost,
		Trace:         trace,
		Breaks:        breaks,
	})
	if err != nil {
		return err
	}
	ids, err := messageIDs(ctx, st)
	if err != nil {
		return err
	}
	engine, err := delivery.New(ctx, delivery.Options{
		DB: st, Sender: snd, Log: log.With("component", "delivery"), RescueAfter: cfg.DeliveryRescueAfter,
		ChunkSize: cfg.BroadcastChunkSize, MessageID: ids.Sign,
	})
	if err != nil {
		return err
	}

	files, source := webFiles(cfg, build.Web)
	assets, err := pageHandler(build.Page, files, build.Version)
	switch {
	case errors.Is(err, errNoWasm) && cfg.WebDir == "":
		log.Warn("this binary was built without the page (no app.wasm): the API works, the page says to build with `make build`")
	case err != nil:
		return fmt.Errorf("the page's files (%s): %w; build them with make build", source, err)
	default:
		log.Debug("serving the page", "from", source)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	// Without PUBLIC_URL, notifications link to the port listened on,
	// which ADDR may have left to the system (port 0).
	origin, err := cfg.PublicOrigin(ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.PublicURL == "" && cfg.PushService == "" {
		// Real push services mean real users, who rarely open the page at
		// the origin derived from ADDR: Safari opens navigate as it is.
		log.Warn("PUBLIC_URL is unset: notifications link to " + origin.String() +
			"; set PUBLIC_URL to the address users open the page at, such as https://push.example.com")
	}
	srv := New(cfg, Deps{
		Store: st, Sender: snd, Engine: engine, Keys: keys, AdminToken: token, MessageIDs: ids, Local: local,
		Allowlist: allow, Assets: assets, Log: log, Trace: trace, Origin: origin,
	})
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // a test send may wait out retries
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Progress streams would hold a graceful shutdown for as long as their
	// broadcasts last: they end at once, and clients reconnect elsewhere.
	hs.RegisterOnShutdown(srv.EndStreams)

	errc := make(chan error, 2)
	// The local push service outlives the HTTP server's shutdown, so that
	// sends still in flight can reach it.
	localCtx, stopLocal := context.WithCancel(context.Background())
	defer stopLocal()
	if inProcess != nil {
		go func() { errc <- inProcess.Serve(localCtx) }()
	}
	// Broadcasts accepted before a stop or a crash resume now.
	if err := engine.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	go func() { errc <- hs.Serve(ln) }()
	log.Info("pushstart listening", "addr", ln.Addr().String(), "publicURL", origin.String(), "version", build.Version, "pushService", cmp.Or(cfg.PushService, "real"))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	// Chunks still sending stop between pushes, their pushes in flight
	// recorded, and continue on the next start or in another instance.
	stopEngine := func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := engine.Stop(stopCtx); err != nil {
			log.Warn("delivery: stopping", "err", err)
		}
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			hs.Close()
			stopEngine()
			return err
		}
	}
	log.Info("shutting down")
	engineStopped := make(chan struct{})
	go func() {
		defer close(engineStopped)
		stopEngine()
	}()
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		// Requests still running after the grace period are cut off
		// before the store closes under them.
		hs.Close()
		log.Warn("requests still running at shutdown were cut off", "err", err)
	}
	<-engineStopped
	return nil
}

// sharedKeys refuses to start on PostgreSQL with VAPID keys other than the
// ones the database was first used with: every instance sharing it sends to
// the same subscriptions, which were made with one public key. (On SQLite,
// one instance owns the database and may rotate its keys; the page renews
// its subscription when it sees the new key.)
func sharedKeys(ctx context.Context, st *store.DB, keys vapid.Keys) error {
	if st.Postgres() == nil {
		return nil
	}
	first, err := st.Setting(ctx, "vapid_public_key", keys.Public)
	if err != nil {
		return fmt.Errorf("reading the database's VAPID key: %w", err)
	}
	if first != keys.Public {
		return fmt.Errorf("VAPID_PUBLIC_KEY: this instance's VAPID public key %s is not the one this database was first used with (%s); "+
			"every instance sharing DATABASE_URL must be given the same VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY (make a pair once with `pushstart vapid-keys`)",
			keys.Public, first)
	}
	return nil
}

// messageIDs returns the signer of the message ids in broadcasts' pushes,
// with the key kept in the database: made by the first instance that
// starts on it, shared by every other, so that a report is accepted by
// whichever instance it reaches, after any restart.
func messageIDs(ctx context.Context, st *store.DB) (*messageid.Signer, error) {
	key, err := st.Setting(ctx, "message_id_key", messageid.NewKey())
	if err != nil {
		return nil, fmt.Errorf("reading the database's message id key: %w", err)
	}
	ids, err := messageid.Parse(key)
	if err != nil {
		return nil, fmt.Errorf("the database's message id key (setting message_id_key): %w", err)
	}
	return ids, nil
}

// privateDir makes dir (mode 0700) or, when it exists, takes group and others'
// access away: it holds every subscription's endpoint and keys, the VAPID
// private key and the admin token. A folder shared on purpose (sticky, like
// /tmp) or one the server may not change is left as it is, with a warning:
// the files in it are 0600 anyway.
func privateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if st.Mode()&fs.ModeSticky != 0 {
		log.Warn("DATA_DIR is a shared folder; its files are private (0600), but use a folder of the kit's own", "dir", dir)
		return nil
	}
	if err := os.Chmod(dir, st.Mode().Perm()&0o700); err != nil {
		log.Warn("DATA_DIR is open to other users and could not be closed; its files are private (0600)", "dir", dir, "err", err)
	}
	return nil
}
