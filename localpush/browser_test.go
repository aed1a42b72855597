package localpush

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// The tests in this file drive real browsers through the service. They run
// only with PUSHSTART_BROWSER_TEST=1, which `make browsertest` (part of
// `make test`) sets, since they need Firefox ESR and Chromium installed
// (Debian's paths, or FIREFOX_BIN and CHROMIUM_BIN). They prove what the
// Playwright suite does not reach: a message sent while the browser is
// closed is delivered when it starts again on the same profile, and a push
// after the worker unsubscribed gets 410.

const browserTestPage = `<!doctype html>
<title>local push test</title>
<script>
const key = %q;
function b64(s) {
  s = s.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(s), c => c.charCodeAt(0));
}
// A push call made while Firefox is still starting can go unanswered
// (its parent-side push service is not listening yet): retry on a timeout.
function within(ms, p) {
  return Promise.race([p, new Promise((_, no) => setTimeout(() => no(new Error('timeout')), ms))]);
}
(async () => {
  try {
    const reg = await navigator.serviceWorker.register('/sw.js');
    await navigator.serviceWorker.ready;
    let sub;
    for (let i = 0; ; i++) {
      try {
        sub = await within(5000, reg.pushManager.getSubscription());
        break;
      } catch (e) {
        if (i == 5) throw e;
      }
    }
    if (!sub) sub = await reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: b64(key)});
    await fetch('/sub', {method: 'POST', body: JSON.stringify(sub.toJSON())});
  } catch (e) {
    await fetch('/error', {method: 'POST', body: String(e)});
  }
})();
</script>`

const browserTestWorker = `
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', e => e.waitUntil(self.clients.claim()));
self.addEventListener('push', e => {
  const text = e.data ? e.data.text() : '';
  e.waitUntil((async () => {
    await self.registration.showNotification('local push test', {body: text});
    if (text === 'unsubscribe') {
      const s = await self.registration.pushManager.getSubscription();
      if (s) await s.unsubscribe();
    }
    await fetch('/received', {method: 'POST', body: text});
  })());
});`

// pageServer serves the test page and reports what the page and its
// service worker post back.
type pageServer struct {
	*httptest.Server
	svc      *Service
	subs     chan webpush.Subscription
	received chan string
	errors   chan string
	changes  chan string // what the worker reports of a pushsubscriptionchange
}

func newPageServer(t *testing.T, s *Service, vapidPublic string) *pageServer {
	t.Helper()
	return newPageServerWith(t, s, vapidPublic, browserTestWorker)
}

// newPageServerWith serves worker as the page's service worker, with KEY
// defined as the VAPID public key.
func newPageServerWith(t *testing.T, s *Service, vapidPublic, worker string) *pageServer {
	t.Helper()
	p := &pageServer{svc: s, subs: make(chan webpush.Subscription, 10), received: make(chan string, 10),
		errors: make(chan string, 10), changes: make(chan string, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, browserTestPage, vapidPublic)
	})
	mux.HandleFunc("GET /sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, "const KEY = %q;\n%s", vapidPublic, worker)
	})
	mux.HandleFunc("POST /change", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.changes <- string(b)
	})
	mux.HandleFunc("POST /sub", func(w http.ResponseWriter, r *http.Request) {
		var sub webpush.Subscription
		json.NewDecoder(r.Body).Decode(&sub)
		p.subs <- sub
	})
	mux.HandleFunc("POST /received", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.received <- string(b)
	})
	mux.HandleFunc("POST /error", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.errors <- string(b)
	})
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if testing.Verbose() {
			t.Logf("page server: %s %s", r.Method, r.URL)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pageServer) subscription(t *testing.T, d time.Duration) webpush.Subscription {
	t.Helper()
	select {
	case sub := <-p.subs:
		return sub
	case e := <-p.errors:
		t.Fatalf("the page failed to subscribe: %s", e)
	case <-time.After(d):
		t.Fatalf("the page did not subscribe in time; events: %s", p.events(t))
	}
	return webpush.Subscription{}
}

func (p *pageServer) expectReceived(t *testing.T, want string, d time.Duration) {
	t.Helper()
	select {
	case got := <-p.received:
		if got != want {
			t.Fatalf("the service worker received %q, want %q", got, want)
		}
	case <-time.After(d):
		t.Fatalf("the service worker did not receive %q in time; events: %s", want, p.events(t))
	}
}

// events is the service's event feed, for failure messages.
func (p *pageServer) events(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, e := range eventsOf(t, p.svc, EventRegister, EventUnregister, EventConnect, EventDisconnect,
		EventPush, EventDeliver, EventAck, EventNack, EventReject, EventFault) {
		fmt.Fprintf(&b, "\n  %d %s %s %s %d %s", e.Seq, e.Type, e.Browser, e.Endpoint, e.Status, e.Detail)
	}
	return b.String()
}

// browserProcess is a browser started by a test, in its own process group.
type browserProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startBrowser(t *testing.T, bin string, args ...string) *browserProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if testing.Verbose() {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	b := &browserProcess{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(b.done) }()
	t.Cleanup(b.stop)
	return b
}

// stop ends the browser's process group: SIGTERM, then SIGKILL.
func (b *browserProcess) stop() {
	pgid := b.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-b.done
	}
	syscall.Kill(-pgid, syscall.SIGKILL) // content processes left behind
}

func browserBin(t *testing.T, env, path string) string {
	t.Helper()
	if os.Getenv("PUSHSTART_BROWSER_TEST") != "1" {
		t.Skip("set PUSHSTART_BROWSER_TEST=1 to run with real browsers")
	}
	if v := os.Getenv(env); v != "" {
		path = v
	}
	if _, err := os.Stat(path); err != nil {
		// Asked to run with browsers, a missing one is a failure: a green
		// run must mean the browser really ran.
		t.Fatalf("%s: %v (install the browsers with `sudo make deps`, or set %s)", path, err, env)
	}
	return path
}

// TestRealFirefox is the acceptance test of the Mozilla side: Firefox ESR
// subscribes through the service, receives and decrypts a push, gets a
// message queued while it was closed after restarting with the same
// profile, and unsubscribes.
func TestRealFirefox(t *testing.T) {
	bin := browserBin(t, "FIREFOX_BIN", "/usr/lib/firefox-esr/firefox-esr")
	s := startService(t, func(s *Service) {
		if testing.Verbose() {
			s.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	app := newAppServer(t)
	page := newPageServer(t, s, app.pub)
	launch := firefoxLauncher(t, bin, s)
	ff := launch(page.URL + "/")
	sub := page.subscription(t, 60*time.Second)
	if !strings.HasPrefix(sub.Endpoint, s.URL()+"/wpush/") {
		t.Fatalf("Firefox's endpoint %q is not this service's", sub.Endpoint)
	}
	exercise(t, s, page, app, sub, http.DefaultClient, Firefox, ff, launch, 60*time.Second,
		func(e Event) bool { return e.Endpoint == sub.Endpoint && strings.Contains(e.Detail, "code 100") })
}

// firefoxLauncher makes a Firefox profile pointed at s, and returns what
// starts bin on it.
func firefoxLauncher(t *testing.T, bin string, s *Service) func(url string) *browserProcess {
	t.Helper()
	profile := t.TempDir()
	prefs := map[string]any{
		"permissions.default.desktop-notification":   1,
		"browser.shell.checkDefaultBrowser":          false,
		"browser.startup.homepage_override.mstone":   "ignore",
		"datareporting.policy.dataSubmissionEnabled": false,
		"toolkit.telemetry.reportingpolicy.firstRun": false,
		"app.update.disabledForTesting":              true,
		"browser.aboutwelcome.enabled":               false,
		"browser.startup.page":                       0,
		"browser.sessionstore.resume_from_crash":     false,
	}
	if testing.Verbose() {
		prefs["dom.push.loglevel"] = "debug"
		prefs["devtools.console.stdout.content"] = true
		prefs["devtools.console.stdout.chrome"] = true
		prefs["browser.dom.window.dump.enabled"] = true
	}
	for k, v := range s.Browser().FirefoxPrefs {
		prefs[k] = v
	}
	var userJS strings.Builder
	for k, v := range prefs {
		j, _ := json.Marshal(v)
		fmt.Fprintf(&userJS, "user_pref(%q, %s);\n", k, j)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(userJS.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(url string) *browserProcess {
		return startBrowser(t, bin, "--headless", "--no-remote", "--profile", profile, url)
	}
}

// TestRealChromium drives Chromium through package gcm and this service:
// it subscribes, receives a push sent to its FCM endpoint through
// Transport, gets a message queued while it was closed after restarting
// with the same profile, and unsubscribes.
func TestRealChromium(t *testing.T) {
	bin := browserBin(t, "CHROMIUM_BIN", "/usr/bin/chromium")
	s := startService(t, func(s *Service) {
		if testing.Verbose() {
			s.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	app := newAppServer(t)
	page := newPageServer(t, s, app.pub)

	profile := t.TempDir()
	prefs := `{"profile":{"default_content_setting_values":{"notifications":1}}}`
	if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), []byte(prefs), 0o600); err != nil {
		t.Fatal(err)
	}
	launch := func(url string) *browserProcess {
		args := append([]string{"--headless", "--user-data-dir=" + profile, "--no-first-run",
			"--no-default-browser-check", "--disable-gpu"}, s.Browser().ChromiumArgs...)
		if os.Geteuid() == 0 {
			args = append(args, "--no-sandbox")
		}
		return startBrowser(t, bin, append(args, url)...)
	}
	cr := launch(page.URL + "/")
	sub := page.subscription(t, 90*time.Second)
	if !strings.Contains(sub.Endpoint, "/fcm/send/") && !strings.Contains(sub.Endpoint, "/wp/") {
		t.Fatalf("Chromium's endpoint %q is not an FCM one", sub.Endpoint)
	}
	exercise(t, s, page, app, sub, &http.Client{Transport: s.Transport(nil)}, Chromium, cr, launch, 90*time.Second,
		func(e Event) bool { return e.Endpoint == sub.Endpoint })
}

// exercise runs what both real-browser tests check once the browser has
// subscribed: a push is delivered and acknowledged (acked picks the ack
// event); a push made while the browser is closed waits and arrives within
// away after relaunch starts it again on the same profile; a push asking the
// page's worker to unsubscribe is followed by 410 for the endpoint. client
// sends the pushes.
func exercise(t *testing.T, s *Service, page *pageServer, app appServer, sub webpush.Subscription,
	client *http.Client, browser string, running *browserProcess, relaunch func(url string) *browserProcess,
	away time.Duration, acked func(Event) bool) {
	t.Helper()
	push := func(text string, ttl int, topic ...string) int {
		t.Helper()
		o := &webpush.Options{
			Subscriber: "ops@example.com", VAPIDPublicKey: app.pub, VAPIDPrivateKey: app.priv, TTL: ttl,
			HTTPClient: client,
		}
		if len(topic) > 0 {
			o.Topic = topic[0]
		}
		resp, err := webpush.SendNotification([]byte(text), &sub, o)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if st := push("first", 60); st != 201 {
		t.Fatalf("push: %d", st)
	}
	page.expectReceived(t, "first", 30*time.Second)
	waitEvent(t, s, EventAck, acked)

	offlineWindow(t, s, page, sub, browser, push)

	// The closed browser's message waits for it. Restarted on the same
	// profile, it says hello with its old identity, keeps its subscription
	// and gets the message: no page is open, the service worker wakes for it.
	running.stop()
	waitEvent(t, s, EventDisconnect, func(e Event) bool { return e.Browser == browser })
	if st := push("while away", 600); st != 201 {
		t.Fatalf("push while %s is closed: %d", browser, st)
	}
	relaunch("about:blank")
	page.expectReceived(t, "while away", away)

	// The worker unsubscribes on this message; the endpoint is then gone.
	push("unsubscribe", 60)
	page.expectReceived(t, "unsubscribe", 30*time.Second)
	waitEvent(t, s, EventUnregister, func(e Event) bool { return e.Endpoint == sub.Endpoint })
	if st := push("after unsubscribe", 60); st != http.StatusGone {
		t.Fatalf("push after unsubscribe: %d, want 410", st)
	}
}

// offlineSeconds is the offline window of the real-browser tests.
const offlineSeconds = 8

// offlineWindow arms the offline fault for sub: while the browser is kept
// away a TTL 0 push is dropped, and of a TTL push and two pushes with one
// Topic only the TTL push and the newer topic push arrive once it is back.
// It logs how long after the window's end the browser was back.
func offlineWindow(t *testing.T, s *Service, page *pageServer, sub webpush.Subscription, browser string,
	push func(text string, ttl int, topic ...string) int) {
	t.Helper()
	// Chromium restores its reconnection back-off for a connection lost
	// within 10 s of its login (kConnectionResetWindowSecs): let the
	// connection age, as a browser's would in use, so that what is measured
	// is the fault, not a browser that just started.
	connects := eventsOf(t, s, EventConnect)
	if len(connects) > 0 {
		if age := time.Since(connects[len(connects)-1].Time); age < 11*time.Second {
			time.Sleep(11*time.Second - age)
		}
	}
	since := len(connects)
	start := time.Now()
	if err := s.SetFault(FaultRequest{Endpoint: sub.Endpoint, Kind: "offline", Seconds: offlineSeconds}); err != nil {
		t.Fatal(err)
	}
	end := start.Add(offlineSeconds * time.Second)
	waitEvent(t, s, EventDisconnect, func(e Event) bool { return e.Browser == browser && e.Time.After(start) })

	if st := push("now or never", 0); st != 201 {
		t.Fatalf("TTL 0 push while offline: %d", st)
	}
	if st := push("kept", 60); st != 201 {
		t.Fatalf("push while offline: %d", st)
	}
	for _, text := range []string{"score 1", "score 2"} {
		if st := push(text, 60, "score"); st != 201 {
			t.Fatalf("topic push %q while offline: %d", text, st)
		}
	}
	waitEvent(t, s, EventDrop, func(e Event) bool { return e.Endpoint == sub.Endpoint })
	waitEvent(t, s, EventReplace, func(e Event) bool { return e.Endpoint == sub.Endpoint })

	got := map[string]bool{}
	for range 2 {
		select {
		case text := <-page.received:
			if time.Now().Before(end) {
				t.Fatalf("%q arrived %v before the offline window ended", text, time.Until(end))
			}
			got[text] = true
		case <-time.After(offlineSeconds*time.Second + 60*time.Second):
			t.Fatalf("after the offline window: got %v, want kept and score 2; events: %s", got, page.events(t))
		}
	}
	if !got["kept"] || !got["score 2"] {
		t.Fatalf("after the offline window: got %v, want kept and score 2", got)
	}
	select {
	case text := <-page.received:
		t.Fatalf("%q arrived too: only the TTL push and the newer topic push should", text)
	case <-time.After(2 * time.Second):
	}
	connects = eventsOf(t, s, EventConnect)[since:]
	if len(connects) == 0 {
		t.Fatal("no connect event after the offline window")
	}
	back := connects[len(connects)-1]
	if back.Endpoint != sub.Endpoint {
		t.Errorf("connect event %+v: want the endpoint of the offline fault", back)
	}
	held := offlineEvents(t, s, sub.Endpoint)
	t.Logf("%s back %v after the %d s offline window ended (offline events: %q)",
		browser, back.Time.Sub(end).Round(10*time.Millisecond), offlineSeconds, held)
}

// resetTestWorker subscribes again on pushsubscriptionchange and reports
// what the event carried and the new subscription.
const resetTestWorker = `
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', e => e.waitUntil(self.clients.claim()));
self.addEventListener('pushsubscriptionchange', e => {
  e.waitUntil((async () => {
    const report = {
      old: e.oldSubscription ? e.oldSubscription.endpoint : null,
      new: e.newSubscription ? e.newSubscription.endpoint : null,
    };
    const key = (e.oldSubscription && e.oldSubscription.options.applicationServerKey) || KEY;
    const sub = await self.registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key});
    report.resubscribed = sub.toJSON();
    await fetch('/change', {method: 'POST', body: JSON.stringify(report)});
  })());
});
self.addEventListener('push', e => {
  const text = e.data ? e.data.text() : '';
  e.waitUntil(self.registration.showNotification('local push test', {body: text})
    .then(() => fetch('/received', {method: 'POST', body: text})));
});`

// TestRealFirefoxReset checks what Firefox does when the push service
// forgets it (the reset fault): it reconnects, is given a new uaid, drops
// its subscription and fires pushsubscriptionchange; the worker subscribes
// again and a push to the new endpoint arrives. It logs what the event
// carried and how long it took.
func TestRealFirefoxReset(t *testing.T) {
	bin := browserBin(t, "FIREFOX_BIN", "/usr/lib/firefox-esr/firefox-esr")
	s := startService(t)
	app := newAppServer(t)
	page := newPageServerWith(t, s, app.pub, resetTestWorker)
	firefoxLauncher(t, bin, s)(page.URL + "/")
	sub := page.subscription(t, 60*time.Second)

	start := time.Now()
	if err := s.SetFault(FaultRequest{Endpoint: sub.Endpoint, Kind: "reset"}); err != nil {
		t.Fatal(err)
	}
	var change struct {
		Old, New     *string
		Resubscribed webpush.Subscription
	}
	select {
	case c := <-page.changes:
		if err := json.Unmarshal([]byte(c), &change); err != nil {
			t.Fatalf("change report %q: %v", c, err)
		}
	case e := <-page.errors:
		t.Fatalf("the page failed: %s", e)
	case <-time.After(30 * time.Second):
		t.Fatalf("no pushsubscriptionchange within 30 s of the reset; events: %s", page.events(t))
	}
	took := time.Since(start)
	fresh := change.Resubscribed
	if fresh.Endpoint == sub.Endpoint || !s.Serves(fresh.Endpoint) {
		t.Fatalf("resubscribed to %q, want a new endpoint of the service", fresh.Endpoint)
	}
	show := func(p *string) string {
		switch {
		case p == nil:
			return "null"
		case *p == sub.Endpoint:
			return "the old endpoint"
		case *p == fresh.Endpoint:
			return "the new endpoint"
		}
		return *p
	}
	t.Logf("Firefox fired pushsubscriptionchange %v after the reset: oldSubscription %s, newSubscription %s",
		took.Round(10*time.Millisecond), show(change.Old), show(change.New))

	o := &webpush.Options{Subscriber: "ops@example.com", VAPIDPublicKey: app.pub, VAPIDPrivateKey: app.priv, TTL: 60}
	for _, tc := range []struct {
		sub  webpush.Subscription
		want int
	}{{sub, http.StatusGone}, {fresh, http.StatusCreated}} {
		resp, err := webpush.SendNotification([]byte("after reset"), &tc.sub, o)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("push to %s: %d, want %d", show(&tc.sub.Endpoint), resp.StatusCode, tc.want)
		}
	}
	page.expectReceived(t, "after reset", 30*time.Second)
}
