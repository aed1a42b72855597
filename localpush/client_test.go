package localpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"pushstart/internal/testserve"
)

// dialService dials s as another process would.
func dialService(t *testing.T, s *Service) *Client {
	t.Helper()
	c, err := Dial(context.Background(), s.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCheckServiceURL(t *testing.T) {
	for _, tt := range []struct {
		name, url, want string // want "" for an error
		why             string // in the error
	}{
		{name: "base", url: "http://127.0.0.1:8900", want: "http://127.0.0.1:8900"},
		{name: "slash", url: "http://127.0.0.1:8900/", want: "http://127.0.0.1:8900"},
		{name: "localhost", url: "http://LocalHost:1", want: "http://localhost:1"},
		{name: "IPv6", url: "http://[::1]:2", want: "http://[::1]:2"},
		{name: "127/8", url: "http://127.1.2.3:4", want: "http://127.1.2.3:4"},
		{name: "empty", url: "", why: "http://"},
		{name: "no scheme", url: "127.0.0.1:8900", why: "http://"},
		{name: "https", url: "https://127.0.0.1:8900", why: "http://"},
		{name: "websocket", url: "ws://127.0.0.1:8900", why: "http://"},
		{name: "a name", url: "http://push.example.com:8900", why: "loopback"},
		{name: "LAN", url: "http://10.0.0.1:8900", why: "loopback"},
		{name: "any address", url: "http://0.0.0.0:8900", why: "loopback"},
		{name: "user", url: "http://me:secret@127.0.0.1:8900", why: "no user or password"},
		{name: "path", url: "http://127.0.0.1:8900/v1", why: "no path"},
		{name: "query", url: "http://127.0.0.1:8900/?a=1", why: "no query"},
		{name: "empty query", url: "http://127.0.0.1:8900?", why: "no query"},
		{name: "fragment", url: "http://127.0.0.1:8900#x", why: "no query or fragment"},
		{name: "bad port", url: "http://127.0.0.1:port", why: "http://"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckServiceURL(tt.url)
			switch {
			case tt.want != "" && (err != nil || got != tt.want):
				t.Errorf("%q: %q, %v; want %q", tt.url, got, err, tt.want)
			case tt.want == "" && (err == nil || !strings.Contains(err.Error(), tt.why)):
				t.Errorf("%q: %q, %v; want an error saying %q", tt.url, got, err, tt.why)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestDial(t *testing.T) {
	t.Run("the service's settings", func(t *testing.T) {
		s := startService(t)
		c := dialService(t, s)
		if c.URL() != s.URL() || c.EndpointPrefix() != s.EndpointPrefix() {
			t.Errorf("URL %q, prefix %q; want %q, %q", c.URL(), c.EndpointPrefix(), s.URL(), s.EndpointPrefix())
		}
		got, _ := json.Marshal(c.Browser())
		want, _ := json.Marshal(s.Browser())
		if !bytes.Equal(got, want) {
			t.Errorf("Browser %s, want %s", got, want)
		}
	})
	t.Run("a URL that is not a service's", func(t *testing.T) {
		if _, err := Dial(context.Background(), "http://example.com:8900", nil); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("Dial: %v, want the loopback rule", err)
		}
	})
	t.Run("another API version", func(t *testing.T) {
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/config" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprintf(w, `{"api": 2, "url": %q}`, "http://"+r.Host)
		}))
		t.Cleanup(other.Close)
		_, err := Dial(context.Background(), other.URL, nil)
		if want := other.URL + " speaks test API version 2; this kit speaks 1"; err == nil || err.Error() != want {
			t.Errorf("Dial: %v, want %q", err, want)
		}
	})
	t.Run("a service of an older build", func(t *testing.T) {
		// Version 1 before "last" and DELETE /v1/faults with a body.
		old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/v1/config":
				fmt.Fprintf(w, `{"api": 1, "url": %q}`, "http://"+r.Host)
			case "/v1/events":
				fmt.Fprint(w, `{"events": []}`)
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(old.Close)
		_, err := Dial(context.Background(), old.URL, nil)
		if err == nil || !strings.Contains(err.Error(), "of an older build than this kit") {
			t.Errorf("Dial: %v, want the service named of an older build", err)
		}
	})
	t.Run("not a push service", func(t *testing.T) {
		other := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(other.Close)
		_, err := Dial(context.Background(), other.URL, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(err.Error(), "/v1/config") {
			t.Errorf("Dial: %v, want the 404 of GET /v1/config", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		addr := freeAddr(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := Dial(ctx, "http://"+addr, nil)
		if err == nil || !strings.Contains(err.Error(), "cannot reach the local push service at http://"+addr) {
			t.Errorf("Dial: %v, want that it cannot reach it", err)
		}
		if d := time.Since(start); d < 500*time.Millisecond || d > 3*time.Second {
			t.Errorf("gave up after %v, want it to keep trying until the context's end (1 s)", d)
		}
	})
	t.Run("waits for a service that starts meanwhile", func(t *testing.T) {
		addr := freeAddr(t)
		go func() {
			time.Sleep(500 * time.Millisecond)
			s, err := New(Config{Addr: addr})
			if err != nil {
				t.Error(err)
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			testserve.Start(t, func() error { return s.Serve(ctx) }, func() error { cancel(); return nil })
		}()
		c, err := Dial(context.Background(), "http://"+addr, nil)
		if err != nil {
			t.Fatalf("Dial: %v, want it to wait for the service", err)
		}
		c.Close()
	})
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestClientFaults(t *testing.T) {
	s := startService(t)
	c := dialService(t, s)
	app, ua := newAppServer(t), newUserAgent(t)
	f, endpoint := firefoxEndpoint(t, s, app.pub)
	push := func() int {
		resp, _ := rawPush{endpoint: endpoint, auth: app.authorization(t, s.URL())}.do(t, nil)
		return resp.StatusCode
	}

	t.Run("Serves as the service does", func(t *testing.T) {
		token := endpoint[strings.LastIndex(endpoint, "/")+1:]
		for _, ep := range []string{endpoint, "https://fcm.googleapis.com/fcm/send/" + token, s.URL() + "/wp/" + token,
			"https://push.example.com/wpush/" + token, s.URL() + "/wpush/", s.URL() + "/v1/faults", strings.ToUpper(endpoint)} {
			if c.Serves(ep) != s.Serves(ep) {
				t.Errorf("Serves(%q) = %v, the service says %v", ep, c.Serves(ep), s.Serves(ep))
			}
		}
	})
	t.Run("armed over HTTP", func(t *testing.T) {
		if err := c.SetFault(FaultRequest{Endpoint: endpoint, Kind: "410"}); err != nil {
			t.Fatal(err)
		}
		if st := push(); st != 410 {
			t.Fatalf("push: %d, want the fault's 410", st)
		}
		if st := push(); st != 201 {
			t.Fatalf("push: %d, want 201 once the fault is spent", st)
		}
	})
	t.Run("a refused field", func(t *testing.T) {
		err := c.SetFault(FaultRequest{Endpoint: endpoint, Kind: "sometimes"})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Field != "kind" || !strings.Contains(ae.Message, `"hang"`) {
			t.Fatalf("SetFault: %#v, want the service's 400 on kind", err)
		}
		if errors.Is(err, ErrUnknownSubscription) {
			t.Error("a bad kind is taken for an unknown subscription")
		}
		err = c.SetFault(FaultRequest{Endpoint: "https://push.example.com/wpush/abc", Kind: "410"})
		if !errors.As(err, &ae) || ae.Field != "endpoint" || errors.Is(err, ErrUnknownSubscription) {
			t.Fatalf("SetFault of another service's endpoint: %v, want 400 on endpoint", err)
		}
	})
	t.Run("an unknown subscription", func(t *testing.T) {
		err := c.SetFault(FaultRequest{Endpoint: s.URL() + "/wpush/never-issued", Kind: "expire"})
		if !errors.Is(err, ErrUnknownSubscription) {
			t.Fatalf("SetFault: %v, want ErrUnknownSubscription", err)
		}
	})
	t.Run("ClearLatency", func(t *testing.T) {
		if err := c.SetFault(FaultRequest{Endpoint: endpoint, Kind: "latency", DelayMs: 5000}); err != nil {
			t.Fatal(err)
		}
		c.ClearLatency(endpoint)
		start := time.Now()
		if st, _ := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("prompt"), webpush.Options{TTL: 60}); st != 201 {
			t.Fatalf("push: %d", st)
		}
		for {
			if m := f.read(); m["messageType"] == "notification" {
				f.ack(m["channelID"].(string), m["version"].(string))
				break
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("handed over after %v: the cleared latency still held it", d)
		}
		c.ClearLatency(s.URL() + "/wpush/never-issued") // nothing to clear: no panic, no error to return
	})
	t.Run("Transport reroutes FCM to the service", func(t *testing.T) {
		hc := &http.Client{Transport: c.Transport(nil)}
		_, since := s.events.since(^uint64(0))
		resp, _ := rawPush{endpoint: "https://fcm.googleapis.com/fcm/send/not-a-subscription", auth: app.authorization(t, "https://fcm.googleapis.com")}.do(t, hc)
		if resp.StatusCode != 404 {
			t.Fatalf("push: %d, want the service's 404", resp.StatusCode)
		}
		evs, _ := s.events.since(since)
		if len(evs) == 0 || evs[0].Type != EventReject || evs[0].Browser != Chromium {
			t.Errorf("events %+v, want the service's reject", evs)
		}
	})
}

func TestClientWatch(t *testing.T) {
	t.Run("from now on, in order, closed by stop", func(t *testing.T) {
		s := startService(t)
		c := dialService(t, s)
		s.events.add(Event{Type: EventConnect, Detail: "before"})
		events, stop := c.Watch()
		for _, d := range []string{"a", "b", "c"} {
			s.events.add(Event{Type: EventConnect, Detail: d})
		}
		if got := watchedDetails(t, events, 3); strings.Join(got, ",") != "a,b,c" {
			t.Fatalf("watched %v, want a,b,c", got)
		}
		start := time.Now() // the watch is now in a long poll
		stop()
		stop()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("stop took %v: the long poll was not cancelled", d)
		}
		if _, ok := <-events; ok {
			t.Fatal("the channel is still open after stop")
		}
	})
	t.Run("a push's events", func(t *testing.T) {
		s := startService(t)
		c := dialService(t, s)
		app, ua := newAppServer(t), newUserAgent(t)
		f, endpoint := firefoxEndpoint(t, s, app.pub)
		events, stop := c.Watch()
		defer stop()
		if st, _ := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("hi"), webpush.Options{TTL: 60}); st != 201 {
			t.Fatalf("push: %d", st)
		}
		ch, version, _ := f.notification()
		f.ack(ch, version)
		var got []string
		for len(got) < 3 {
			select {
			case e := <-events:
				if e.Endpoint == endpoint && e.Message == version {
					got = append(got, e.Type)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("watched %v, then nothing", got)
			}
		}
		if strings.Join(got, ",") != "push,deliver,ack" {
			t.Errorf("watched %v, want push, deliver, ack", got)
		}
	})
	t.Run("Close ends every watch", func(t *testing.T) {
		s := startService(t)
		c := dialService(t, s)
		e1, _ := c.Watch()
		e2, _ := c.Watch()
		c.Close()
		for _, ch := range []<-chan Event{e1, e2} {
			if _, ok := <-ch; ok {
				t.Error("a watch's channel is open after Close")
			}
		}
		if _, ok := <-channelOf(c.Watch()); ok {
			t.Error("a watch after Close is open")
		}
	})
}

// channelOf is the channel of a Watch.
func channelOf(ch <-chan Event, _ func()) <-chan Event { return ch }

func TestEventsLast(t *testing.T) {
	s := startService(t)
	if _, body, _ := pollEvents(t, s, "since=0"); body["last"] != 0.0 {
		t.Fatalf("no event yet: last %v, want 0", body["last"])
	}
	for range 3 {
		s.events.add(Event{Type: EventConnect})
	}
	_, body, _ := pollEvents(t, s, "since=18446744073709551615")
	if body["last"] != 3.0 || len(body["events"].([]any)) != 0 {
		t.Fatalf("since the largest: %v, want no event and last 3", body)
	}
	_, body, _ = pollEvents(t, s, "since=1")
	if body["last"] != 3.0 || len(body["events"].([]any)) != 2 {
		t.Fatalf("since 1: %v, want two events and last 3", body)
	}
}

// clearFaults sends DELETE /v1/faults with body ("" for none) and returns
// the status and the answer's field.
func clearFaults(t *testing.T, s *Service, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, s.URL()+"/v1/faults", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Field string }
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Field
}

func TestClearFaultsOfOneSubscription(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	f := dialFirefox(t, s, "")
	e1, e2 := f.register("chan-1", app.pub), f.register("chan-2", app.pub)
	push := func(endpoint string) int {
		resp, _ := rawPush{endpoint: endpoint, auth: app.authorization(t, s.URL())}.do(t, nil)
		return resp.StatusCode
	}
	arm := func(endpoint, kind string) {
		t.Helper()
		req := FaultRequest{Endpoint: endpoint, Kind: kind}
		if kind == "latency" {
			req.DelayMs = 60000
		}
		if err := s.SetFault(req); err != nil {
			t.Fatal(err)
		}
	}
	// delivered reads and acknowledges the next notification, which must
	// come within d.
	delivered := func(d time.Duration) {
		t.Helper()
		m, err := f.tryRead(d)
		if err != nil || m["messageType"] != "notification" {
			t.Fatalf("read %v, %v; want a notification within %v", m, err, d)
		}
		f.ack(m["channelID"].(string), m["version"].(string))
	}
	body := func(endpoint, kind string) string {
		b, _ := json.Marshal(map[string]string{"endpoint": endpoint, "kind": kind})
		return string(b)
	}

	t.Run("one subscription, one kind", func(t *testing.T) {
		arm(e1, "410")
		arm(e2, "410")
		if st, _ := clearFaults(t, s, body(e1, "410")); st != 204 {
			t.Fatalf("DELETE: %d", st)
		}
		if a, b := push(e1), push(e2); a != 201 || b != 410 {
			t.Fatalf("pushes: %d, %d; want 201 (cleared) and 410 (still armed)", a, b)
		}
		delivered(5 * time.Second)
	})
	t.Run("another kind stays armed", func(t *testing.T) {
		arm(e1, "429")
		if st, _ := clearFaults(t, s, body(e1, "500")); st != 204 {
			t.Fatalf("DELETE: %d", st)
		}
		if st := push(e1); st != 429 {
			t.Errorf("push: %d, want the 429 still armed", st)
		}
	})
	t.Run("every kind of one subscription", func(t *testing.T) {
		arm(e1, "hang")
		arm(e1, "latency")
		arm(e2, "500")
		if st, _ := clearFaults(t, s, `{"endpoint": "`+e1+`"}`); st != 204 {
			t.Fatalf("DELETE: %d", st)
		}
		if st := push(e1); st != 201 {
			t.Fatalf("push: %d, want 201 (hang cleared)", st)
		}
		delivered(2 * time.Second) // not after the latency's 60 s
		if st := push(e2); st != 500 {
			t.Errorf("push to the other: %d, want its 500 still armed", st)
		}
	})
	t.Run("the offline window", func(t *testing.T) {
		if err := s.SetFault(FaultRequest{Endpoint: e1, Kind: "offline", Seconds: 600}); err != nil {
			t.Fatal(err)
		}
		if st, _ := clearFaults(t, s, body(e1, "offline")); st != 204 {
			t.Fatalf("DELETE: %d", st)
		}
		dialFirefox(t, s, f.uaid) // answered at once, not held for 600 s
	})
	t.Run("refusals", func(t *testing.T) {
		arm(e2, "500")
		for _, tt := range []struct {
			name, body string
			status     int
			field      string
		}{
			{"unknown subscription", body(s.URL()+"/wpush/never-issued", ""), 404, "endpoint"},
			{"not the service's endpoint", body("https://push.example.com/wpush/abc", "410"), 400, "endpoint"},
			{"no endpoint", `{"kind": "410"}`, 400, "endpoint"},
			{"a kind that acts at once", body(e2, "expire"), 400, "kind"},
			{"an unknown kind", body(e2, "sometimes"), 400, "kind"},
			{"a status out of range", body(e2, "302"), 400, "kind"},
			{"an unknown field", `{"endpoint": "` + e2 + `", "count": 1}`, 400, ""},
			{"not JSON", `endpoint=x`, 400, ""},
			{"too big", `{"endpoint": "` + strings.Repeat("a", 70<<10) + `"}`, 400, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if st, field := clearFaults(t, s, tt.body); st != tt.status || field != tt.field {
					t.Errorf("DELETE %s: %d %q, want %d %q", tt.body[:min(len(tt.body), 80)], st, field, tt.status, tt.field)
				}
			})
		}
		if st := push(e2); st != 500 {
			t.Errorf("push: %d, want the 500 no refused DELETE cleared", st)
		}
	})
	t.Run("an empty body clears everything", func(t *testing.T) {
		arm(e1, "410")
		arm(e2, "410")
		if st, _ := clearFaults(t, s, " \n"); st != 204 {
			t.Fatalf("DELETE: %d", st)
		}
		if a, b := push(e1), push(e2); a != 201 || b != 201 {
			t.Errorf("pushes: %d, %d; want 201 and 201", a, b)
		}
	})
}
