// Package localpush is a local push service: a stand-in for Mozilla's
// autopush and Google's FCM that real Firefox and Chromium talk to, so the
// whole Web Push flow (subscribe, encrypted and VAPID-signed push, the
// browser's own decryption, the service worker's push event) runs offline.
//
// One HTTP port serves Mozilla's WebSocket push protocol at "/" (Firefox's
// dom.push.serverURL), Chromium's GCM check-in and registration (package
// gcm), the push resource of RFC 8030 at /wpush/<token> (Firefox endpoints)
// and /fcm/send/<token> (Chromium endpoints, reached through Transport or
// the proxy), and the test API under /v1 (APIPrefix): faults, events,
// config (ServiceInfo) and ca.pem. A second port serves Chromium's MCS
// stream over TLS. docs/push-service-api.md is the API's reference.
//
// So that senders the kit did not write can push to it, the HTTP port also
// speaks TLS (a connection whose first byte begins a TLS handshake), with a
// certificate signed by the service's own CA, made at start and served at
// GET /v1/ca.pem: Node's web-push opens TLS to an endpoint whatever its
// scheme. And it is an HTTP CONNECT proxy for exactly the hosts it answers
// for (fcm.googleapis.com:443, jmt17.google.com:443 and its own address),
// each tunnel served by the service itself: a sender behind HTTPS_PROXY
// reaches Chromium's FCM endpoints offline. Any other CONNECT is refused.
//
// The push resource behaves as a real one: it verifies VAPID (RFC 8292),
// validates TTL, Urgency, Topic, Content-Encoding and size, keeps messages
// for browsers that are away until their TTL runs out, and answers 404 for
// unknown and 410 for unsubscribed endpoints. Its refusals:
//
//   - 400: missing or unsupported Content-Encoding (only aes128gcm), missing
//     or invalid TTL, unknown Urgency, invalid Topic;
//   - 401: missing Authorization, not the vapid scheme, without both t and
//     k, a k that is not a P-256 public key, a JWT that is malformed, not
//     ES256, not signed by k, with an aud other than the endpoint's origin,
//     expired, expiring more than 24 h ahead, or with a sub that is not a
//     mailto: or https: URI (package vapidverify makes these checks);
//   - 403: a valid JWT whose k is not the applicationServerKey the
//     subscription was made with;
//   - 404: no such subscription; 410: the subscription was unsubscribed;
//   - 413: a body over 4096 bytes.
//
// An accepted message (201, with its URL in Location) goes to the browser at
// once when it is connected, and stays pending until the browser
// acknowledges it; a browser that reconnects (Firefox with the same uaid,
// Chromium with the same android id) gets every pending message still
// within its TTL. A TTL 0 message for a browser that is away is dropped,
// still with 201. A message with a Topic replaces a pending one of the
// same subscription and topic that has not been sent yet. DELETE of the
// Location withdraws a pending message.
//
// A message whose TTL runs out while it waits is dropped when it does (a
// sweeper looks every second), with an expire event.
//
// The test APIs, for programs on this machine only: loopback clients, a
// Host that names loopback, and no sign of a web page (Origin, a cross-site
// Sec-Fetch-Site; see testAPIOnly). A program that runs the service
// in-process has SetFault and Watch for them:
//
//   - POST /v1/faults {"endpoint": "<as the browser gave it>", "kind": K, ...}
//     arms a fault for that endpoint; a bad field is answered 400 with
//     {"error", "field"}. The endpoint must be spelled as the service hands
//     it out (Service.Serves): /wpush/<token> at its own origin, or
//     /fcm/send/<token> or /wp/<token> at its own origin or at
//     fcm.googleapis.com or jmt17.google.com over https; "expire",
//     "offline", "latency" and "reset" also need a current subscription.
//     The kinds:
//   - "410" (any status 400-599) or "hang", with "count": N and
//     "retryAfter": seconds: the next N push requests to that endpoint are
//     answered so (429 and 503 with Retry-After; hang holds the request
//     until the client gives up or the service closes).
//   - "expire": the subscription is forgotten now, as a push service
//     forgets an expired one: its waiting messages are dropped and every
//     later push to it answers 410. The browser is not told.
//   - "offline", with "seconds": 1 to 600: the browser that owns the
//     subscription loses its connection now, and its reconnections are held
//     unanswered (Mozilla's hello, MCS's LoginRequest) until the time is up,
//     so that it is back as soon as the window ends (a refused reconnection
//     would send it into its back-off; Chromium waits 30 s for its
//     LoginResponse, so a login is held at most 25 s, then closed, and
//     Chromium tries again after its back-off). Meanwhile messages wait as for any
//     browser that is away: TTL 0 ones are dropped, a Topic one replaces a
//     waiting one.
//   - "latency", with "delayMs": 1 to 60000 and "count": N: each of the
//     next N messages accepted for the endpoint waits that long before it
//     is handed to the browser; the push request is answered at once.
//   - "reset": the push service forgets the browser that owns the
//     subscription, with every subscription of it (410 from now on, waiting
//     messages dropped). Firefox learns it as from autopush: its connection
//     is dropped and its next hello with the old uaid is answered with a new
//     one (every such hello, until one with the new uaid shows Firefox has
//     it), upon which Firefox drops all its subscriptions and fires
//     pushsubscriptionchange in each of their service workers. Chromium is
//     not told: no GCM message makes it fire the event (see Service.reset).
//   - DELETE /v1/faults disarms them all and ends every offline window;
//     with a body {"endpoint", "kind"} (ClearRequest), only that
//     subscription's fault of that kind, or all of its faults without a
//     kind (404 when it names no current subscription). Faults are also
//     forgotten with their subscription (expired, unsubscribed, or
//     registered again with another key).
//   - GET /v1/events?since=N&wait=S returns the events after sequence number
//     N, from a ring of the last 1000 (see Event); with wait, when there is
//     none yet it waits up to S seconds (at most 30) for one: register, unregister, connect,
//     disconnect, push, reject, fault; for a subscription's messages
//     deliver and ack (with the protocol frame), nack, drop (TTL 0 with the
//     browser away, or a message the subscription's expiry took), replace
//     (by a newer message of its Topic), expire (its TTL ran out); offline
//     (the fault dropped a connection, or held a reconnection); reset (the
//     fault forgot a browser, or answered Firefox's hello with a new uaid,
//     naming the endpoint the fault was armed for). Every event
//     about a subscription names its endpoint; so does the connect event
//     that ends an offline window. The answer's "last" is the newest
//     sequence number so far, to follow the feed from now on.
//   - GET /v1/config returns the ServiceInfo: how to point browsers at the
//     service and how senders trust and reach it. GET /v1/ca.pem returns
//     the CA certificate.
//
// A program that uses a service running in another process (`pushstart
// push-service`, or another kit's) has the same methods through a Client
// (Dial), over this API.
//
// Everything is kept in memory: a restarted service knows no subscription.
//
// The tests include runs with the real browsers, which `make browsertest`
// (part of `make test`) asks for:
//
//	PUSHSTART_BROWSER_TEST=1 go test -run Real -v ./localpush/
package localpush

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pushstart/internal/httpjson"
	"pushstart/localpush/gcm"
)

// Config is the configuration of a Service.
type Config struct {
	// Addr is the HTTP listener: the push resource, Mozilla's WebSocket at
	// "/", GCM check-in and registration, the test API under /v1, and TLS
	// and the CONNECT proxy for senders. Default "127.0.0.1:0".
	Addr string
	// MCSAddr is Chromium's MCS listener (TLS). Default "127.0.0.1:0".
	MCSAddr string
	// CAFile, when set, is where New writes the certificate of the
	// service's CA (PEM) for senders to trust; it is served at
	// GET /v1/ca.pem either way.
	CAFile string
	// MCSKey is the key of the MCS listener's self-signed certificate; nil
	// for a new one. Chromium trusts that certificate by its key (the
	// switch in Browser), so a service started again with the same key is
	// found again by a Chromium launched for the one before: the kit keeps
	// it in its data directory.
	MCSKey *ecdsa.PrivateKey
	// Log receives the service's log lines; nil discards them.
	Log *slog.Logger
}

// Service is a running local push service. Make one with New, run it with
// Serve, stop it with Close (or by cancelling Serve's context).
type Service struct {
	log    *slog.Logger
	ln     net.Listener  // the HTTP port, read by acceptLoop
	httpLn *connListener // what srv serves: ln's connections, TLS or not, and CONNECT tunnels
	mcsLn  net.Listener
	ca     *certAuthority
	tls    *tls.Config
	caFile string // absolute; "" when not written
	url    string // "http://127.0.0.1:P"
	mcsURL string // "https://127.0.0.1:Q"
	srv    *http.Server
	gcm    *gcm.Server
	state  *state
	events *eventLog
	faults faults
	now    func() time.Time
	// sweepEvery is how often messages whose TTL ran out are looked for;
	// tests shorten it before Serve.
	sweepEvery time.Duration

	// ctx is cancelled by Close: it ends hanging requests, WebSocket
	// connections and deliveries.
	ctx    context.Context
	cancel context.CancelFunc

	// ready is closed once both listeners are served; readyLeft counts
	// the listeners still to be.
	ready     chan struct{}
	readyLeft atomic.Int32

	mu      sync.Mutex
	closed  bool
	serving bool
	wg      sync.WaitGroup // WebSocket connections and deliveries in flight

	closeOnce sync.Once
	closeErr  error
}

// New binds both listeners, makes the MCS's self-signed certificate and the
// CA and certificate of the HTTP port's TLS, and writes the CA to
// cfg.CAFile when set. The service answers nothing until Serve runs; Close
// frees the ports.
func New(cfg Config) (*Service, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.MCSAddr == "" {
		cfg.MCSAddr = "127.0.0.1:0"
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		log:        log,
		state:      newState(),
		events:     newEventLog(time.Now),
		now:        time.Now,
		sweepEvery: time.Second,
		ready:      make(chan struct{}),
	}
	s.readyLeft.Store(2)
	s.ctx, s.cancel = context.WithCancel(context.Background())

	g, err := gcm.New(chromiumHooks{s}, log.With("part", "gcm"), cfg.MCSKey)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.gcm = g
	s.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("local push HTTP listener: %w", err)
	}
	s.mcsLn, err = net.Listen("tcp", cfg.MCSAddr)
	if err != nil {
		s.ln.Close()
		s.cancel()
		return nil, fmt.Errorf("local push MCS listener: %w", err)
	}
	s.url = "http://" + loopbackHostPort(s.ln.Addr())
	s.mcsURL = "https://" + loopbackHostPort(s.mcsLn.Addr())
	s.httpLn = newConnListener(s.ln)
	fail := func(err error) (*Service, error) {
		s.ln.Close()
		s.mcsLn.Close()
		s.cancel()
		return nil, err
	}
	host, _, _ := net.SplitHostPort(s.url[len("http://"):])
	if s.ca, err = newCertAuthority(host); err != nil {
		return fail(err)
	}
	s.tls = s.ca.tlsConfig()
	if cfg.CAFile != "" {
		if s.caFile, err = filepath.Abs(cfg.CAFile); err != nil {
			return fail(fmt.Errorf("CA file: %w", err))
		}
		if err := writePublicFile(s.caFile, s.ca.pem); err != nil {
			return fail(fmt.Errorf("writing the CA certificate: %w", err))
		}
	}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: sniffTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// CheckAddr reports whether addr suits a listener of the service: host:port
// with a loopback IP host. The service is for tests on this machine: its
// test API arms faults and its port proxies to FCM's hosts.
func CheckAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("the local push service listens on a loopback address only")
	}
	return nil
}

// loopbackHostPort names a listener's address as browsers should dial it:
// an unspecified address (0.0.0.0, ::) becomes 127.0.0.1.
func loopbackHostPort(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

// APIVersion is the version of the test API that APIPrefix names, as
// ServiceInfo reports it.
const APIVersion = 1

// APIPrefix begins the paths of the service's test API (faults, events). The
// API is versioned: within one version fields are only ever added, so a test
// written against /v1 keeps working; a change that would break one comes as
// /v2 beside it.
const APIPrefix = "/v1"

// routes is every HTTP route of the service. CONNECT comes first: its
// request names a host:port, not a path for the mux.
func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleRoot)
	mux.HandleFunc("POST /wpush/{token}", s.handleFirefoxPush)
	mux.HandleFunc("POST /fcm/send/{token}", s.handleChromiumPush)
	mux.HandleFunc("POST /wp/{token}", s.handleChromiumPush)
	mux.HandleFunc("DELETE /m/{id}", s.handleCancel)
	g := s.gcm.Handler()
	mux.Handle("/checkin", g)
	mux.Handle("/c2dm/register3", g)
	mux.Handle("POST "+APIPrefix+"/faults", s.testAPIOnly(s.handleSetFault))
	mux.Handle("DELETE "+APIPrefix+"/faults", s.testAPIOnly(s.handleClearFaults))
	mux.Handle("GET "+APIPrefix+"/events", s.testAPIOnly(s.handleEvents))
	mux.Handle("GET "+APIPrefix+"/config", s.testAPIOnly(s.handleConfig))
	mux.Handle("GET "+APIPrefix+"/ca.pem", s.testAPIOnly(s.handleCA))
	connect := loopbackOnly(http.HandlerFunc(s.handleConnect))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			connect.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// testAPIOnly admits to the test API the programs of this machine's user
// and nothing a web page can make a browser send:
//
//   - the client must be on loopback (loopbackOnly);
//   - the Host must be a loopback IP, localhost or the service's own
//     host:port, so that a page of an attacker's name that its DNS
//     rebinds to 127.0.0.1 cannot read the events (every endpoint, a
//     capability) or arm faults from its own origin;
//   - a request with an Origin header, or with a Sec-Fetch-Site other than
//     same-origin or none, comes from a page (browsers send them, and a
//     page cannot leave them out): refused, so that no site's fetch, not
//     even a no-cors POST with a text/plain body, reaches the API. The
//     service serves no page of its own. Test programs (curl, Node's
//     fetch, Playwright's APIRequestContext, Go's http.Client) send
//     neither header.
func (s *Service) testAPIOnly(h http.HandlerFunc) http.Handler {
	return loopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.testAPIHost(r.Host) {
			s.log.Info("test API request refused: foreign Host", "host", r.Host, "path", r.URL.Path)
			http.Error(w, "the test API answers only requests for a loopback host", http.StatusForbidden)
			return
		}
		site := r.Header.Get("Sec-Fetch-Site")
		if _, fromPage := r.Header["Origin"]; fromPage || site != "" && site != "same-origin" && site != "none" {
			s.log.Info("test API request refused: sent by a web page", "origin", r.Header.Get("Origin"), "sec_fetch_site", site, "path", r.URL.Path)
			http.Error(w, "the test API does not answer web pages", http.StatusForbidden)
			return
		}
		h(w, r)
	}))
}

// testAPIHost reports whether host, a request's Host, names this service
// on loopback: a loopback IP, localhost, or the service's own host:port,
// with or without a port.
func (s *Service) testAPIHost(host string) bool {
	if host == s.url[len("http://"):] {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackOnly refuses the test APIs and CONNECT to anything but loopback
// clients, in case the service was bound to a wider address.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "loopback clients only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Serve answers on both listeners until ctx is done or Close is called,
// then closes the service. It returns nil after a clean stop.
func (s *Service) Serve(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return errors.New("localpush: Serve after Close")
	case s.serving:
		s.mu.Unlock()
		return errors.New("localpush: Serve called twice")
	}
	s.serving = true
	s.mu.Unlock()

	errc := make(chan error, 3)
	go func() { errc <- s.srv.Serve(&firstAccept{Listener: s.httpLn, first: s.listening}) }()
	go func() { errc <- s.gcm.ServeMCS(&firstAccept{Listener: s.mcsLn, first: s.listening}) }()
	go func() { errc <- s.acceptLoop() }()
	if s.enter() {
		go func() {
			defer s.wg.Done()
			s.sweepExpired(s.sweepEvery)
		}()
	}

	var err error
	running := 3
	select {
	case <-ctx.Done():
	case <-s.ctx.Done():
	case err = <-errc:
		running--
		if s.ctx.Err() != nil {
			err = nil // stopped by Close
		}
	}
	closeErr := s.Close()
	for ; running > 0; running-- {
		<-errc
	}
	if err != nil {
		return fmt.Errorf("localpush: %w", err)
	}
	return closeErr
}

// Close stops the service: it ends hanging requests, closes every browser
// connection, frees both ports and waits for its goroutines. It is safe to
// call more than once.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			s.srv.Close()
		}
		if e := s.gcm.Close(); e != nil && err == nil {
			err = e
		}
		for _, l := range []net.Listener{s.httpLn, s.mcsLn} {
			if e := l.Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
				err = e
			}
		}
		s.wg.Wait()
		s.closeErr = err
	})
	return s.closeErr
}

// Ready is closed once Serve answers on both listeners: a program that
// announces the service (its URL, how to point browsers at it) waits for it.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// listening counts one listener served, and closes ready at the last.
func (s *Service) listening() {
	if s.readyLeft.Add(-1) == 0 {
		close(s.ready)
	}
}

// firstAccept is a listener that calls first at its first Accept: the
// server that calls Accept is then serving it.
type firstAccept struct {
	net.Listener
	first func()
	once  sync.Once
}

// Accept calls first once, then waits for a connection.
func (l *firstAccept) Accept() (net.Conn, error) {
	l.once.Do(l.first)
	return l.Listener.Accept()
}

// enter registers a goroutine that Close must wait for; it returns false
// once the service is closing. The caller calls s.wg.Done when it ends.
func (s *Service) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// URL is the base URL of the HTTP listener, "http://127.0.0.1:P".
func (s *Service) URL() string { return s.url }

// EndpointPrefix begins every endpoint the service hands out to Firefox; a
// token of the base64url alphabet ends it. A kit server in local mode accepts
// exactly such endpoints of this service (over plain http), and no other path
// on its port. Chromium's endpoints keep their FCM hosts, which are allowed
// anyway.
func (s *Service) EndpointPrefix() string { return s.url + "/wpush/" }

// BrowserConfig is how to point a browser at the service, as served by the
// kit's GET /api/local-push.
type BrowserConfig struct {
	ChromiumArgs []string       `json:"chromiumArgs"` // command-line switches for Chromium
	FirefoxPrefs map[string]any `json:"firefoxPrefs"` // prefs for Firefox (user.js or Playwright's firefoxUserPrefs)
	URL          string         `json:"url"`          // base URL of the test API (/v1/faults, /v1/events)
}

// Browser returns the Chromium switches and Firefox prefs that make the
// browsers use this service.
func (s *Service) Browser() BrowserConfig {
	return BrowserConfig{
		ChromiumArgs: []string{
			"--gcm-checkin-url=" + s.url + "/checkin",
			"--gcm-registration-url=" + s.url + "/c2dm/register3",
			"--gcm-mcs-endpoint=" + s.mcsURL,
			// The MCS certificate is self-signed: trust its key, and no
			// other certificate error (Chromium honours the switch only
			// with --user-data-dir, which push needs anyway).
			"--ignore-certificate-errors-spki-list=" + s.gcm.SPKIHash(),
		},
		FirefoxPrefs: map[string]any{
			"dom.push.serverURL":                      "ws" + s.url[len("http"):] + "/",
			"dom.push.testing.allowInsecureServerURL": true,  // ws:// instead of wss://
			"dom.push.connection.enabled":             true,  // automation turns it off otherwise
			"alerts.useSystemBackend":                 false, // headless without D-Bus
			// Firefox waits this long before its first reconnection after a
			// lost connection, doubling per failure (default 5000 ms): a
			// service restarted, or an offline fault shorter than 5 s, would
			// keep it away seconds longer than needed on loopback.
			"dom.push.retryBaseInterval": 1000,
		},
		URL: s.url,
	}
}

// ServiceInfo is everything a test or a sender needs to use the service: how
// to point browsers at it and how a sender trusts and reaches it. It is
// served at GET /v1/config, and printed by `pushstart push-service -json`.
type ServiceInfo struct {
	API     int           `json:"api"`     // the test API's version (APIVersion)
	URL     string        `json:"url"`     // base URL of the service and its test API, "http://127.0.0.1:P"
	Browser BrowserConfig `json:"browser"` // Chromium switches and Firefox prefs
	Sender  SenderConfig  `json:"sender"`  // how a sender trusts and reaches the service
}

// SenderConfig is how a sender the kit did not write reaches the endpoints
// the service hands out: it trusts the service's CA (the endpoints are
// served over TLS too) and goes through its proxy for Chromium's endpoints,
// whose hosts are FCM's.
type SenderConfig struct {
	// CAFile is where the CA certificate was written (Config.CAFile,
	// made absolute), "" when it was not.
	CAFile string `json:"caFile"`
	// Proxy is the HTTP CONNECT proxy for https endpoints: the service's URL.
	Proxy string `json:"proxy"`
	// Env is the environment that points common senders at the service:
	// HTTPS_PROXY always; NODE_EXTRA_CA_CERTS (Node), SSL_CERT_FILE (Go,
	// OpenSSL) and REQUESTS_CA_BUNDLE (Python's requests) when CAFile is set.
	Env map[string]string `json:"env"`
}

// Info describes the running service.
func (s *Service) Info() ServiceInfo {
	env := map[string]string{"HTTPS_PROXY": s.url}
	if s.caFile != "" {
		for _, k := range []string{"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"} {
			env[k] = s.caFile
		}
	}
	return ServiceInfo{
		API:     APIVersion,
		URL:     s.url,
		Browser: s.Browser(),
		Sender:  SenderConfig{CAFile: s.caFile, Proxy: s.url, Env: env},
	}
}

// handleConfig serves GET /v1/config: the ServiceInfo.
func (s *Service) handleConfig(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, s.Info())
}

// handleCA serves GET /v1/ca.pem: the CA certificate senders must trust.
func (s *Service) handleCA(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(s.ca.pem)
}
