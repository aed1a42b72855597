package gcm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	"github.com/coder/websocket"
)

// TestChromium runs the whole flow against the real browser: Debian's
// Chromium, pointed at this emulation, subscribes from a page, receives a
// push encrypted by webpush-go, decrypts it and shows the notification;
// it reconnects after the server drops it (which the Playwright suite never
// does), and unsubscribes. `make browsertest` runs it:
//
//	PUSHSTART_BROWSER_TEST=1 go test -run TestChromium -v ./server/localpush/gcm/
func TestChromium(t *testing.T) {
	if os.Getenv("PUSHSTART_BROWSER_TEST") != "1" {
		t.Skip("set PUSHSTART_BROWSER_TEST=1 to run against /usr/bin/chromium")
	}
	chromium := os.Getenv("PUSHSTART_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		// Asked to run with the browser, a missing one is a failure.
		t.Fatalf("no browser: %v (install it with `sudo make deps`, or set PUSHSTART_CHROMIUM)", err)
	}

	// Record what Chromium posts (form keys and the answers), to compare
	// with what the emulation expects.
	e := newEnvWrapped(t, nil, func(h http.Handler) http.Handler { return logRequests(t, h) })
	w := &watcher{t: t, rec: e.rec}

	vapidPrivate, vapidPublic, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	shown := make(chan string, 8)
	page := httptest.NewServer(pageHandler(func(p string) { shown <- p }))
	t.Cleanup(page.Close)

	b := launchChromium(t, chromium, []string{
		"--gcm-checkin-url=" + e.http.URL + "/checkin",
		"--gcm-registration-url=" + e.http.URL + "/c2dm/register3",
		"--gcm-mcs-endpoint=https://" + e.mcsAddr,
		"--ignore-certificate-errors-spki-list=" + e.s.SPKIHash(),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	if _, err := b.call(ctx, "", "Browser.grantPermissions", map[string]any{
		"origin": page.URL, "permissions": []string{"notifications"},
	}); err != nil {
		t.Fatal(err)
	}
	sess := b.openPage(ctx, page.URL+"/")

	// subscribe() resolves with an endpoint that ends in the token.
	var sub struct {
		Endpoint string `json:"endpoint"`
		Keys     struct {
			P256dh string `json:"p256dh"`
			Auth   string `json:"auth"`
		} `json:"keys"`
	}
	start := time.Now()
	out := b.eval(ctx, sess, fmt.Sprintf("subscribeNow(%q)", vapidPublic))
	if err := json.Unmarshal([]byte(out), &sub); err != nil {
		t.Fatalf("subscribe() gave %q: %v", out, err)
	}
	t.Logf("subscribe() resolved after %v; endpoint host+path prefix %q", time.Since(start).Round(time.Millisecond),
		sub.Endpoint[:strings.LastIndex(sub.Endpoint, "/")+1])
	reg := w.wait(ctx, "registered").reg
	if !strings.HasSuffix(sub.Endpoint, "/"+reg.Token) {
		t.Fatalf("endpoint does not end in the registration token")
	}
	if reg.Sender != vapidPublic {
		t.Errorf("sender %q, want the applicationServerKey %q", reg.Sender, vapidPublic)
	}
	t.Logf("registration: app %q, subtype %q", reg.App, reg.Subtype)

	conn := deliver(ctx, t, w, b, sess, shown, w.connected(ctx), reg, sub.Keys.P256dh, sub.Keys.Auth, vapidPublic, vapidPrivate, "first")

	// The server drops the connection; Chromium logs in again and the next
	// push arrives over the new connection.
	conn.close()
	w.waitFor(ctx, "disconnected", func(ev event) bool { return ev.conn == conn })
	start = time.Now()
	conn2 := w.connectedOtherThan(ctx, conn)
	t.Logf("Chromium reconnected %v after the drop", time.Since(start).Round(time.Millisecond))
	deliver(ctx, t, w, b, sess, shown, conn2, reg, sub.Keys.P256dh, sub.Keys.Auth, vapidPublic, vapidPrivate, "second")

	// unsubscribe() resolves true and the registration is deleted.
	if got := b.eval(ctx, sess, "unsubscribeNow()"); got != "true" {
		t.Errorf("unsubscribe() = %s", got)
	}
	if ev := w.wait(ctx, "unregistered"); ev.token != reg.Token {
		t.Errorf("Unregistered another token")
	}
}

// deliver encrypts a notification for the subscription with webpush-go,
// sends the body as a DataMessageStanza and waits for the browser's
// acknowledgement and the shown notification. It returns the connection
// that carried it: conn, or the next one when Chromium closed conn first
// (it may replace its first connection of a session right after login).
func deliver(ctx context.Context, t *testing.T, w *watcher, b *browser, sess string, shown <-chan string, conn *Conn, reg Registration,
	p256dh, auth, vapidPublic, vapidPrivate, title string) *Conn {
	t.Helper()
	bodies := make(chan []byte, 1)
	capture := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		rw.WriteHeader(http.StatusCreated)
	}))
	defer capture.Close()
	plain := fmt.Sprintf(`{"title":%q,"body":"sent at %s"}`, title, time.Now().Format(time.RFC3339Nano))
	resp, err := webpush.SendNotification([]byte(plain), &webpush.Subscription{
		Endpoint: capture.URL + "/fcm/send/" + reg.Token,
		Keys:     webpush.Keys{P256dh: p256dh, Auth: auth},
	}, &webpush.Options{Subscriber: "test@example.com", VAPIDPublicKey: vapidPublic, VAPIDPrivateKey: vapidPrivate, TTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	body := <-bodies

	id := fmt.Sprintf("0:%d%%7031b2e6", time.Now().UnixMicro())
	sent := time.Now()
	for {
		err := conn.Send(Message{ID: id, Token: reg.Token, Body: body, TTL: 60, Sent: sent})
		if err == nil {
			break
		}
		if !errors.Is(err, net.ErrClosed) {
			t.Fatal(err)
		}
		t.Logf("Chromium closed its connection before the push; sending on its next one")
		conn = w.connectedOtherThan(ctx, conn)
	}
	ev := w.wait(ctx, "acked")
	t.Logf("push %q (%d bytes aes128gcm) acknowledged after %v: %v", title, len(body), time.Since(sent).Round(time.Millisecond), ev.ids)
	if len(ev.ids) != 1 || ev.ids[0] != id {
		t.Errorf("Acked(%v), want [%s]", ev.ids, id)
	}
	select {
	case p := <-shown:
		if p != plain {
			t.Fatalf("service worker decrypted %q, want %q", p, plain)
		}
		t.Logf("service worker showed the decrypted payload %v after sending", time.Since(sent).Round(time.Millisecond))
	case <-ctx.Done():
		t.Fatalf("push %q never reached the service worker", title)
	}
	// Chromium drops from getNotifications() what the platform does not
	// list as displayed yet; ask again for a while.
	var got string
	for range 25 {
		got = b.eval(ctx, sess, "notificationsNow()")
		if strings.Contains(got, `"title":"`+title+`"`) {
			t.Logf("getNotifications(): %s", got)
			return conn
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("getNotifications() = %s, without %q", got, title)
	return conn
}

const testPage = `<!doctype html>
<meta charset="utf-8"><title>gcm check</title>
<script>
function fromB64url(s) {
  s = s.replace(/-/g, '+').replace(/_/g, '/');
  while (s.length % 4) s += '=';
  return Uint8Array.from(atob(s), c => c.charCodeAt(0));
}
async function subscribeNow(key) {
  const reg = await navigator.serviceWorker.register('/sw.js');
  await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: fromB64url(key)});
  return JSON.stringify(sub.toJSON());
}
async function notificationsNow() {
  const reg = await navigator.serviceWorker.ready;
  const ns = await reg.getNotifications();
  return JSON.stringify(ns.map(n => ({title: n.title, body: n.body})));
}
async function unsubscribeNow() {
  const reg = await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.getSubscription();
  return sub ? String(await sub.unsubscribe()) : 'no subscription';
}
</script>`

const testWorker = `
self.addEventListener('install', e => self.skipWaiting());
self.addEventListener('activate', e => e.waitUntil(self.clients.claim()));
self.addEventListener('push', e => {
  const text = e.data ? e.data.text() : '';
  let d;
  try { d = JSON.parse(text); } catch (err) { d = {title: 'unreadable push', body: String(err)}; }
  // Report the decrypted payload once the notification is shown.
  e.waitUntil(self.registration.showNotification(d.title, {body: d.body, tag: d.title})
    .then(() => fetch('/shown', {method: 'POST', body: text})));
});
`

// pageHandler serves the test page and its worker; report receives each
// decrypted payload the worker has shown.
func pageHandler(report func(string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, testPage)
		case "/sw.js":
			w.Header().Set("Content-Type", "text/javascript")
			io.WriteString(w, testWorker)
		case "/shown":
			b, _ := io.ReadAll(r.Body)
			report(string(b))
		default:
			http.NotFound(w, r)
		}
	})
}

// logRequests logs each request to h: path, form keys (values only of the
// harmless ones) and the answer's status and first bytes.
func logRequests(t *testing.T, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		desc := fmt.Sprintf("%d-byte protobuf", len(body))
		if r.URL.Path != "/checkin" {
			var parts []string
			for _, kv := range strings.Split(string(body), "&") {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "app", "X-subtype", "delete", "scope", "X-scope", "gmsv", "gcm_unreg_caller", "X-gcm.topic":
					parts = append(parts, kv)
				default:
					parts = append(parts, fmt.Sprintf("%s=<%d chars>", k, len(v)))
				}
			}
			desc = strings.Join(parts, "&")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		answer := rec.Body.String()
		if len(answer) > 16 && r.URL.Path != "/checkin" {
			answer = answer[:16] + "..."
		}
		if r.URL.Path == "/checkin" {
			answer = fmt.Sprintf("%d-byte protobuf", rec.Body.Len())
		}
		t.Logf("chromium %s %s [%s] -> %d %q", r.Method, r.URL.Path, desc, rec.Code, answer)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// watcher waits for hook calls in any order, remembering the newest
// connection.
type watcher struct {
	t    *testing.T
	rec  *recorder
	conn *Conn
}

func (w *watcher) next(ctx context.Context) event {
	w.t.Helper()
	select {
	case ev := <-w.rec.events:
		w.t.Logf("hook %s %v", ev.kind, ev.ids)
		if ev.kind == "connected" {
			w.conn = ev.conn
		}
		return ev
	case <-ctx.Done():
		w.t.Fatal("timed out waiting for a hook call")
	}
	return event{}
}

func (w *watcher) waitFor(ctx context.Context, kind string, ok func(event) bool) event {
	w.t.Helper()
	for {
		if ev := w.next(ctx); ev.kind == kind && ok(ev) {
			return ev
		}
	}
}

func (w *watcher) wait(ctx context.Context, kind string) event {
	w.t.Helper()
	return w.waitFor(ctx, kind, func(event) bool { return true })
}

func (w *watcher) connected(ctx context.Context) *Conn {
	w.t.Helper()
	return w.connectedOtherThan(ctx, nil)
}

func (w *watcher) connectedOtherThan(ctx context.Context, old *Conn) *Conn {
	w.t.Helper()
	for w.conn == nil || w.conn == old {
		w.next(ctx)
	}
	return w.conn
}

// browser is a Chromium process driven over the DevTools protocol.
type browser struct {
	t    *testing.T
	ws   *websocket.Conn
	mu   sync.Mutex
	id   int
	wait map[int]chan cdpReply
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

var gcmLogLine = regexp.MustCompile(`(?i)gcm|mcs|checkin|registration|push`)

func launchChromium(t *testing.T, bin string, gcmArgs []string) *browser {
	t.Helper()
	profile := t.TempDir()
	args := append([]string{
		"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--remote-debugging-port=0",
		"--enable-logging=stderr", "--v=1",
		"--vmodule=mcs_client=1,connection_factory_impl=1,connection_handler_impl=1,gcm_client_impl=1,registration_request=1,unregistration_request=1,checkin_request=1",
	}, gcmArgs...)
	args = append(args, "about:blank")
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// PUSHSTART_CHROMIUM_LOG names a file for the browser's whole log.
	var full io.Writer = io.Discard
	if path := os.Getenv("PUSHSTART_CHROMIUM_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		full = f
	}
	wsURL := make(chan string, 1)
	var logMu sync.Mutex
	var logLines []string
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(full, line)
			if u, ok := strings.CutPrefix(line, "DevTools listening on "); ok {
				wsURL <- u
			}
			if gcmLogLine.MatchString(line) {
				logMu.Lock()
				logLines = append(logLines, line)
				logMu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logMu.Lock()
		defer logMu.Unlock()
		for _, l := range logLines {
			t.Logf("chromium: %s", l)
		}
	})

	var u string
	select {
	case u = <-wsURL:
	case <-time.After(30 * time.Second):
		t.Fatal("Chromium printed no DevTools URL within 30s")
	}
	ws, _, err := websocket.Dial(context.Background(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	b := &browser{t: t, ws: ws, wait: map[int]chan cdpReply{}}
	go b.readLoop()
	t.Cleanup(func() { ws.CloseNow() })
	return b
}

func (b *browser) readLoop() {
	for {
		_, data, err := b.ws.Read(context.Background())
		if err != nil {
			return
		}
		var msg struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(data, &msg) != nil || msg.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.wait[msg.ID]
		delete(b.wait, msg.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- msg.cdpReply
		}
	}
}

// call sends one DevTools command, to the browser or to a page session.
func (b *browser) call(ctx context.Context, session, method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.id++
	id := b.id
	ch := make(chan cdpReply, 1)
	b.wait[id] = ch
	b.mu.Unlock()
	req := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		req["sessionId"] = session
	}
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if err := b.ws.Write(ctx, websocket.MessageText, data); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		return r.Result, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// openPage opens url in a new tab and returns its session id once the
// page's script has run.
func (b *browser) openPage(ctx context.Context, url string) string {
	b.t.Helper()
	res, err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": url})
	if err != nil {
		b.t.Fatal(err)
	}
	var target struct {
		TargetID string `json:"targetId"`
	}
	_ = json.Unmarshal(res, &target)
	res, err = b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	if err != nil {
		b.t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	_ = json.Unmarshal(res, &attached)
	for b.eval(ctx, attached.SessionID, "typeof subscribeNow") != "function" {
		time.Sleep(100 * time.Millisecond)
	}
	return attached.SessionID
}

// eval evaluates expr in the page, awaiting a promise, and returns the
// result as a string.
func (b *browser) eval(ctx context.Context, session, expr string) string {
	b.t.Helper()
	res, err := b.call(ctx, session, "Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		b.t.Fatal(err)
	}
	if r.ExceptionDetails != nil {
		b.t.Fatalf("%s threw: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return fmt.Sprint(r.Result.Value)
}
