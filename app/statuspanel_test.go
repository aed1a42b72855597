package app

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"

	"pushstart/api"
)

// User agents of the browsers the status panel tells apart.
const (
	uaChrome  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	uaFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 26_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1"
)

// panelText renders the status panel of s and returns its text, tags
// removed, entities decoded.
func panelText(s pageState) string {
	m := goapp.HTMLString(newStatusPanel(s))
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m, " "))
}

// checked is the state after the load-time check in a browser with ua that
// supports push.
func checked(ua string, perm PermissionState) pageState {
	return pageState{Checked: true, Permission: perm,
		Features: Features{Browser: true, SecureContext: true, ServiceWorker: true, PushManager: true, Notification: true, UserAgent: ua}}
}

func TestStatusPanelGuidesEachBrowser(t *testing.T) {
	iphoneTab := Features{Browser: true, SecureContext: true, ServiceWorker: true, AppleMobile: true, UserAgent: uaIPhone}
	firefoxPrivate := Features{Browser: true, SecureContext: true, PushManager: true, Notification: true, UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
	incognito := func() pageState {
		s := checked(uaChrome, PermissionGranted)
		s.fail(pushServiceError("AbortError", "Registration failed - permission denied", PermissionGranted))
		return s
	}
	revoked := func(ua string) pageState {
		s := checked(ua, PermissionDefault)
		s.Subscribed, s.Saved = true, true
		return s
	}
	tests := []struct {
		name       string
		s          pageState
		want, not  []string
		canEnable  bool
		stepsCount int // numbered steps (<ol> items); -1 for no check
	}{
		{
			name: "iPhone Safari tab: the numbered Add to Home Screen steps",
			s:    pageState{Checked: true, Features: iphoneTab, SupportErr: iphoneTab.Err(), Permission: PermissionUnsupported},
			want: []string{"Push support: unavailable until added to the home screen", "Add pushstart to your Home Screen",
				"Share button", "Add to Home Screen", "Open as Web App", "Tap Add.", "Open pushstart from the Home Screen"},
			stepsCount: 5,
		},
		{
			name:       "Chrome Incognito: subscribe refused, the guidance, and Enable for another try",
			s:          incognito(),
			want:       []string{"Push support: subscribing refused, as in a private window", "Private windows cannot receive push", "normal window", "try again"},
			not:        []string{"Notifications are blocked"},
			canEnable:  true,
			stepsCount: -1,
		},
		{
			name:       "Firefox private window without service workers",
			s:          pageState{Checked: true, Features: firefoxPrivate, SupportErr: firefoxPrivate.Err(), Permission: PermissionDefault},
			want:       []string{"Push support: unavailable in a private window", "Private windows cannot receive push", "normal window"},
			stepsCount: -1,
		},
		{
			name: "denied in Chrome: its menus first, and the Incognito case",
			s:    checked(uaChrome, PermissionDenied),
			want: []string{"Permission: denied", "Notifications are blocked for this site", "Chrome / Chromium (this browser):",
				"View site information", "Site settings", "Cookies and site permissions", "Use Default", "Websites > Notifications",
				"Incognito window Chrome blocks notifications without asking"},
			stepsCount: -1,
		},
		{
			name:       "denied in Firefox: its menus first, no word of Chrome's Incognito",
			s:          checked(uaFirefox, PermissionDenied),
			want:       []string{"Firefox (this browser):", "untick Use Default"},
			not:        []string{"Incognito"},
			stepsCount: -1,
		},
		{
			name: "Chrome took the permission back from a subscribed browser",
			s:    revoked(uaChrome),
			want: []string{"Subscribed", "Notifications are switched off for this site", "Safety Check",
				"Click Disable notifications, then Enable notifications"},
			stepsCount: -1,
		},
		{
			name:       "permission gone in Firefox: no word of Chrome's Safety Check",
			s:          revoked(uaFirefox),
			want:       []string{"Notifications are switched off for this site"},
			not:        []string{"Safety Check"},
			stepsCount: -1,
		},
		{
			name:       "Chrome, not asked yet: where its quieter prompt appears",
			s:          checked(uaChrome, PermissionDefault),
			want:       []string{"Click Enable notifications", "crossed-out bell"},
			canEnable:  true,
			stepsCount: -1,
		},
		{
			name:       "Firefox, not asked yet",
			s:          checked(uaFirefox, PermissionDefault),
			want:       []string{"Click Enable notifications"},
			not:        []string{"crossed-out bell"},
			canEnable:  true,
			stepsCount: -1,
		},
		{
			name: "started offline from the cache",
			s: func() pageState {
				s := checked(uaChrome, PermissionGranted)
				s.Checked = false
				s.setOnline(false)
				s.finish(nil)
				return s
			}(),
			want:       []string{"Offline: this browser has no network connection", "Working offline", "started from the service worker's cache", "checks again when the connection is back"},
			canEnable:  true,
			stepsCount: -1,
		},
		{
			name: "network lost after a normal start",
			s: func() pageState {
				s := checked(uaChrome, PermissionGranted)
				s.setOnline(false)
				return s
			}(),
			want:       []string{"Offline: this browser has no network connection", "No network connection", "need the server", "checks again when the connection is back"},
			not:        []string{"Working offline", "cache"},
			canEnable:  true,
			stepsCount: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := panelText(tt.s)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("the panel does not say %q:\n%s", w, text)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(text, n) {
					t.Errorf("the panel says %q, which is not this browser's case:\n%s", n, text)
				}
			}
			if got := tt.s.canEnable(); got != tt.canEnable {
				t.Errorf("Enable notifications enabled = %v, want %v", got, tt.canEnable)
			}
			if tt.stepsCount > 0 {
				m := goapp.HTMLString(newStatusPanel(tt.s))
				ol := regexp.MustCompile(`(?s)<ol[^>]*>(.*?)</ol>`).FindStringSubmatch(m)
				if ol == nil {
					t.Fatalf("no numbered steps:\n%s", m)
				}
				if n := strings.Count(ol[1], "<li"); n != tt.stepsCount {
					t.Errorf("%d numbered steps, want %d", n, tt.stepsCount)
				}
			}
		})
	}
}

// TestServerUnreachable: a request the server never answered shows as the
// page being offline, not as the browser's "Failed to fetch", which the
// flow log keeps; back online, the page checks again, and a check that
// succeeds clears it.
func TestServerUnreachable(t *testing.T) {
	s := checked(uaChrome, PermissionGranted)
	s.Checked = false
	s.begin("Checking this browser…")
	s.finish(&apiError{Method: "GET", Path: "/api/vapid-public-key",
		Message: "net/http: fetch() failed: Failed to fetch (offline, or the server is not running?)"})
	if !s.Unreachable {
		t.Fatal("no answer from the server did not mark it unreachable")
	}
	if strings.Contains(s.Alert, "Failed to fetch") || !strings.Contains(s.Alert, "did not answer GET /api/vapid-public-key") {
		t.Errorf("alert %q, want the page's words for no answer", s.Alert)
	}
	if last := s.Entries[len(s.Entries)-1]; !strings.Contains(last.Detail, "Failed to fetch") {
		t.Errorf("the flow log lost the browser's words: %q", last.Detail)
	}
	text := panelText(s)
	for _, w := range []string{"Server: no answer (offline, or not running)", "Working offline", "started from the service worker's cache", "The page asks the server again every few seconds"} {
		if !strings.Contains(text, w) {
			t.Errorf("the panel does not say %q:\n%s", w, text)
		}
	}

	if s.setOnline(false) {
		t.Error("going offline asks for a new check")
	}
	s.Busy = "Sending a test notification…"
	if s.setOnline(true) {
		t.Error("back online during an action asks for a new check")
	}
	s.Busy = ""
	if !s.setOnline(true) {
		t.Error("back online after no answer from the server asks for no new check")
	}
	s.begin("Back online: checking again…")
	s.finish(nil)
	if s.Unreachable || s.connectionText() != "" || s.Alert != "" {
		t.Errorf("after a check that succeeded: unreachable %v, %q, alert %q", s.Unreachable, s.connectionText(), s.Alert)
	}
	if s.setOnline(true) {
		t.Error("back online with nothing unanswered asks for a new check")
	}

	// A server that stops after the page reached it: the page did not
	// start from the cache.
	s.begin("Sending a test notification…")
	s.finish(&apiError{Method: "POST", Path: "/api/test", Message: "Failed to fetch"})
	text = panelText(s)
	if !strings.Contains(text, "The server does not answer") || strings.Contains(text, "Working offline") || strings.Contains(text, "cache") {
		t.Errorf("a server that stopped later reads as an offline start:\n%s", text)
	}

	// A server that answered, even with an error, was reached.
	answered := checked(uaChrome, PermissionGranted)
	answered.finish(&apiError{Method: "POST", Path: "/api/subscriptions", Status: 503, Message: "busy"})
	if answered.Unreachable {
		t.Error("a 503 marked the server unreachable")
	}
}

// TestAnsweredErrorEndsRechecks: once the server answers again, even with
// an error, the page stops saying it does not answer and stops checking
// again every few seconds.
func TestAnsweredErrorEndsRechecks(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusNotFound} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			s := checked(uaChrome, PermissionGranted)
			s.finish(&apiError{Method: "GET", Path: "/api/vapid-public-key", Message: "Failed to fetch"})
			if !s.setOnline(true) {
				t.Fatal("back online after no answer asks for no new check")
			}
			s.begin("Back online: checking again…")
			s.finish(&apiError{Method: "POST", Path: "/api/subscriptions", Status: status, Message: "refused"})
			if s.setOnline(true) {
				t.Error("after the server answered, the page still checks again")
			}
			if s.Unreachable || s.connectionText() != "" {
				t.Errorf("after the server answered: unreachable %v, %q", s.Unreachable, s.connectionText())
			}
		})
	}
	t.Run("answers the quiet check, then the browser fails", func(t *testing.T) {
		s := checked(uaChrome, PermissionGranted)
		s.finish(&apiError{Method: "GET", Path: "/api/vapid-public-key", Message: "Failed to fetch"})
		if !s.setOnline(true) {
			t.Fatal("back online after no answer asks for no new check")
		}
		s.serverAnswers()
		s.begin("Back online: checking again…")
		s.finish(&PushError{Kind: ErrPushService, Op: "pushManager.subscribe", Message: "push service not reachable"})
		if s.setOnline(true) {
			t.Error("after the server answered /healthz, the page still checks again")
		}
	})
}

// TestPrivateWindowGuess: a subscribe refused as in a private window shows
// what to do, but is only a guess: Enable stays on, and another try that
// succeeds leaves no word of it.
func TestPrivateWindowGuess(t *testing.T) {
	s := checked(uaChrome, PermissionGranted)
	s.begin("Enabling notifications…")
	s.finish(pushServiceError("NotAllowedError", "Registration failed - permission denied", PermissionGranted))
	if !errors.Is(s.PrivateGuess, ErrPrivateWindow) || s.SupportErr != nil || !s.canEnable() || s.supportMark() != markBad {
		t.Errorf("guess %v, support %v, can enable %v, mark %q", s.PrivateGuess, s.SupportErr, s.canEnable(), s.supportMark())
	}
	if text := panelText(s); !strings.Contains(text, "Private windows cannot receive push") {
		t.Errorf("the panel gives no guidance:\n%s", text)
	}
	s.begin("Enabling notifications…")
	s.subscribed(api.Subscription{Endpoint: "https://push.example/1"})
	s.finish(nil)
	if text := panelText(s); s.PrivateGuess != nil || strings.Contains(text, "private window") {
		t.Errorf("after a try that succeeded: guess %v, panel:\n%s", s.PrivateGuess, text)
	}
	denied := checked(uaChrome, PermissionDenied)
	denied.finish(pushServiceError("NotAllowedError", "Registration failed - permission denied", PermissionDenied))
	if denied.SupportErr != nil || denied.PrivateGuess != nil {
		t.Errorf("a real denial reads as a private window: %v, %v", denied.SupportErr, denied.PrivateGuess)
	}
}

func TestStatusInFrench(t *testing.T) {
	chooseLanguage([]string{"fr-FR"})
	t.Cleanup(func() { chooseLanguage(nil) })
	s := checked(uaFirefox, PermissionGranted)
	s.Subscribed, s.Saved = true, true
	text := panelText(s)
	for _, w := range []string{"État", "Prise en charge du push\u202f: disponible", "Autorisation\u202f: accordée", "Abonné", "Serveur\u202f: enregistre cet abonnement"} {
		if !strings.Contains(text, w) {
			t.Errorf("the French panel does not say %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "Permission: granted") {
		t.Errorf("the French panel speaks English:\n%s", text)
	}
	steps := reenableSteps(uaFirefox)
	if !strings.Contains(steps[0].How, "cadenas") {
		t.Errorf("Firefox's steps in French: %q", steps[0].How)
	}
}

func TestInstallButtonOnlyWithAPrompt(t *testing.T) {
	tests := []struct {
		name               string
		installable, apple bool
		want               bool
	}{
		{"Chromium fired beforeinstallprompt", true, false, true},
		{"Safari: installable to go-app, but no prompt to show", true, true, false},
		{"installed, or no prompt yet", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offered := installPromptOffered(tt.installable, tt.apple)
			if offered != tt.want {
				t.Fatalf("offered = %v, want %v", offered, tt.want)
			}
			m := goapp.HTMLString(&installApp{prompt: offered})
			hasButton := strings.Contains(m, ">Install app</button>")
			if hasButton != tt.want {
				t.Errorf("Install app button shown = %v, want %v:\n%s", hasButton, tt.want, m)
			}
		})
	}
}

// TestServerAnswersAgain: the quiet check the page makes before it runs its
// load-time check again.
func TestServerAnswersAgain(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer up.Close()
	if !newAPIClient(up.URL, nil).answers(context.Background()) {
		t.Error("a server answering /healthz does not answer")
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	if newAPIClient(down.URL, nil).answers(context.Background()) {
		t.Error("a stopped server answers")
	}
}
