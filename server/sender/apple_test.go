package sender

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"pushstart/internal/vapidverify"
	"pushstart/push"
	"pushstart/server/vapid"
)

// appleToken ends the endpoints of the fake Apple push service: a secret
// that must reach no error, log or delivery log.
const appleToken = "QGm8SECRETappleTOKENdoNotLog0123456789abcdef"

// newApplePushService is a fake of Apple's push service over TLS, and a
// client that reaches it for every connection to web.push.apple.com:443,
// other test servers on 127.0.0.1, and nothing else, so no test goes out
// to the internet.
func newApplePushService(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) (*pushService, *http.Client) {
	t.Helper()
	ps := &pushService{}
	ps.Server = httptest.NewTLSServer(ps.recording(respond))
	t.Cleanup(ps.Close)
	tr := ps.Client().Transport.(*http.Transport).Clone()
	addr := ps.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, to string) (net.Conn, error) {
		if to == appleHost+":443" {
			to = addr
		} else if host, _, _ := net.SplitHostPort(to); host != "127.0.0.1" {
			return nil, fmt.Errorf("the test's client dials %s and loopback only, not %s", appleHost, to)
		}
		return (&net.Dialer{}).DialContext(ctx, network, to)
	}
	// httptest's certificate is for example.com; the URL's host stays
	// web.push.apple.com, so the JWT's audience is Apple's origin.
	tr.TLSClientConfig.ServerName = "example.com"
	c := NewHTTPClient(tr)
	t.Cleanup(c.CloseIdleConnections)
	return ps, c
}

// TestAppleRefusedSubjectNotSent: with a subject Apple's push service
// refuses, a push to it is not sent; the result says what to change,
// without the endpoint; the log says it once per host, as a refusal.
func TestAppleRefusedSubjectNotSent(t *testing.T) {
	for _, subject := range []string{"mailto:webpush@localhost.localdomain", "mailto:ops@example.com", "https://push.internal/contact"} {
		t.Run(subject, func(t *testing.T) {
			checkGoroutines(t)
			apple, client := newApplePushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusCreated)
			})
			other := newPushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusCreated)
			})
			f := newFixture(t, Options{Subject: subject, Client: client})
			want := vapid.CheckApple(subject)
			if want == nil {
				t.Fatalf("CheckApple(%q) accepts it; the test needs a subject Apple refuses", subject)
			}

			// The host is matched without regard to case, as URLs are.
			for _, endpoint := range []string{"https://web.push.apple.com/3/device/" + appleToken, "https://WEB.Push.Apple.com/" + appleToken} {
				b := newBrowser(t, endpoint)
				f.store.add(b.sub)
				res := f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t), TTL: 60})
				if res.Outcome != push.Unauthorized || res.Status != 0 || res.Attempts != 0 || res.Pruned {
					t.Fatalf("Send to %s = %+v, want unauthorized before any attempt", endpoint, res)
				}
				var refused *vapid.AppleSubjectError
				if !errors.As(res.Err, &refused) || res.Err.Error() != want.Error() {
					t.Errorf("Err = %v, want %v", res.Err, want)
				}
				if !f.store.has(b.sub.Endpoint) {
					t.Error("the subscription was deleted")
				}
			}
			if n := len(apple.requests()); n != 0 {
				t.Errorf("Apple's push service got %d requests, want none", n)
			}

			// Other push services do not check the subject so: sent.
			b := newBrowser(t, other.URL+"/wpush/"+appleToken)
			if res := f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t), TTL: 60}); res.Outcome != push.Sent {
				t.Errorf("send to another push service = %+v, want sent", res)
			}

			d, _ := f.store.Deliveries(context.Background(), 0)
			if len(d) != 3 || d[2].Outcome != "unauthorized" || d[2].Error != want.Error() || d[2].Host != appleHost {
				t.Errorf("delivery log = %+v, want the refusal recorded with what to change", d)
			}
			logs := f.log.String()
			if n := strings.Count(logs, `"level":"ERROR"`); n != 1 || !strings.Contains(logs, "change VAPID_SUBJECT") ||
				!strings.Contains(logs, want.Error()) {
				t.Errorf("want one ERROR saying to change VAPID_SUBJECT, and why, got %d:\n%s", n, logs)
			}
			if strings.Contains(logs+fmt.Sprint(d), appleToken) {
				t.Errorf("the endpoint's token reached the log or the delivery log:\n%s\n%v", logs, d)
			}
		})
	}
}

// TestAppleAcceptedSubjectSent: with a real contact, the push reaches
// Apple's push service with the subject exactly as configured in the JWT,
// "mailto:" once, and the audience Apple's origin.
func TestAppleAcceptedSubjectSent(t *testing.T) {
	for _, subject := range []string{"mailto:you@acme-push.io", "MAILTO:you@acme-push.io", "https://acme-push.io/contact"} {
		t.Run(subject, func(t *testing.T) {
			checkGoroutines(t)
			apple, client := newApplePushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusCreated)
			})
			f := newFixture(t, Options{Subject: subject, Client: client})
			b := newBrowser(t, "https://web.push.apple.com/3/device/"+appleToken)
			f.store.add(b.sub)

			res := f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t), TTL: 60})
			if res.Outcome != push.Sent || res.Status != http.StatusCreated || res.Attempts != 1 {
				t.Fatalf("Send = %+v, want sent 201", res)
			}
			reqs := apple.requests()
			if len(reqs) != 1 || reqs[0].Path != "/3/device/"+appleToken {
				t.Fatalf("Apple's push service got %+v, want one request to the endpoint's path", reqs)
			}
			// Read the JWT as Apple would: vapid t=<header.claims.sig>, k=<key>.
			auth := reqs[0].Header.Get("Authorization")
			token, _, ok := strings.Cut(strings.TrimPrefix(auth, "vapid t="), ",")
			parts := strings.Split(token, ".")
			if !strings.HasPrefix(auth, "vapid t=") || !ok || len(parts) != 3 {
				t.Fatalf("Authorization %q is not vapid t=<JWT>, k=<key>", auth)
			}
			raw, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims struct{ Sub, Aud string }
			if err := json.Unmarshal(raw, &claims); err != nil {
				t.Fatal(err)
			}
			wantSub := "mailto:you@acme-push.io"
			if strings.HasPrefix(subject, "https:") {
				wantSub = subject
			}
			if claims.Sub != wantSub || claims.Aud != "https://web.push.apple.com" {
				t.Errorf("JWT claims %s: want sub %q, aud https://web.push.apple.com", raw, wantSub)
			}
			if _, err := vapidverify.Verify(auth, vapidverify.Expect{Endpoint: b.sub.Endpoint, Key: f.pubKey, Subject: wantSub}); err != nil {
				t.Errorf("the VAPID header does not verify: %v", err)
			}
		})
	}
}

// TestAppleReasons: Apple's push service says why it refuses in a JSON
// body; the error names the reason, and for BadJwtToken says what to check.
func TestAppleReasons(t *testing.T) {
	const subject = "mailto:you@acme-push.io"
	tests := []struct {
		name    string
		status  int
		body    string
		want    push.Outcome
		wantErr string // the whole error
		reason  string // the *AppleRefusal's reason; "" for none
		hint    bool
	}{
		{"BadJwtToken", 403, `{"reason":"BadJwtToken"}`, push.Unauthorized,
			"Apple's push service answered 403 Forbidden, reason BadJwtToken: Apple refused the VAPID JWT; check that " +
				"VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are one pair, and set VAPID_SUBJECT to mailto:you@your-domain.com " +
				"or https://your-domain.com if it is no real contact",
			"BadJwtToken", true},
		{"VapidPkHashMismatch", 403, `{"reason": "VapidPkHashMismatch"}`, push.Unauthorized,
			"Apple's push service answered 403 Forbidden, reason VapidPkHashMismatch", "VapidPkHashMismatch", false},
		{"BadWebPushTopic", 400, `{"reason":"BadWebPushTopic"}`, push.Rejected,
			"Apple's push service answered 400 Bad Request, reason BadWebPushTopic", "BadWebPushTopic", false},
		{"Unregistered", 410, `{"reason":"Unregistered"}`, push.Gone,
			"Apple's push service answered 410 Gone, reason Unregistered", "Unregistered", false},
		{"no JSON", 403, `Forbidden`, push.Unauthorized, "push service answered 403 Forbidden: Forbidden", "", false},
		{"a reason not a word", 403, `{"reason":"Bad <b>token</b> ` + appleToken + `"}`, push.Unauthorized,
			`push service answered 403 Forbidden: {"reason":"Bad <b>token</b> <token>"}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := newApplePushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			f := newFixture(t, Options{Subject: subject, Client: client})
			b := newBrowser(t, "https://web.push.apple.com/3/device/"+appleToken)
			f.store.add(b.sub)

			res := f.s.Send(context.Background(), b.sub, push.Message{Payload: notification(t), TTL: 60})
			if res.Outcome != tt.want || res.Status != tt.status || res.Attempts != 1 {
				t.Fatalf("Send = %+v, want %s %d after 1 attempt", res, tt.want, tt.status)
			}
			if res.Err == nil || res.Err.Error() != tt.wantErr {
				t.Errorf("Err = %v\nwant %s", res.Err, tt.wantErr)
			}
			var refusal *AppleRefusal
			if errors.As(res.Err, &refusal) != (tt.reason != "") || (refusal != nil && refusal.Reason != tt.reason) {
				t.Fatalf("Err %#v: want an *AppleRefusal with reason %q", res.Err, tt.reason)
			}
			if refusal != nil {
				hint := refusal.Hint()
				if (hint != "") != tt.hint || (tt.hint && !strings.Contains(hint, "set VAPID_SUBJECT to")) {
					t.Errorf("Hint() = %q", hint)
				}
			}
			// Logged and stored with every push Apple refuses: the
			// operator's contact stays out.
			if strings.Contains(res.Err.Error(), subject) {
				t.Errorf("Err = %q names the configured subject", res.Err)
			}
			d, _ := f.store.Deliveries(context.Background(), 0)
			if len(d) != 1 || d[0].Error != tt.wantErr {
				t.Errorf("delivery log = %+v", d)
			}
		})
	}
}

// TestAppleRefusedSubjectTraced: a followed push not sent to Apple is traced
// as a configuration fault with what to change, and without the configured
// subject, which the page following it is not told.
func TestAppleRefusedSubjectTraced(t *testing.T) {
	const subject = "mailto:ops@corp.internal"
	_, client := newApplePushService(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	b := newBrowser(t, "https://web.push.apple.com/3/device/"+appleToken)
	tr := newRecordTracer(b.sub.Endpoint)
	f := newFixture(t, Options{Subject: subject, Client: client, Trace: tr})
	f.store.add(b.sub)

	res := f.s.Deliver(context.Background(), b.sub, push.Message{Payload: notification(t), TTL: 60})
	evs := tr.all()
	if got := steps(evs); got != "config-fault outcome" || res.Outcome != push.Unauthorized {
		t.Fatalf("%s: steps %q, want config-fault outcome", res.Outcome, got)
	}
	var refused *vapid.AppleSubjectError
	if !errors.As(res.Err, &refused) {
		t.Fatalf("Err = %v", res.Err)
	}
	fault := evs[0]
	if fault.OK || field(t, fault, "deleted") != "false" || fault.Detail != refused.Advice()+"." ||
		!strings.Contains(fault.Detail, "set VAPID_SUBJECT to mailto:you@your-domain.com") {
		t.Errorf("config fault step %+v, want nothing deleted and what to set", fault)
	}
	if out := evs[1]; !strings.Contains(out.Title, "not sent") {
		t.Errorf("outcome step %q, want it to say the push was not sent", out.Title)
	}
	if all := fmt.Sprint(evs); strings.Contains(all, "corp.internal") {
		t.Errorf("the trace names the configured subject: %s", all)
	}
}
