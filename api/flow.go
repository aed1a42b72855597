package api

import "time"

// Routes of the live flow: the home page's Flow panel follows one
// subscription's pushes through the server and, in local mode, through the
// local push service, and can break them on purpose.
//
// A trace is a capability of the browser that owns the subscription: it is
// asked for with the subscription's endpoint and auth secret in a POST body,
// never in a URL (URLs end up in logs), and carries only what concerns that
// subscription.
const (
	// PathFlow answers FlowInfo: whether the break switches exist here.
	PathFlow = "/api/flow"
	// PathFlowTrace is POST FlowTraceRequest; the answer is a stream of
	// Server-Sent Events. It begins with "event: ready", a FlowInfo as its
	// data, once the stream follows the subscription; then comes one
	// "event: trace", a TraceEvent as its data, for every step of every
	// push the server sends to that subscription from then on (test sends
	// and broadcasts alike) and, in local mode, what the local push service
	// does with it. The subscription is the endpoint exactly as it was
	// saved. A comment line every 15 s keeps proxies from closing the
	// stream. It lasts until the client closes it, the server shuts down,
	// or 30 minutes have passed: then it ends cleanly with "event: end"
	// (data {}), and a page still showing the flow opens a new one. 429,
	// with Retry-After, refuses a stream beyond 4 for one subscription, 8
	// for one client address or 256 for the server.
	PathFlowTrace = "/api/flow/trace"
	// PathFlowBreak is POST FlowBreakRequest: local mode only (404
	// elsewhere); 204 once the switch is armed for the next push to that
	// subscription; 400 naming the endpoint when it is not one the local
	// push service handed out; 404 "unknown subscription" when the caller
	// did not prove it owns it, or when the local push service no longer
	// knows it (expired, or the service restarted: subscribe again).
	PathFlowBreak = "/api/flow/break"
)

// FlowInfo is the answer of GET PathFlow.
type FlowInfo struct {
	// Local is true when the server runs the local push service
	// (PUSH_SERVICE=local): the push service's part of a trace is visible
	// and the break switches exist.
	Local bool `json:"local"`
	// Breaks are the kinds POST PathFlowBreak takes (the Break* names);
	// empty outside local mode.
	Breaks []string `json:"breaks"`
}

// The break switches. Each affects only the subscription it is armed for.
const (
	// BreakExpire: the local push service forgets the subscription now, as
	// a real one does when a subscription expires; the next push gets 410
	// and the server prunes the row.
	BreakExpire = "expire"
	// BreakThrottle: the next push gets 429 with Retry-After: 2; the server
	// waits and retries.
	BreakThrottle = "throttle"
	// BreakError: the next two attempts to push to the subscription get
	// 500; the server backs off and retries, and its third attempt goes
	// through.
	BreakError = "error"
	// BreakWrongKey: the server signs the next push to the subscription with
	// a throwaway VAPID key pair; the local push service's real check
	// answers 403 and the server reports a configuration fault, deleting
	// nothing.
	BreakWrongKey = "wrong-key"
	// BreakOffline: the local push service drops the browser's connection
	// and holds its reconnection for FlowBreakRequest.Seconds; pushes with
	// a TTL wait for the browser, a push with TTL 0 is dropped, and a push
	// with a Topic replaces a waiting one with the same Topic.
	BreakOffline = "offline"
)

// Bounds of FlowBreakRequest.Seconds for BreakOffline.
const (
	MinOfflineSeconds     = 3
	MaxOfflineSeconds     = 120
	DefaultOfflineSeconds = 15
)

// FlowTraceRequest is the body of POST PathFlowTrace: the subscription to
// follow, proven by its auth secret, which only the browser that made it
// (and the server) knows.
type FlowTraceRequest struct {
	Endpoint string `json:"endpoint"`
	Auth     string `json:"auth"` // keys.auth of the subscription, base64url
}

// FlowBreakRequest is the body of POST PathFlowBreak.
type FlowBreakRequest struct {
	Endpoint string `json:"endpoint"`
	Auth     string `json:"auth"`              // keys.auth, as in FlowTraceRequest
	Kind     string `json:"kind"`              // one of the Break* kinds
	Seconds  int    `json:"seconds,omitempty"` // BreakOffline only: how long (MinOfflineSeconds to MaxOfflineSeconds, default DefaultOfflineSeconds)
}

// Actors of the flow, as the sequence diagram names them.
const (
	ActorPage        = "page"         // the web page (app.wasm)
	ActorWorker      = "worker"       // the service worker
	ActorServer      = "server"       // the kit's server
	ActorPushService = "push-service" // the browser's push service (local, FCM, Mozilla, Apple)
	ActorBrowser     = "browser"      // the browser itself: its push client, decryption, notification display
)

// Steps of a trace. Server steps come from the server; push service steps
// from the local push service (local mode only); worker steps from the
// service worker, which posts them to the page itself.
const (
	// The server, for each push.
	StepPayload      = "payload"      // the JSON payload, before encryption
	StepEncrypt      = "encrypt"      // RFC 8291 as done: the record header read off the wire, lengths, padding
	StepVAPID        = "vapid"        // the RFC 8292 JWT decoded: header, claims, signature shortened
	StepRequest      = "request"      // the request to the push service: method, host, short path, headers
	StepResponse     = "response"     // the push service's answer: status, Location, Retry-After
	StepRetry        = "retry"        // another attempt, why and after how long
	StepPrune        = "prune"        // the subscription is gone (404/410): deleted on the server
	StepConfigFault  = "config-fault" // 401/403: the VAPID credentials were refused; nothing deleted
	StepOutcome      = "outcome"      // the push's final outcome (sent, gone, failed, rejected, unauthorized)
	StepBreak        = "break"        // a break switch was armed
	StepQueued       = "queued"       // push service: accepted, waiting for the browser (or handed over at once)
	StepDropped      = "dropped"      // push service: TTL 0 and the browser is away: not kept
	StepReplaced     = "replaced"     // push service: a waiting message with the same Topic was replaced
	StepExpired      = "expired"      // push service: a waiting message's TTL ran out
	StepDeliver      = "deliver"      // push service: the frame that hands the message to the browser
	StepAck          = "ack"          // push service: the browser's acknowledgement
	StepRefused      = "refused"      // push service: the push request was refused or faulted (status)
	StepOffline      = "offline"      // push service: the browser's connection was dropped
	StepOnline       = "online"       // push service: the browser connected again
	StepPush         = "push"         // worker: push event received
	StepDecoded      = "decoded"      // worker: payload decoded, or the fallback used and why
	StepShow         = "show"         // worker: the options given to showNotification, once it resolved
	StepClick        = "click"        // worker: notificationclick: action, URL, focus or open
	StepClose        = "close"        // worker: notificationclose
	StepSubscription = "subscription" // worker: pushsubscriptionchange
)

// TraceField is one named value of a trace step, shown as a row.
type TraceField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TraceEvent is one step of a push's way, as the server or the local push
// service saw it. The service worker posts its steps to the page in the same
// shape.
type TraceEvent struct {
	// Seq increases within one trace stream.
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
	// Push groups the steps of one push: the server's id for that send
	// (every attempt of it), or the push service's message id for its
	// steps. Empty for steps about no push in particular.
	Push   string       `json:"push,omitempty"`
	Actor  string       `json:"actor"`        // who did it: one of the Actor* names
	To     string       `json:"to,omitempty"` // whom it went to, when it is a message between actors
	Step   string       `json:"step"`         // one of the Step* names
	Title  string       `json:"title"`        // one sentence
	Fields []TraceField `json:"fields,omitempty"`
	// Detail is preformatted: the payload, the JWT's header and claims, a
	// frame as it went on the wire (long binary parts shortened).
	Detail string `json:"detail,omitempty"`
	// OK is false for a step that went wrong (a refusal, a fault, a prune).
	OK bool `json:"ok"`
}
