//go:build !wasm

// Package server is the native half of the kit: the HTTP API that stores push
// subscriptions and sends notifications, the page's static assets and, in
// local mode, the built-in local push service. Main wires it all together.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"pushstart/api"
	"pushstart/localpush"
	"pushstart/push"
	"pushstart/server/delivery"
	"pushstart/server/messageid"
	"pushstart/server/sender"
	"pushstart/server/store"
	"pushstart/server/vapid"
)

// Server serves the API and the page.
type Server struct {
	store      store.Store
	sender     *sender.Sender
	engine     Broadcaster
	userOf     func(*http.Request) (string, error)
	keys       vapid.Keys
	adminToken string
	messageIDs *messageid.Signer // nil: every message id is refused
	local      LocalPush         // nil unless PUSH_SERVICE is local or a URL
	allow      *Allowlist
	origin     push.Origin // where users open the page: the base of notifications' links
	// Limits on anonymous clients (see Config).
	subscribeLimit    *keyedLimiter // per client address
	testSendLimit     *keyedLimiter // per client address
	testEndpointLimit *keyedLimiter // per endpoint
	eventLimit        *keyedLimiter // per client address
	maxSubscriptions  int
	ceilingMu         sync.Mutex // the ceiling's check and write as one step
	trustedHeader     string
	assets            http.Handler // the page, app.wasm and static files
	log               *slog.Logger
	streamsEnd        chan struct{} // closed by EndStreams
	endOnce           sync.Once
	// trace follows subscriptions' pushes for the Flow panel (flow.go).
	trace *TraceHub
	// slowPause and slowLatency are slow motion's waits (slowMotionPause,
	// slowMotionLatency; shorter in tests).
	slowPause   time.Duration
	slowLatency time.Duration
	// streamLifetime ends each trace stream (streamLifetime; shorter in
	// tests).
	streamLifetime time.Duration

	// The admin console's sessions (session.go).
	signInLimit *keyedLimiter // wrong admin tokens, per client address
	// sessionRecheck is how often an event stream opened with a session
	// checks that it is still live (sessionRecheck; shorter in tests).
	sessionRecheck time.Duration
	sessionTTL     time.Duration
	// now is the clock a session's end is set by; the store judges it
	// ended by its own (the same clock, but for tests).
	now func() time.Time
}

// Broadcaster accepts and cancels broadcasts: the delivery engine
// (*delivery.Engine), which sends them from its queue.
type Broadcaster interface {
	Submit(ctx context.Context, b store.Broadcast) (store.Broadcast, error)
	Cancel(ctx context.Context, id string) (store.Broadcast, error)
}

var _ Broadcaster = (*delivery.Engine)(nil)

// LocalPush is the local push service as the kit uses it: started
// in-process (*localpush.Service, PUSH_SERVICE=local) or running in another
// process and reached over its HTTP test API (*localpush.Client,
// PUSH_SERVICE=<its URL>). Either way the kit accepts its endpoints, routes
// Chromium's FCM endpoints to it, arms the Flow panel's breaks and slow
// motion on it, and follows its events in the live trace.
type LocalPush interface {
	// URL is the service's base URL, "http://127.0.0.1:P".
	URL() string
	// EndpointPrefix begins the endpoints it hands out to Firefox.
	EndpointPrefix() string
	// Browser is how to point Chromium and Firefox at it.
	Browser() localpush.BrowserConfig
	// Serves reports whether an endpoint is one it hands out, spelled so.
	Serves(endpoint string) bool
	// SetFault arms a fault; errors.Is(err,
	// localpush.ErrUnknownSubscription) when the endpoint names no
	// current subscription.
	SetFault(localpush.FaultRequest) error
	// ClearLatency disarms the latency fault of endpoint's subscription.
	ClearLatency(endpoint string)
	// Watch returns its events from now on until stop.
	Watch() (events <-chan localpush.Event, stop func())
	// Transport reroutes requests for Chromium's FCM hosts to it.
	Transport(http.RoundTripper) http.RoundTripper
	// Close stops it (in-process) or ends its watches (over HTTP).
	Close() error
}

var (
	_ LocalPush = (*localpush.Service)(nil)
	_ LocalPush = (*localpush.Client)(nil)
)

// Deps are the parts a Server is built from.
type Deps struct {
	Store  store.Store
	Sender *sender.Sender
	Engine Broadcaster // *delivery.Engine
	// UserOf names the user of a request that saves a subscription; nil
	// is the kit's UserID (none).
	UserOf     func(*http.Request) (string, error)
	Keys       vapid.Keys
	AdminToken string
	// MessageIDs checks the message ids of the service worker's reports
	// (POST /api/events): the Signer the engine issues them with. Nil
	// refuses every report.
	MessageIDs *messageid.Signer
	Local      LocalPush // optional: the local push service, in-process or not
	// Trace is the hub the Sender traces to (its Options.Trace), built
	// with NewTraceHub(Local); nil makes one, which then hears only the
	// local push service.
	Trace     *TraceHub
	Allowlist *Allowlist   // optional; cfg.Allowlist(Local) when nil
	Assets    http.Handler // optional; 404 when nil
	// Origin is the base of notifications' links; cfg.PublicOrigin(0)
	// when zero.
	Origin push.Origin
	Log    *slog.Logger
}

// New returns a server for cfg built from d.
func New(cfg Config, d Deps) *Server {
	allow := d.Allowlist
	if allow == nil {
		allow = cfg.Allowlist(d.Local)
	}
	assets := d.Assets
	if assets == nil {
		assets = http.NotFoundHandler()
	}
	origin := d.Origin
	if origin.IsZero() {
		origin, _ = cfg.PublicOrigin(0) // checked by cfg.Validate
	}
	trace := d.Trace
	if trace == nil {
		trace = NewTraceHub(d.Local)
	}
	return &Server{
		store:      d.Store,
		sender:     d.Sender,
		engine:     d.Engine,
		userOf:     identify(d.UserOf),
		keys:       d.Keys,
		adminToken: d.AdminToken,
		messageIDs: d.MessageIDs,
		local:      d.Local,
		allow:      allow,
		origin:     origin,

		subscribeLimit:    newKeyedLimiter(cfg.SubscribeRate),
		testSendLimit:     newKeyedLimiter(cfg.TestSendRate),
		testEndpointLimit: newKeyedLimiter(cfg.TestSendEndpointRate),
		eventLimit:        newKeyedLimiter(cfg.EventRate),
		maxSubscriptions:  cfg.MaxSubscriptions,
		trustedHeader:     http.CanonicalHeaderKey(cfg.TrustedProxyHeader),
		assets:            assets,
		log:               d.Log,
		streamsEnd:        make(chan struct{}),
		trace:             trace,
		slowPause:         slowMotionPause,
		slowLatency:       slowMotionLatency,
		streamLifetime:    streamLifetime,

		signInLimit:    newKeyedLimiter(cfg.AdminSignInRate),
		sessionRecheck: sessionRecheck,
		sessionTTL:     cfg.AdminSessionTTL,
		now:            time.Now,
	}
}

// EndStreams ends every open event stream, as the server shuts down.
func (s *Server) EndStreams() {
	s.endOnce.Do(func() { close(s.streamsEnd) })
}

// Handler returns the server's routes behind CSRF protection: a browser
// request that changes state from another origin is refused with 403.
func (s *Server) Handler() http.Handler {
	routes := http.NewServeMux()
	routes.HandleFunc("GET "+api.PathVAPIDKey, s.handleVAPIDKey)
	routes.HandleFunc("POST "+api.PathSubscriptions, s.handleSubscribe)
	routes.HandleFunc("DELETE "+api.PathSubscriptions, s.handleUnsubscribe)
	routes.HandleFunc("POST "+api.PathTestSend, s.handleTestSend)
	routes.HandleFunc("POST "+api.PathNotifications, s.handleBroadcast)
	routes.HandleFunc("GET "+api.PathNotifications, s.handleBroadcastList)
	routes.HandleFunc("GET "+api.PathNotification, s.handleBroadcastGet)
	routes.HandleFunc("DELETE "+api.PathNotification, s.handleBroadcastCancel)
	routes.HandleFunc("GET "+api.PathNotification+"/events", s.handleBroadcastEvents)
	routes.HandleFunc("GET "+api.PathNotification+"/funnel", s.handleFunnel)
	routes.HandleFunc("POST "+api.PathEvents, s.handleEvent)
	routes.HandleFunc("GET "+api.PathLocalPush, s.handleLocalPush)
	routes.HandleFunc("GET "+api.PathFlow, s.handleFlowInfo)
	routes.HandleFunc("POST "+api.PathFlowTrace, s.handleFlowTrace)
	routes.HandleFunc("POST "+api.PathFlowBreak, s.handleFlowBreak)
	routes.HandleFunc("GET "+api.PathAdminSubscriptionStats, s.handleSubscriptionStats)
	routes.HandleFunc("GET "+api.PathAdminSubscriptions, s.handleSubscriptionPage)
	routes.HandleFunc("DELETE "+api.PathAdminSubscription, s.handleSubscriptionDelete)
	routes.HandleFunc("GET "+api.PathAdminDeliveries, s.handleDeliveries)
	routes.HandleFunc("POST "+api.PathAdminSession, s.handleSignIn)
	routes.HandleFunc("GET "+api.PathAdminSession, s.handleSession)
	routes.HandleFunc("DELETE "+api.PathAdminSession, s.handleSignOut)

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathHealth, s.handleHealth)
	mux.Handle("/api/", s.apiRoutes(routes))
	mux.Handle("/", s.assets)

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &apiError{Status: http.StatusForbidden, Message: "cross-origin request refused"})
	}))
	return securityHeaders(s.sameScheme(csrf.Handler(mux)))
}

// sameScheme refuses a state-changing request whose Origin has another
// scheme than the server's, where only that fallback decides: Go's
// cross-origin protection trusts Sec-Fetch-Site when a browser sends it, and
// otherwise compares the Origin's host with Host alone, so Origin
// https://host passed against the plain-http server. The server's scheme is
// https on TLS; behind a trusted proxy, what X-Forwarded-Proto says; http
// for a request that came straight from its client. Through a proxy the
// server was not told to trust, it does not know, and leaves the decision to
// Go's check.
func (s *Server) sameScheme(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		if r.Header.Get("Sec-Fetch-Site") != "" || origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme := s.scheme(r)
		if scheme == "" {
			next.ServeHTTP(w, r)
			return
		}
		if u, err := url.Parse(origin); err != nil || !strings.EqualFold(u.Scheme, scheme) {
			s.writeError(w, r, &apiError{Status: http.StatusForbidden, Message: "cross-origin request refused"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// scheme is the scheme the client reached the server by: https on TLS;
// behind a trusted proxy, what X-Forwarded-Proto says ("" when it says
// nothing); http for a request that came straight from its client; "" when
// the request came through a proxy the server was not told to trust.
func (s *Server) scheme(r *http.Request) string {
	proto := r.Header.Get("X-Forwarded-Proto")
	switch {
	case r.TLS != nil:
		return "https"
	case fromProxy(r, s.trustedHeader):
		return strings.ToLower(proto)
	case proto != "" || slices.ContainsFunc(forwardingHeaders, func(h string) bool { return r.Header.Get(h) != "" }):
		return ""
	}
	return "http"
}

// securityHeaders sets headers every response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// apiRoutes serves the API's routes and answers everything else under /api/
// in the API's own JSON error format: 405 with an Allow header for a known
// path asked with another method, 404 for an unknown path.
func (s *Server) apiRoutes(routes *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := routes.Handler(r)
		if pattern != "" {
			// Through the mux, which sets the request's path values.
			routes.ServeHTTP(w, r)
			return
		}
		// The mux knows whether the path exists under another method; ask
		// it without letting it write its plain-text answer.
		probe := &statusProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			s.writeError(w, r, &apiError{Status: http.StatusMethodNotAllowed,
				Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + probe.header.Get("Allow")})
			return
		}
		s.writeError(w, r, &apiError{Status: http.StatusNotFound, Message: "no such API route: " + r.Method + " " + r.URL.Path})
	})
}

// statusProbe is a ResponseWriter that keeps only the status and headers.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *statusProbe) WriteHeader(status int)      { p.status = status }
