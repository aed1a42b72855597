package api

import "time"

// The admin console's routes. The PathAdminSession routes are the session's
// own (POST takes the token in its body, GET the cookie, DELETE needs
// nothing); every other needs the admin token (Authorization: Bearer) or the
// session cookie it is exchanged for. PathEvents is anonymous (the service
// worker's reports).
const (
	// PathAdminSession: POST AdminSignIn exchanges the admin token for the
	// session cookie (AdminSessionCookie) and answers AdminSession; GET
	// answers AdminSession while the cookie is good, 401 otherwise; DELETE
	// signs out (204) and clears the cookie.
	PathAdminSession = "/api/admin/session"
	// PathAdminSubscriptions: GET ?limit=N&before=ID answers
	// SubscriptionPage, newest first.
	PathAdminSubscriptions = "/api/admin/subscriptions"
	// PathAdminSubscriptionStats: GET answers SubscriptionStats.
	PathAdminSubscriptionStats = "/api/admin/subscriptions/stats"
	// PathAdminSubscription: DELETE removes the subscription with {id}
	// (SubscriptionInfo.ID): 204, or 404.
	PathAdminSubscription = "/api/admin/subscriptions/{id}"
	// PathAdminDeliveries: GET ?broadcast=ID&outcome=O&service=S&limit=N&before=ID
	// answers DeliveryPage, newest first; each filter is optional.
	PathAdminDeliveries = "/api/admin/deliveries"
	// PathEvents: POST Event, from the service worker; 204.
	PathEvents = "/api/events"
	// The funnel of a broadcast is at PathNotification + "/funnel" (GET,
	// admin): Funnel.
)

// AdminSessionCookie is the name of the admin console's session cookie:
// HttpOnly, SameSite=Strict, Secure over https, Path=/api/.
const AdminSessionCookie = "pushstart_admin"

// AdminSignIn is the body of POST /api/admin/session.
type AdminSignIn struct {
	Token string `json:"token"`
}

// AdminSession answers POST and GET /api/admin/session.
type AdminSession struct {
	ExpiresAt time.Time `json:"expiresAt"`
}

// Push services a subscription's endpoint belongs to, by its host: the keys
// of SubscriptionStats.ByService and of the deliveries' service= filter.
const (
	ServiceFCM       = "fcm"       // fcm.googleapis.com: Chrome, Edge on Android, Opera, Samsung
	ServiceMozilla   = "mozilla"   // updates.push.services.mozilla.com: Firefox
	ServiceApple     = "apple"     // *.push.apple.com: Safari
	ServiceMicrosoft = "microsoft" // *.notify.windows.com: Edge on Windows
	ServiceLocal     = "local"     // the kit's local push service (PUSH_SERVICE=local)
	ServiceOther     = "other"     // a host of PUSH_ALLOWED_HOSTS
)

// Services lists the push service keys in the order the console shows them.
var Services = []string{ServiceFCM, ServiceMozilla, ServiceApple, ServiceMicrosoft, ServiceLocal, ServiceOther}

// ServiceName is how the console names a push service key.
func ServiceName(key string) string {
	switch key {
	case ServiceFCM:
		return "FCM (Google)"
	case ServiceMozilla:
		return "Mozilla"
	case ServiceApple:
		return "Apple"
	case ServiceMicrosoft:
		return "Microsoft (WNS)"
	case ServiceLocal:
		return "Local push service"
	case ServiceOther:
		return "Other"
	}
	return key
}

// Count is one line of a breakdown: a key (a push service, a browser, a tag,
// an action) and how many.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// SubscriptionStats answers GET /api/admin/subscriptions/stats. Each
// breakdown is sorted by count, largest first; ByTag counts a subscription
// once for each of its tags.
type SubscriptionStats struct {
	Total     int     `json:"total"`
	ByService []Count `json:"byService"`
	ByBrowser []Count `json:"byBrowser"` // "Chrome", "Firefox", "Edge", "Safari", "Opera", "Samsung Internet", "Other"
	ByTag     []Count `json:"byTag"`
}

// SubscriptionInfo is one subscription as the console shows it: never its
// endpoint (a secret capability URL), only the endpoint's fingerprint and
// its push service's host.
type SubscriptionInfo struct {
	ID           int64      `json:"id"`
	EndpointHash string     `json:"endpointHash"` // push.Fingerprint
	Host         string     `json:"host"`
	Service      string     `json:"service"` // a Service* key
	Browser      string     `json:"browser"` // from UserAgent
	UserAgent    string     `json:"userAgent"`
	UserID       string     `json:"userId,omitempty"`
	Tags         []string   `json:"tags"`
	CreatedAt    time.Time  `json:"createdAt"`
	LastSuccess  *time.Time `json:"lastSuccess,omitempty"` // the last push sent to it
	LastFailure  *time.Time `json:"lastFailure,omitempty"` // the last push that failed
}

// SubscriptionPage answers GET /api/admin/subscriptions. Next, when set, is
// the before= of the next page.
type SubscriptionPage struct {
	Subscriptions []SubscriptionInfo `json:"subscriptions"`
	Next          string             `json:"next,omitempty"`
}

// DeliveryInfo is one entry of the delivery log: a push's final outcome.
type DeliveryInfo struct {
	ID           int64     `json:"id"`
	BroadcastID  string    `json:"broadcastId,omitempty"` // "" for a test send
	EndpointHash string    `json:"endpointHash"`
	Host         string    `json:"host"`
	Service      string    `json:"service"`
	Outcome      string    `json:"outcome"` // a push.Outcome
	Status       int       `json:"status,omitempty"`
	Attempts     int       `json:"attempts"`
	Error        string    `json:"error,omitempty"`
	At           time.Time `json:"at"`
}

// DeliveryPage answers GET /api/admin/deliveries. Next, when set, is the
// before= of the next page.
type DeliveryPage struct {
	Deliveries []DeliveryInfo `json:"deliveries"`
	Next       string         `json:"next,omitempty"`
}

// Event types the service worker reports.
const (
	EventShown   = "shown"   // showNotification resolved
	EventClicked = "clicked" // notificationclick; Action says which button ("" for the body)
	EventClosed  = "closed"  // notificationclose; the funnel counts it only without a click
)

// Event is the body of POST /api/events: what became of one push on the
// device. MessageID is the payload's "messageId", which the server issued
// for that one push (one broadcast, one subscription) and signed, so a
// report counts once per type for the subscription it was sent to and for
// no other.
type Event struct {
	MessageID string `json:"messageId"`
	Type      string `json:"type"`
	Action    string `json:"action,omitempty"`
}

// Funnel answers GET /api/notifications/{id}/funnel (admin): what a
// broadcast achieved. Shown, Clicked and Closed count subscriptions (each
// at most once per type; Closed only those that did not click);
// ClickThrough is Clicked / Sent (0 when nothing was sent).
type Funnel struct {
	ID           string          `json:"id"`
	Sent         int             `json:"sent"`
	Shown        int             `json:"shown"`
	Clicked      int             `json:"clicked"`
	Closed       int             `json:"closed"`
	ClickThrough float64         `json:"clickThrough"`
	ByBrowser    []BrowserFunnel `json:"byBrowser"`
	Actions      []Count         `json:"actions"` // clicks by action; "" is the notification's body
}

// BrowserFunnel is a funnel's events from one browser (as its User-Agent
// names it).
type BrowserFunnel struct {
	Browser string `json:"browser"`
	Shown   int    `json:"shown"`
	Clicked int    `json:"clicked"`
	Closed  int    `json:"closed"`
}
