package app

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"pushstart/push"
)

// Timeouts of the Push API calls, so that no step can leave the page waiting
// forever. A push service that never answers is a real case: Chromium with no
// network keeps subscribe() pending while it retries its check-in.
const (
	readyTimeout      = 30 * time.Second
	subscribeTimeout  = 60 * time.Second
	permissionTimeout = 3 * time.Minute
	callTimeout       = 15 * time.Second
)

// humanDuration spells a timeout out for people: "60 seconds", "3 minutes".
func humanDuration(d time.Duration) string {
	if d >= 2*time.Minute && d%time.Minute == 0 {
		return trf("%d minutes", int(d/time.Minute))
	}
	return trf("%d seconds", int(d/time.Second))
}

// ErrorKind says which part of the Web Push chain failed. Every *PushError
// has one, and errors.Is(err, ErrPermissionDenied) and the like match it.
type ErrorKind string

// The kinds of Push API failure the page tells apart.
const (
	// ErrUnsupported: the browser lacks the service worker, Push or
	// Notification API.
	ErrUnsupported ErrorKind = "unsupported"
	// ErrInsecureContext: the page is not served over HTTPS or from
	// localhost, so the browser hides the APIs push needs.
	ErrInsecureContext ErrorKind = "insecure context"
	// ErrNeedsHomeScreen: iOS or iPadOS Safari offers push only to a web app
	// added to the home screen and opened from there.
	ErrNeedsHomeScreen ErrorKind = "needs home screen"
	// ErrPrivateWindow: a private window, where the browser offers no push:
	// Chrome's Incognito, and Firefox's private windows before service
	// workers came to them.
	ErrPrivateWindow ErrorKind = "private window"
	// ErrPermissionDenied: the user (or a browser policy) blocked
	// notifications for this site.
	ErrPermissionDenied ErrorKind = "permission denied"
	// ErrPermissionDismissed: the permission prompt was closed, ignored or
	// suppressed without an answer.
	ErrPermissionDismissed ErrorKind = "permission dismissed"
	// ErrNoServiceWorker: no active service worker controls the page in time.
	ErrNoServiceWorker ErrorKind = "no service worker"
	// ErrPushService: the browser's push service refused or did not answer.
	ErrPushService ErrorKind = "push service"
	// ErrInvalidKey: the VAPID public key is not a base64url P-256 point.
	ErrInvalidKey ErrorKind = "invalid key"
)

// Error makes a kind usable as the target of errors.Is.
func (k ErrorKind) Error() string { return string(k) }

// text is the kind in the page's language, for the flow log.
func (k ErrorKind) text() string {
	switch k {
	case ErrUnsupported:
		return tr("unsupported")
	case ErrInsecureContext:
		return tr("insecure context")
	case ErrNeedsHomeScreen:
		return tr("needs home screen")
	case ErrPrivateWindow:
		return tr("private window")
	case ErrPermissionDenied:
		return tr("permission denied")
	case ErrPermissionDismissed:
		return tr("permission dismissed")
	case ErrNoServiceWorker:
		return tr("no service worker")
	case ErrPushService:
		return tr("push service")
	case ErrInvalidKey:
		return tr("invalid key")
	}
	return string(k)
}

// PushError is a failed Push API step, with what the browser said.
type PushError struct {
	Kind ErrorKind
	// Op is the step that failed, as a reader would name it, for example
	// "pushManager.subscribe".
	Op string
	// Name and Message are the browser's DOMException (or Error) name and
	// message; both are empty when the failure was detected by the page.
	Name    string
	Message string
	// Hint tells the user what to do about it; may be empty.
	Hint string
	// Err is the underlying cause, if any: context.DeadlineExceeded when the
	// browser did not answer in time.
	Err error
}

// Unwrap returns the cause, so errors.Is(err, context.DeadlineExceeded)
// tells a timeout.
func (e *PushError) Unwrap() error { return e.Err }

func (e *PushError) Error() string {
	var b strings.Builder
	b.WriteString(trf("%s failed", e.Op))
	switch {
	case e.Name != "" && e.Message != "":
		b.WriteString(trf(": %s: %s", e.Name, e.Message))
	case e.Name != "":
		b.WriteString(trf(": %s", e.Name))
	case e.Message != "":
		b.WriteString(trf(": %s", e.Message))
	}
	if e.Hint != "" {
		b.WriteString(". ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Is reports whether target is this error's kind.
func (e *PushError) Is(target error) bool {
	k, ok := target.(ErrorKind)
	return ok && k == e.Kind
}

// PermissionState is the value of Notification.permission.
type PermissionState string

// The values of Notification.permission, plus one for a browser without the
// Notification API.
const (
	PermissionDefault     PermissionState = "default"
	PermissionGranted     PermissionState = "granted"
	PermissionDenied      PermissionState = "denied"
	PermissionUnsupported PermissionState = "unsupported"
)

// permissionError is the error for the answer to a permission request: nil
// for "granted".
func permissionError(p PermissionState) error {
	const op = "Notification.requestPermission"
	switch p {
	case PermissionGranted:
		return nil
	case PermissionDenied:
		return &PushError{Kind: ErrPermissionDenied, Op: op, Message: tr("notifications are blocked for this site"),
			Hint: tr("The browser will not ask again; allow notifications in the site settings (see Status), then reload")}
	case PermissionUnsupported:
		return &PushError{Kind: ErrUnsupported, Op: op, Message: tr("this browser has no Notification API")}
	default:
		return &PushError{Kind: ErrPermissionDismissed, Op: op,
			Message: tr("the prompt was closed without an answer, or the browser did not show it"),
			Hint:    tr("Click Enable notifications to ask again; some browsers hide the prompt after it was dismissed several times (look for a bell or crossed-out icon in the address bar)")}
	}
}

// Features is what the browser offers for Web Push, as Support finds it.
type Features struct {
	Browser       bool // false outside a browser (the native build)
	SecureContext bool // window.isSecureContext
	ServiceWorker bool // "serviceWorker" in navigator
	PushManager   bool // "PushManager" in window
	Notification  bool // "Notification" in window
	AppleMobile   bool // iPhone, iPad or iPod (iPadOS reports itself as a Mac with touch)
	Standalone    bool // opened as an installed web app (display-mode: standalone)
	UserAgent     string
}

// Missing lists the APIs the browser lacks, by their JavaScript names.
func (f Features) Missing() []string {
	var m []string
	if !f.ServiceWorker {
		m = append(m, "navigator.serviceWorker")
	}
	if !f.PushManager {
		m = append(m, "PushManager")
	}
	if !f.Notification {
		m = append(m, "Notification")
	}
	return m
}

// Err returns nil when push can work here, else a *PushError saying why not
// and what to do.
func (f Features) Err() error {
	op := tr("support check")
	if !f.Browser {
		return &PushError{Kind: ErrUnsupported, Op: op, Message: tr("the Push API is unsupported outside the browser")}
	}
	if !f.SecureContext {
		return &PushError{Kind: ErrInsecureContext, Op: op,
			Message: tr("this page is not a secure context, so the browser hides the service worker and Push APIs"),
			Hint:    tr("Open it over https://, or at http://localhost or http://127.0.0.1 while developing")}
	}
	missing := f.Missing()
	if len(missing) == 0 {
		return nil
	}
	if f.AppleMobile && !f.Standalone {
		return &PushError{Kind: ErrNeedsHomeScreen, Op: op,
			Message: tr("on iPhone and iPad, Safari offers push notifications only to web apps added to the home screen"),
			Hint:    tr("In Safari tap Share > Add to Home Screen, then open it from there (iOS/iPadOS 16.4 or later)")}
	}
	// Firefox hid navigator.serviceWorker in private windows, keeping
	// PushManager and Notification, until service workers came to them
	// (Firefox 138 or 139, sources differ; 153 ESR has them, and push
	// works there while the window is open). Another Firefox window lacks
	// only the service worker when its user turned them off
	// (dom.serviceWorkers.enabled).
	if browserFamily(f.UserAgent) == "firefox" && !f.ServiceWorker && f.PushManager && f.Notification {
		return &PushError{Kind: ErrPrivateWindow, Op: op,
			Message: tr("Firefox offers no service worker here: this is a private window, or service workers are turned off"),
			Hint:    tr("Open this page in a normal window to receive push notifications")}
	}
	hint := tr("Use a current version of Chrome, Edge, Firefox or Safari")
	if f.AppleMobile {
		hint = tr("Push needs iOS/iPadOS 16.4 or later; update the system, then open the app from the home screen again")
	}
	return &PushError{Kind: ErrUnsupported, Op: op,
		Message: trf("this browser lacks %s", strings.Join(missing, ", ")), Hint: hint}
}

// isAppleMobile reports whether a user agent is iOS or iPadOS. iPadOS Safari
// claims to be a Mac, so a Mac with a touch screen counts too.
func isAppleMobile(ua string, maxTouchPoints int) bool {
	if strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad") || strings.Contains(ua, "iPod") {
		return true
	}
	return strings.Contains(ua, "Macintosh") && maxTouchPoints > 1
}

// WorkerInfo describes the active service worker that receives the pushes.
type WorkerInfo struct {
	Scope     string
	ScriptURL string
	State     string
}

// decodeKey decodes a VAPID public key given as base64url (with or without
// padding, as Firefox and Go differ) and checks that it is an uncompressed
// P-256 point, the only form pushManager.subscribe accepts.
func decodeKey(key string) ([]byte, error) {
	op := tr("decoding the VAPID public key")
	s := strings.TrimRight(strings.TrimSpace(key), "=")
	if s == "" {
		return nil, &PushError{Kind: ErrInvalidKey, Op: op, Message: tr("the key is empty")}
	}
	b, err := push.DecodeBase64URL(s)
	if err != nil {
		return nil, &PushError{Kind: ErrInvalidKey, Op: op,
			Message: trf("not base64url: %v", err)}
	}
	if len(b) != 65 || b[0] != 0x04 {
		return nil, &PushError{Kind: ErrInvalidKey, Op: op,
			Message: trf("got %d bytes, want the 65-byte uncompressed P-256 point starting with 0x04", len(b))}
	}
	return b, nil
}

// sameKey reports whether two base64url keys name the same bytes, whatever
// their padding. Keys that do not decode are never the same.
func sameKey(a, b string) bool {
	x, err := decodeKey(a)
	if err != nil {
		return false
	}
	y, err := decodeKey(b)
	if err != nil {
		return false
	}
	return bytes.Equal(x, y)
}

// pushServiceError turns a rejection of pushManager.subscribe into a
// *PushError whose hint matches what the browser meant. perm is
// Notification.permission when subscribe failed.
//
// Chromium refuses push in Incognito windows with "Registration failed -
// permission denied": as an AbortError (its status
// INCOGNITO_PERMISSION_DENIED), or in some versions a NotAllowedError while
// Notification.permission reads "granted". A real denial is a
// NotAllowedError with the permission "denied" (or not granted).
func pushServiceError(name, message string, perm PermissionState) error {
	e := &PushError{Kind: ErrPushService, Op: "pushManager.subscribe", Name: name, Message: message}
	saysDenied := strings.Contains(strings.ToLower(message), "permission denied")
	switch {
	case saysDenied && (name == "AbortError" || (name == "NotAllowedError" && perm == PermissionGranted)):
		e.Kind = ErrPrivateWindow
		e.Hint = tr("This looks like a private (Incognito) window, where Chrome offers no push; open this page in a normal window")
	case name == "NotAllowedError":
		e.Kind = ErrPermissionDenied
		e.Hint = tr("Notifications are blocked for this site")
	case name == "InvalidAccessError" || name == "InvalidCharacterError":
		e.Kind = ErrInvalidKey
		e.Hint = tr("The server's VAPID public key was refused by the browser")
	case name == "InvalidStateError":
		e.Hint = tr("A subscription made with another VAPID key exists; disable notifications, then enable them again")
	case name == "AbortError":
		e.Hint = tr("The browser's push service refused the subscription or could not be reached (offline, blocked, or a private window)")
	}
	return e
}

// asPushError returns err as a *PushError if it is one.
func asPushError(err error) (*PushError, bool) {
	var pe *PushError
	ok := errors.As(err, &pe)
	return pe, ok
}
