package localpush

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	"github.com/coder/websocket"

	"pushstart/internal/ecetest"
	"pushstart/internal/testserve"
)

// startService runs a service on loopback for one test. Options may adjust
// it before it serves.
func startService(t *testing.T, opts ...func(*Service)) *Service {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	testserve.Start(t, func() error { return s.Serve(ctx) }, func() error { cancel(); return nil })
	return s
}

// fakeClock is a settable clock for TTL and VAPID exp tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// withClock makes the service use c.
func withClock(c *fakeClock) func(*Service) {
	return func(s *Service) { s.now = c.Now }
}

// appServer is an application server's VAPID key pair.
type appServer struct {
	pub, priv string // base64url without padding, as webpush-go wants them
	key       *ecdsa.PrivateKey
}

func newAppServer(t *testing.T) appServer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return appServer{
		pub:  base64.RawURLEncoding.EncodeToString(pub),
		priv: base64.RawURLEncoding.EncodeToString(priv),
		key:  k,
	}
}

// paddedKey is the public key as Firefox sends it: base64url with padding.
func (a appServer) paddedKey() string {
	raw, _ := base64.RawURLEncoding.DecodeString(a.pub)
	return base64.URLEncoding.EncodeToString(raw)
}

// jwt signs claims with the app server's key; header overrides the JOSE
// header when non-nil.
func (a appServer) jwt(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	if header == nil {
		header = map[string]any{"typ": "JWT", "alg": "ES256"}
	}
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, a.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// authorization is a VAPID header signed by a for aud, valid for 12 hours.
func (a appServer) authorization(t *testing.T, aud string) string {
	t.Helper()
	tok := a.jwt(t, nil, map[string]any{
		"aud": aud, "exp": time.Now().Add(12 * time.Hour).Unix(), "sub": "mailto:ops@example.com",
	})
	return "vapid t=" + tok + ", k=" + a.pub
}

// userAgent is the browser side of a subscription's encryption keys.
type userAgent struct {
	priv   *ecdh.PrivateKey
	p256dh string
	auth   []byte
}

func newUserAgent(t *testing.T) userAgent {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return userAgent{priv: k, p256dh: base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), auth: auth}
}

// recorder is a RoundTripper that keeps the body of every request it sends.
type recorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body.Close()
	r.mu.Lock()
	r.bodies = append(r.bodies, b)
	r.mu.Unlock()
	req2 := req.Clone(req.Context())
	req2.Body = io.NopCloser(bytes.NewReader(b))
	base := r.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req2)
}

func (r *recorder) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[len(r.bodies)-1]
}

// sendWebPush sends plaintext to endpoint as the kit's sender does, with
// webpush-go, and returns the reply's status and headers.
func sendWebPush(t *testing.T, client *http.Client, app appServer, ua userAgent, endpoint string, plaintext []byte, o webpush.Options) (int, http.Header) {
	t.Helper()
	o.Subscriber = "ops@example.com"
	o.VAPIDPublicKey, o.VAPIDPrivateKey = app.pub, app.priv
	o.HTTPClient = client
	sub := &webpush.Subscription{Endpoint: endpoint, Keys: webpush.Keys{
		P256dh: ua.p256dh, Auth: base64.RawURLEncoding.EncodeToString(ua.auth)}}
	resp, err := webpush.SendNotification(bytes.Clone(plaintext), sub, &o)
	if err != nil {
		t.Fatalf("webpush.SendNotification: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// rawPush is a hand-made push request, for the cases webpush-go cannot make.
type rawPush struct {
	auth     string            // Authorization; "" sends none
	headers  map[string]string // defaults: TTL 60, Content-Encoding aes128gcm; "" removes one
	body     []byte            // default 100 bytes
	host     string            // Host header; "" keeps the URL's
	endpoint string
}

func (p rawPush) do(t *testing.T, client *http.Client) (*http.Response, string) {
	t.Helper()
	body := p.body
	if body == nil {
		body = bytes.Repeat([]byte{0xa5}, 100)
	}
	req, err := http.NewRequest(http.MethodPost, p.endpoint, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"TTL": "60", "Content-Encoding": "aes128gcm"}
	for k, v := range p.headers {
		h[k] = v
	}
	for k, v := range h {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	if p.auth != "" {
		req.Header.Set("Authorization", p.auth)
	}
	if p.host != "" {
		req.Host = p.host
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", p.endpoint, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// firefox plays Firefox's side of Mozilla's WebSocket push protocol.
type firefox struct {
	t    *testing.T
	ws   *websocket.Conn
	uaid string
}

// dialFirefox connects and says hello with uaid ("" for a new browser).
func dialFirefox(t *testing.T, s *Service, uaid string) *firefox {
	t.Helper()
	f := openFirefox(t, s)
	f.sendHello(uaid)
	f.helloReply()
	return f
}

// openFirefox opens Firefox's WebSocket without saying hello.
func openFirefox(t *testing.T, s *Service) *firefox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := s.Browser().FirefoxPrefs["dom.push.serverURL"].(string)
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"push-notification"}})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "push-notification" {
		t.Fatalf("subprotocol %q, want push-notification", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &firefox{t: t, ws: ws}
}

// sendHello says hello with uaid ("" for a new browser).
func (f *firefox) sendHello(uaid string) {
	f.t.Helper()
	hello := map[string]any{"messageType": "hello", "broadcasts": map[string]any{}, "use_webpush": true}
	if uaid != "" {
		hello["uaid"] = uaid
	}
	f.send(hello)
}

// helloReply reads the service's answer to the hello and keeps its uaid.
func (f *firefox) helloReply() {
	f.t.Helper()
	r := f.read()
	if r["messageType"] != "hello" || r["status"] != 200.0 || r["use_webpush"] != true {
		f.t.Fatalf("hello reply %v", r)
	}
	f.uaid, _ = r["uaid"].(string)
}

func (f *firefox) send(v any) {
	f.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.ws.Write(ctx, websocket.MessageText, b); err != nil {
		f.t.Fatalf("write: %v", err)
	}
}

// read returns the next message, failing the test after 5 s.
func (f *firefox) read() map[string]any {
	f.t.Helper()
	m, err := f.tryRead(5 * time.Second)
	if err != nil {
		f.t.Fatalf("read: %v", err)
	}
	return m
}

func (f *firefox) tryRead(d time.Duration) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, b, err := f.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not JSON: %q", b)
	}
	return m, nil
}

// register subscribes a channel restricted to key and returns the endpoint.
func (f *firefox) register(channelID, key string) string {
	f.t.Helper()
	f.send(map[string]any{"messageType": "register", "channelID": channelID, "key": key})
	r := f.read()
	if r["messageType"] != "register" || r["channelID"] != channelID || r["status"] != 200.0 {
		f.t.Fatalf("register reply %v", r)
	}
	ep, _ := r["pushEndpoint"].(string)
	return ep
}

// notification reads the next message, which must be a notification, and
// returns its version and decoded data.
func (f *firefox) notification() (channelID, version string, data []byte) {
	f.t.Helper()
	r := f.read()
	if r["messageType"] != "notification" {
		f.t.Fatalf("got %v, want a notification", r)
	}
	if h, _ := r["headers"].(map[string]any); h["encoding"] != "aes128gcm" {
		f.t.Fatalf("notification headers %v, want encoding aes128gcm", r["headers"])
	}
	data, err := base64.RawURLEncoding.DecodeString(r["data"].(string))
	if err != nil {
		f.t.Fatalf("notification data is not base64url: %v", err)
	}
	return r["channelID"].(string), r["version"].(string), data
}

// ack acknowledges a notification with code 100.
func (f *firefox) ack(channelID, version string) {
	f.send(map[string]any{"messageType": "ack", "updates": []any{
		map[string]any{"channelID": channelID, "version": version, "code": 100}}})
}

// expectNothingPending pings and fails if anything but the ping's answer
// comes first: everything the service had to send is sent before it reads
// the ping.
func (f *firefox) expectNothingPending() {
	f.t.Helper()
	f.send(map[string]any{})
	r := f.read()
	if len(r) != 0 {
		f.t.Fatalf("got %v, want only the ping answer {}", r)
	}
}

// decrypt checks that body decrypts for ua to want.
func decrypt(t *testing.T, ua userAgent, body []byte) string {
	t.Helper()
	pt, err := ecetest.Decrypt(body, ua.priv, ua.auth)
	if err != nil {
		t.Fatalf("decrypting the delivered body: %v", err)
	}
	return string(pt)
}

// eventsOf fetches GET /v1/events?since=0 and returns the events of the given
// types, in order.
func eventsOf(t *testing.T, s *Service, types ...string) []Event {
	t.Helper()
	resp, err := http.Get(s.URL() + "/v1/events?since=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Events []Event }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	var out []Event
	for _, e := range body.Events {
		for _, ty := range types {
			if e.Type == ty {
				out = append(out, e)
			}
		}
	}
	return out
}

// waitEvent polls the feed until an event of type typ satisfying ok appears.
func waitEvent(t *testing.T, s *Service, typ string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range eventsOf(t, s, typ) {
			if ok(e) {
				return e
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s event as expected; events: %+v", typ, eventsOf(t, s, typ))
	return Event{}
}

func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || strings.Contains(fmt.Sprint(err), "deadline")
}
