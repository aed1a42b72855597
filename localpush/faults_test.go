package localpush

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// setFault arms a fault through POST /v1/faults and returns the status.
func setFault(t *testing.T, s *Service, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(s.URL()+"/v1/faults", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFaults(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	_, endpoint := firefoxEndpoint(t, s, app.pub)
	push := func() (*http.Response, string) {
		return rawPush{endpoint: endpoint, auth: app.authorization(t, s.URL())}.do(t, nil)
	}

	t.Run("410 twice, then normal", func(t *testing.T) {
		if st := setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "410", "count": 2}); st != 204 {
			t.Fatalf("POST /v1/faults: %d", st)
		}
		for i, want := range []int{410, 410, 201} {
			if resp, _ := push(); resp.StatusCode != want {
				t.Fatalf("request %d: %d, want %d", i+1, resp.StatusCode, want)
			}
		}
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "429", "retryAfter": 7})
		resp, _ := push()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
			t.Fatalf("%d Retry-After %q, want 429 and 7", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("500", func(t *testing.T) {
		setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "500"})
		if resp, _ := push(); resp.StatusCode != 500 {
			t.Fatalf("%d, want 500", resp.StatusCode)
		}
	})
	t.Run("hang until the client gives up", func(t *testing.T) {
		setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "hang"})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader("x"))
		start := time.Now()
		_, err := http.DefaultClient.Do(req)
		if err == nil || !isTimeout(err) {
			t.Fatalf("hanging request: %v, want the client's deadline", err)
		}
		if time.Since(start) < 250*time.Millisecond {
			t.Fatal("the request was answered instead of held")
		}
		if resp, _ := push(); resp.StatusCode != 201 {
			t.Fatalf("next request %d, want 201", resp.StatusCode)
		}
	})
	t.Run("a fault for another endpoint does not apply", func(t *testing.T) {
		token := endpoint[strings.LastIndex(endpoint, "/")+1:]
		setFault(t, s, map[string]any{"endpoint": "https://fcm.googleapis.com/fcm/send/other-" + token, "kind": "500"})
		if resp, _ := push(); resp.StatusCode != 201 {
			t.Fatalf("fault on another token hit this endpoint: %d", resp.StatusCode)
		}
	})
	t.Run("cleared by DELETE /v1/faults", func(t *testing.T) {
		setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "500", "count": 5})
		req, _ := http.NewRequest(http.MethodDelete, s.URL()+"/v1/faults", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("DELETE /v1/faults: %v %v", resp, err)
		}
		resp.Body.Close()
		if resp, _ := push(); resp.StatusCode != 201 {
			t.Fatalf("%d after clearing, want 201", resp.StatusCode)
		}
	})
	t.Run("invalid fault requests", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"endpoint": endpoint, "kind": "teapot"},
			{"endpoint": endpoint, "kind": "200"},
			{"endpoint": "not a url", "kind": "500"},
			{"endpoint": s.URL() + "/elsewhere/x", "kind": "500"},
			{"endpoint": endpoint, "kind": "500", "count": -1},
			{"endpoint": endpoint, "kind": "500", "bogus": 1},
		} {
			if st := setFault(t, s, body); st != 400 {
				t.Errorf("%v: %d, want 400", body, st)
			}
		}
	})

	var statuses []int
	for _, e := range eventsOf(t, s, EventFault) {
		statuses = append(statuses, e.Status)
	}
	want := []int{410, 410, 429, 500, 0}
	if len(statuses) != len(want) {
		t.Fatalf("fault events with statuses %v, want %v", statuses, want)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("fault events with statuses %v, want %v", statuses, want)
		}
	}
}

func TestHangingRequestEndsOnClose(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(context.Background())
	app := newAppServer(t)
	_, endpoint := firefoxEndpoint(t, s, app.pub)
	setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "hang"})

	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitEvent(t, s, EventFault, func(Event) bool { return true })
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a hanging request", d)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the hanging request got an answer; want the connection dropped")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hanging request was not ended by Close")
	}
}

func TestFaultRequestErrorsNameTheField(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	_, endpoint := firefoxEndpoint(t, s, app.pub)
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"offline without seconds", map[string]any{"endpoint": endpoint, "kind": "offline"}, "seconds"},
		{"offline over 600 s", map[string]any{"endpoint": endpoint, "kind": "offline", "seconds": 601}, "seconds"},
		{"offline with a count", map[string]any{"endpoint": endpoint, "kind": "offline", "seconds": 5, "count": 2}, "count"},
		{"seconds on a status kind", map[string]any{"endpoint": endpoint, "kind": "500", "seconds": 5}, "seconds"},
		{"latency without delayMs", map[string]any{"endpoint": endpoint, "kind": "latency"}, "delayMs"},
		{"latency over 60000 ms", map[string]any{"endpoint": endpoint, "kind": "latency", "delayMs": 60001}, "delayMs"},
		{"latency with retryAfter", map[string]any{"endpoint": endpoint, "kind": "latency", "delayMs": 10, "retryAfter": 1}, "retryAfter"},
		{"delayMs on hang", map[string]any{"endpoint": endpoint, "kind": "hang", "delayMs": 10}, "delayMs"},
		{"expire with retryAfter", map[string]any{"endpoint": endpoint, "kind": "expire", "retryAfter": 1}, "retryAfter"},
		{"expire of no subscription", map[string]any{"endpoint": s.URL() + "/wpush/never-issued", "kind": "expire"}, "endpoint"},
		{"reset with a count", map[string]any{"endpoint": endpoint, "kind": "reset", "count": 2}, "count"},
		{"reset of no subscription", map[string]any{"endpoint": s.URL() + "/wpush/never-issued", "kind": "reset"}, "endpoint"},
		{"offline of no subscription", map[string]any{"endpoint": s.URL() + "/wpush/never-issued", "kind": "offline", "seconds": 5}, "endpoint"},
		{"unknown kind", map[string]any{"endpoint": endpoint, "kind": "teapot"}, "kind"},
		{"not an endpoint", map[string]any{"endpoint": "not a url", "kind": "500"}, "endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(tc.body)
			resp, err := http.Post(s.URL()+"/v1/faults", "application/json", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct{ Error, Field string }
			json.NewDecoder(resp.Body).Decode(&got)
			if resp.StatusCode != 400 || got.Field != tc.field || !strings.HasPrefix(got.Error, tc.field+" ") {
				t.Errorf("%d %+v, want 400 naming %s", resp.StatusCode, got, tc.field)
			}
		})
	}
	// None of them was armed.
	if resp, _ := (rawPush{endpoint: endpoint, auth: app.authorization(t, s.URL())}).do(t, nil); resp.StatusCode != 201 {
		t.Fatalf("push after refused faults: %d, want 201", resp.StatusCode)
	}
}

func TestExpireFault(t *testing.T) {
	t.Run("Firefox", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		f := dialFirefox(t, s, "")
		endpoint := f.register("chan-1", app.pub)
		f.ws.CloseNow()
		waitEvent(t, s, EventDisconnect, func(Event) bool { return true })
		_, h := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("waiting"), webpush.Options{TTL: 600})
		waiting := h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]

		if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "expire"}); err != nil {
			t.Fatal(err)
		}
		un := waitEvent(t, s, EventUnregister, func(e Event) bool { return e.Endpoint == endpoint })
		if !strings.Contains(un.Detail, "expired") {
			t.Errorf("unregister event %+v: want a detail saying it expired", un)
		}
		drop := waitEvent(t, s, EventDrop, func(e Event) bool { return e.Message == waiting })
		if drop.Endpoint != endpoint {
			t.Errorf("drop event %+v: want the endpoint", drop)
		}
		for i := range 2 {
			if st, _ := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("late"), webpush.Options{TTL: 60}); st != http.StatusGone {
				t.Fatalf("push %d after expiry: %d, want 410", i+1, st)
			}
		}
		// The waiting message went with the subscription.
		f2 := dialFirefox(t, s, f.uaid)
		f2.expectNothingPending()
	})
	t.Run("Chromium", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		client := &http.Client{Transport: s.Transport(nil)}
		c := checkInChromium(t, s)
		endpoint := c.register(app.pub)
		if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "expire"}); err != nil {
			t.Fatal(err)
		}
		if st, _ := sendWebPush(t, client, app, ua, endpoint, []byte("late"), webpush.Options{TTL: 60}); st != http.StatusGone {
			t.Fatalf("push after expiry: %d, want 410", st)
		}
		// Registering the same subscription again makes a new endpoint: the
		// expired token stays gone.
		again := c.register(app.pub)
		if again == endpoint {
			t.Fatal("the expired endpoint came back")
		}
		if st, _ := sendWebPush(t, client, app, ua, again, []byte("new"), webpush.Options{TTL: 60}); st != 201 {
			t.Fatalf("push to the new endpoint: %d, want 201", st)
		}
		if st, _ := sendWebPush(t, client, app, ua, endpoint, []byte("late"), webpush.Options{TTL: 60}); st != http.StatusGone {
			t.Fatalf("push to the expired endpoint: %d, want 410", st)
		}
	})
}

// TestResetFault checks that the reset fault forgets the whole browser, and
// that Firefox learns it as from autopush: its connection drops and its next
// hello gets a new uaid. Another browser is untouched.
func TestResetFault(t *testing.T) {
	t.Run("Firefox", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		f := dialFirefox(t, s, "")
		endpoint := f.register("chan-1", app.pub)
		sibling := f.register("chan-2", app.pub)
		other := dialFirefox(t, s, "")
		untouched := other.register("chan-1", app.pub)

		if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "reset"}); err != nil {
			t.Fatal(err)
		}
		if m, err := f.tryRead(5 * time.Second); err == nil {
			t.Fatalf("got %v after the reset, want the connection dropped", m)
		}
		reset := waitEvent(t, s, EventReset, func(e Event) bool { return e.Endpoint == endpoint })
		if !strings.Contains(reset.Detail, "2 subscriptions") {
			t.Errorf("reset event %+v: want a detail counting the 2 subscriptions", reset)
		}
		for _, ep := range []string{endpoint, sibling} {
			waitEvent(t, s, EventUnregister, func(e Event) bool { return e.Endpoint == ep })
			if st, _ := sendWebPush(t, http.DefaultClient, app, ua, ep, []byte("late"), webpush.Options{TTL: 60}); st != http.StatusGone {
				t.Fatalf("push to %s after the reset: %d, want 410", ep, st)
			}
		}
		if st, _ := sendWebPush(t, http.DefaultClient, app, ua, untouched, []byte("still"), webpush.Options{TTL: 60}); st != 201 {
			t.Fatalf("push to another browser's subscription: %d, want 201", st)
		}

		// Back with its old uaid, Firefox is given a new one, and keeps it.
		back := dialFirefox(t, s, f.uaid)
		if back.uaid == f.uaid || back.uaid == "" {
			t.Fatalf("hello with the forgotten uaid answered with uaid %q, want a new one", back.uaid)
		}
		renewed := waitEvent(t, s, EventReset, func(e Event) bool { return e.Seq > reset.Seq })
		if renewed.Endpoint != endpoint || !strings.Contains(renewed.Detail, back.uaid) {
			t.Errorf("reset event %+v: want the fault's endpoint and the new uaid", renewed)
		}
		back.ws.CloseNow()
		again := dialFirefox(t, s, back.uaid)
		if again.uaid != back.uaid {
			t.Fatalf("hello with the new uaid answered with %q, want it kept", again.uaid)
		}
		// Subscribing again gives a working endpoint.
		fresh := again.register("chan-1", app.pub)
		if fresh == endpoint {
			t.Fatal("the forgotten endpoint came back")
		}
		if st, _ := sendWebPush(t, http.DefaultClient, app, ua, fresh, []byte("new"), webpush.Options{TTL: 60}); st != 201 {
			t.Fatalf("push to the new subscription: %d, want 201", st)
		}
	})
	t.Run("Firefox away", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		f := dialFirefox(t, s, "")
		endpoint := f.register("chan-1", app.pub)
		f.ws.CloseNow()
		waitEvent(t, s, EventDisconnect, func(Event) bool { return true })
		_, h := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("waiting"), webpush.Options{TTL: 600})
		waiting := h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]

		if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "reset"}); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, s, EventDrop, func(e Event) bool { return e.Message == waiting && e.Endpoint == endpoint })
		back := dialFirefox(t, s, f.uaid)
		if back.uaid == f.uaid {
			t.Fatal("hello with the forgotten uaid kept it")
		}
		back.expectNothingPending()
	})
	t.Run("Chromium", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		client := &http.Client{Transport: s.Transport(nil)}
		c := checkInChromium(t, s)
		endpoint := c.register(app.pub)
		sibling := c.registerAs("wp:http://127.0.0.1:1#2f0c1a52-9d3e-4b7a-8c61-0e5f4a3b2c1d-V2", app.pub)
		other := checkInChromium(t, s)
		untouched := other.register(app.pub)
		if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "reset"}); err != nil {
			t.Fatal(err)
		}
		reset := waitEvent(t, s, EventReset, func(e Event) bool { return e.Endpoint == endpoint })
		if !strings.Contains(reset.Detail, "not told") {
			t.Errorf("reset event %+v: want a detail saying Chromium is not told", reset)
		}
		for _, ep := range []string{endpoint, sibling} {
			if st, _ := sendWebPush(t, client, app, ua, ep, []byte("late"), webpush.Options{TTL: 60}); st != http.StatusGone {
				t.Fatalf("push to %s after the reset: %d, want 410", ep, st)
			}
		}
		if st, _ := sendWebPush(t, client, app, ua, untouched, []byte("still"), webpush.Options{TTL: 60}); st != 201 {
			t.Fatalf("push to another browser's subscription: %d, want 201", st)
		}
		again := c.register(app.pub)
		if again == endpoint || again == sibling {
			t.Fatal("a forgotten endpoint came back")
		}
		if st, _ := sendWebPush(t, client, app, ua, again, []byte("new"), webpush.Options{TTL: 60}); st != 201 {
			t.Fatalf("push to the new endpoint: %d, want 201", st)
		}
	})
}

// offlineEvents are the offline fault's events for endpoint, in order.
func offlineEvents(t *testing.T, s *Service, endpoint string) []string {
	t.Helper()
	var out []string
	for _, e := range eventsOf(t, s, EventOffline) {
		if e.Endpoint == endpoint {
			out = append(out, e.Detail)
		}
	}
	return out
}

func TestOfflineFaultFirefox(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := startService(t, withClock(clock))
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)

	if st := setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "offline", "seconds": 30}); st != 204 {
		t.Fatalf("POST /v1/faults: %d", st)
	}
	if _, err := f.tryRead(5 * time.Second); err == nil || isTimeout(err) {
		t.Fatalf("the connection after the offline fault: %v, want it dropped", err)
	}
	if ev := offlineEvents(t, s, endpoint); len(ev) != 1 || !strings.Contains(ev[0], "dropped") || !strings.Contains(ev[0], "30 s") {
		t.Fatalf("offline events %q: want one saying the connection was dropped for 30 s", ev)
	}

	// Meanwhile: a TTL 0 message is dropped, a TTL one waits, and of two
	// with one topic only the newer waits.
	send := func(text string, o webpush.Options) string {
		t.Helper()
		st, h := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte(text), o)
		if st != 201 {
			t.Fatalf("push %q while offline: %d, want 201", text, st)
		}
		return h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]
	}
	now := send("now or never", webpush.Options{TTL: 0})
	send("kept", webpush.Options{TTL: 60})
	older := send("score 1", webpush.Options{TTL: 60, Topic: "score"})
	newer := send("score 2", webpush.Options{TTL: 60, Topic: "score"})
	if e := waitEvent(t, s, EventDrop, func(e Event) bool { return e.Message == now }); e.Endpoint != endpoint {
		t.Errorf("drop event %+v: want the endpoint", e)
	}
	rep := waitEvent(t, s, EventReplace, func(e Event) bool { return e.Message == older })
	if rep.Endpoint != endpoint || !strings.Contains(rep.Detail, newer) {
		t.Errorf("replace event %+v: want the endpoint and the newer message %s", rep, newer)
	}

	// A reconnection is held: no hello reply while the window lasts.
	f2 := openFirefox(t, s)
	f2.sendHello(f.uaid)
	reply := f2.expectHeld(600 * time.Millisecond)
	if ev := offlineEvents(t, s, endpoint); len(ev) != 2 || !strings.Contains(ev[1], "held") {
		t.Fatalf("offline events %q: want the held reconnection", ev)
	}

	// The window ends: the held hello is answered, and the waiting
	// messages arrive, oldest first.
	clock.Add(30 * time.Second)
	f2.heldReply(reply)
	for _, want := range []string{"kept", "score 2"} {
		ch, version, data := f2.notification()
		if got := decrypt(t, ua, data); got != want {
			t.Fatalf("after the window: %q, want %q", got, want)
		}
		f2.ack(ch, version)
	}
	f2.expectNothingPending()
	back := waitEvent(t, s, EventConnect, func(e Event) bool { return e.Endpoint == endpoint })
	if !strings.Contains(back.Detail, "back after the offline fault") {
		t.Errorf("connect event %+v", back)
	}
	// And the browser stays online: a later reconnection is not held.
	f2.ws.CloseNow()
	dialFirefox(t, s, f.uaid)
}

func TestOfflineFaultChromium(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := startService(t, withClock(clock))
	app, ua := newAppServer(t), newUserAgent(t)
	client := &http.Client{Transport: s.Transport(nil)}
	c := checkInChromium(t, s)
	endpoint := c.register(app.pub)
	c.connect()
	waitEvent(t, s, EventConnect, func(e Event) bool { return e.Browser == Chromium })

	if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "offline", Seconds: 10}); err != nil {
		t.Fatal(err)
	}
	c.tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c.br); isTimeout(err) {
		t.Fatal("the MCS connection was not dropped")
	}
	waitEvent(t, s, EventDisconnect, func(e Event) bool { return e.Browser == Chromium })
	if st, _ := sendWebPush(t, client, app, ua, endpoint, []byte("dropped"), webpush.Options{TTL: 0}); st != 201 {
		t.Fatalf("TTL 0 push while offline: %d", st)
	}
	if st, _ := sendWebPush(t, client, app, ua, endpoint, []byte("kept"), webpush.Options{TTL: 60}); st != 201 {
		t.Fatalf("push while offline: %d", st)
	}

	// The login is held, unanswered, while the window lasts.
	c.sendLogin()
	c.tc.SetReadDeadline(time.Now().Add(600 * time.Millisecond))
	var ne net.Error
	if _, err := c.br.ReadByte(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("login during the offline window: %v, want it held", err)
	}
	clock.Add(10 * time.Second)
	c.loginResponse()
	if got := c.data(); decrypt(t, ua, got.rawData) != "kept" {
		t.Fatal("the waiting message did not arrive first after the window")
	}
	waitEvent(t, s, EventConnect, func(e Event) bool { return e.Endpoint == endpoint })
	if ev := offlineEvents(t, s, endpoint); len(ev) != 2 || !strings.Contains(ev[1], "held") {
		t.Errorf("offline events %q: want the drop, then the held reconnection", ev)
	}
}

func TestOfflineFaultClearedByDelete(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := startService(t, withClock(clock))
	app := newAppServer(t)
	f, endpoint := firefoxEndpoint(t, s, app.pub)
	setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "offline", "seconds": 600})
	f2 := openFirefox(t, s)
	f2.sendHello(f.uaid)
	reply := f2.expectHeld(400 * time.Millisecond)
	req, _ := http.NewRequest(http.MethodDelete, s.URL()+"/v1/faults", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f2.heldReply(reply) // within 5 s, with the clock never moved
	// The fault is over: that connection ended none, and says so.
	conn := waitEvent(t, s, EventConnect, func(e Event) bool { return strings.Contains(e.Detail, f.uaid) && e.Seq > 0 })
	for _, e := range eventsOf(t, s, EventConnect) {
		if e.Seq >= conn.Seq && e.Endpoint != "" {
			t.Errorf("connect event %+v after DELETE /v1/faults names the endpoint of a fault that was cleared", e)
		}
	}
}

func TestLatencyFault(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	const delay = 400 * time.Millisecond
	if st := setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "latency", "delayMs": delay.Milliseconds(), "count": 2}); st != 204 {
		t.Fatalf("POST /v1/faults: %d", st)
	}
	for i, want := range []time.Duration{delay, delay, 0} {
		start := time.Now()
		st, h := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("slow"), webpush.Options{TTL: 60})
		if st != 201 || time.Since(start) > delay/2 {
			t.Fatalf("push %d: %d after %v, want 201 at once", i+1, st, time.Since(start))
		}
		ch, version, _ := f.notification()
		took := time.Since(start)
		if took < want || (want == 0 && took > delay/2) {
			t.Fatalf("push %d handed over after %v, want %v", i+1, took, want)
		}
		f.ack(ch, version)
		id := h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]
		pushed := waitEvent(t, s, EventPush, func(e Event) bool { return e.Message == id })
		deliver := waitEvent(t, s, EventDeliver, func(e Event) bool { return e.Message == id })
		if d := deliver.Time.Sub(pushed.Time); d < want {
			t.Errorf("push %d: deliver event %v after the push event, want at least %v", i+1, d, want)
		}
		if want > 0 && (!strings.Contains(pushed.Detail, "latency") || !pushed.Handed || pushed.DelayMs != int(delay.Milliseconds())) {
			t.Errorf("push event %+v: want it handed over after the latency, named in its detail", pushed)
		}
	}
}

// heldRead is the outcome of a read of a held reconnection.
type heldRead struct {
	msg map[string]any
	err error
}

// expectHeld checks that nothing comes for d, and returns the read that
// goes on waiting. (A read given up would close coder/websocket's
// connection, so it is not given up.)
func (f *firefox) expectHeld(d time.Duration) <-chan heldRead {
	f.t.Helper()
	ch := make(chan heldRead, 1)
	go func() {
		m, err := f.tryRead(time.Minute)
		ch <- heldRead{m, err}
	}()
	select {
	case r := <-ch:
		f.t.Fatalf("got %v %v during the offline window, want the hello held", r.msg, r.err)
	case <-time.After(d):
	}
	return ch
}

// heldReply waits up to 5 s for the held read to bring the hello reply.
func (f *firefox) heldReply(ch <-chan heldRead) {
	f.t.Helper()
	select {
	case r := <-ch:
		if r.err != nil || r.msg["messageType"] != "hello" || r.msg["status"] != 200.0 {
			f.t.Fatalf("held hello answered %v %v", r.msg, r.err)
		}
	case <-time.After(5 * time.Second):
		f.t.Fatal("the held hello was not answered within 5 s of the window's end")
	}
}

// TestFaultNamesOnlyTheServicesEndpoints: a fault names a subscription only
// through an endpoint spelled as the service hands it out. Another URL
// ending in the same token (a Mozilla host, a spelling with another case or
// port, the other browser's path) arms nothing against it.
func TestFaultNamesOnlyTheServicesEndpoints(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	client := &http.Client{Transport: s.Transport(nil)}
	f := dialFirefox(t, s, "")
	ffEndpoint := f.register("chan-1", app.pub)
	ffToken := ffEndpoint[strings.LastIndex(ffEndpoint, "/")+1:]
	c := checkInChromium(t, s)
	crEndpoint := c.register(app.pub)
	crToken := crEndpoint[strings.LastIndex(crEndpoint, "/")+1:]
	port := s.URL()[strings.LastIndex(s.URL(), ":"):]

	for _, tt := range []struct {
		name, endpoint string
	}{
		{"Mozilla's host with the Firefox token", "https://updates.push.services.mozilla.com/wpush/" + ffToken},
		{"the scheme in capitals", "HTTP" + strings.TrimPrefix(ffEndpoint, "http")},
		{"localhost for 127.0.0.1", "http://localhost" + port + "/wpush/" + ffToken},
		{"a query after the token", ffEndpoint + "?x=1"},
		{"an escaped token", s.URL() + "/wpush/%" + strings.ToUpper(hex.EncodeToString([]byte(ffToken[:1]))) + ffToken[1:]},
		{"Chromium's path with the Firefox token", "https://fcm.googleapis.com/fcm/send/" + ffToken},
		{"Firefox's path with the Chromium token", s.URL() + "/wpush/" + crToken},
		{"FCM with its port written out", "https://fcm.googleapis.com:443/fcm/send/" + crToken},
		{"FCM's host in capitals", "https://FCM.googleapis.com/fcm/send/" + crToken},
		{"another host with the Chromium token", "https://push.example/fcm/send/" + crToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, kind := range []map[string]any{
				{"kind": "expire"}, {"kind": "offline", "seconds": 30}, {"kind": "latency", "delayMs": 5000},
			} {
				kind["endpoint"] = tt.endpoint
				b, _ := json.Marshal(kind)
				resp, err := http.Post(s.URL()+"/v1/faults", "application/json", bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				var got struct{ Error, Field string }
				json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				if resp.StatusCode != 400 || got.Field != "endpoint" {
					t.Errorf("%s: %d %+v, want 400 naming the endpoint", kind["kind"], resp.StatusCode, got)
				}
			}
			// A status fault through such a spelling never meets the
			// subscription.
			setFault(t, s, map[string]any{"endpoint": tt.endpoint, "kind": "500"})
		})
	}

	// Both subscriptions are untouched: no fault, no latency, connected.
	start := time.Now()
	if st, _ := sendWebPush(t, http.DefaultClient, app, ua, ffEndpoint, []byte("still here"), webpush.Options{TTL: 60}); st != 201 {
		t.Fatalf("Firefox push: %d, want 201", st)
	}
	if ch, version, _ := f.notification(); time.Since(start) > 2*time.Second {
		t.Errorf("Firefox's message came after %v: held back", time.Since(start))
	} else {
		f.ack(ch, version)
	}
	if st, _ := sendWebPush(t, client, app, ua, crEndpoint, []byte("still here"), webpush.Options{TTL: 60}); st != 201 {
		t.Fatalf("Chromium push: %d, want 201", st)
	}

	// The spellings the service hands out, or serves, do name them.
	for _, endpoint := range []string{
		"https://jmt17.google.com/fcm/send/" + crToken, // Debian's Chromium's host
		"https://fcm.googleapis.com/wp/" + crToken,
		s.URL() + "/fcm/send/" + crToken,
	} {
		if st := setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "503"}); st != 204 {
			t.Fatalf("POST /v1/faults for %s: %d, want 204", endpoint, st)
		}
		if st, _ := sendWebPush(t, client, app, ua, crEndpoint, []byte("faulted"), webpush.Options{TTL: 60}); st != 503 {
			t.Errorf("Chromium push after a fault armed for %s: %d, want 503", endpoint, st)
		}
	}
}

// TestFaultsGoWithTheirSubscription: the faults armed for a subscription are
// forgotten when it goes, and a latency fault needs a current subscription.
func TestFaultsGoWithTheirSubscription(t *testing.T) {
	s := startService(t)
	app := newAppServer(t)
	f := dialFirefox(t, s, "")
	arm := func(endpoint string) {
		t.Helper()
		for _, body := range []map[string]any{
			{"endpoint": endpoint, "kind": "500", "count": 3},
			{"endpoint": endpoint, "kind": "latency", "delayMs": 1000},
		} {
			if st := setFault(t, s, body); st != 204 {
				t.Fatalf("POST /v1/faults %v: %d", body, st)
			}
		}
	}
	t.Run("expired", func(t *testing.T) {
		endpoint := f.register("chan-expired", app.pub)
		arm(endpoint)
		if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "expire"}); err != nil {
			t.Fatal(err)
		}
		if n := s.faults.armed(); n != 0 {
			t.Errorf("%d faults left armed for an expired subscription", n)
		}
	})
	t.Run("unsubscribed", func(t *testing.T) {
		endpoint := f.register("chan-gone", app.pub)
		arm(endpoint)
		f.send(map[string]any{"messageType": "unregister", "channelID": "chan-gone", "code": 200})
		f.read()
		if n := s.faults.armed(); n != 0 {
			t.Errorf("%d faults left armed for an unsubscribed endpoint", n)
		}
	})
	t.Run("latency for no subscription", func(t *testing.T) {
		err := s.SetFault(FaultRequest{Endpoint: s.URL() + "/wpush/never-issued", Kind: "latency", DelayMs: 10})
		if !errors.Is(err, ErrUnknownSubscription) || s.faults.armed() != 0 {
			t.Errorf("SetFault: %v with %d armed; want ErrUnknownSubscription and nothing armed", err, s.faults.armed())
		}
	})
	t.Run("expire or offline of no subscription", func(t *testing.T) {
		for _, req := range []FaultRequest{
			{Endpoint: s.URL() + "/wpush/never-issued", Kind: "expire"},
			{Endpoint: s.URL() + "/wpush/never-issued", Kind: "offline", Seconds: 5},
		} {
			if err := s.SetFault(req); !errors.Is(err, ErrUnknownSubscription) {
				t.Errorf("%s: %v, want ErrUnknownSubscription", req.Kind, err)
			}
		}
	})
}

// TestClearLatency: a latency fault disarmed before any message took it
// holds back nothing.
func TestClearLatency(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "latency", DelayMs: 5000}); err != nil {
		t.Fatal(err)
	}
	s.ClearLatency(endpoint)
	start := time.Now()
	if st, _ := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("prompt"), webpush.Options{TTL: 60}); st != 201 {
		t.Fatalf("push: %d", st)
	}
	f.notification()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("handed over after %v: the cleared latency still held it", d)
	}
}

// TestResetFaultRaces checks the reset fault's two windows with Firefox's
// protocol: a register still arriving on the connection the fault is
// dropping, and a hello reply with the new uaid that is lost with its
// connection.
func TestResetFaultRaces(t *testing.T) {
	t.Run("register on the dropped connection", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		f := dialFirefox(t, s, "")
		endpoint := f.register("chan-1", app.pub)
		if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "reset"}); err != nil {
			t.Fatal(err)
		}
		// A register read off the old connection after the fault forgot
		// its uaid, before the connection ended: the connection's
		// goroutine handles it with the uaid it said hello with.
		register, _ := json.Marshal(map[string]any{"messageType": "register", "channelID": "chan-late", "key": app.pub})
		reply, err := s.handleMozMessage(f.uaid, register)
		if err == nil {
			ep, _ := reply.(map[string]any)["pushEndpoint"].(string)
			if ep != "" {
				st, _ := sendWebPush(t, http.DefaultClient, app, ua, ep, []byte("lost"), webpush.Options{TTL: 60})
				t.Fatalf("a register with the forgotten uaid got %v, and a push to it %d: a subscription of a browser that is gone", reply, st)
			}
			t.Fatalf("a register with the forgotten uaid: reply %v, want the connection ended", reply)
		}
		// The forgotten uaid is still renewed: Firefox still learns of the reset.
		back := dialFirefox(t, s, f.uaid)
		if back.uaid == f.uaid {
			t.Fatal("after a register on the dropped connection, the forgotten uaid was kept")
		}
	})
	t.Run("hello reply lost", func(t *testing.T) {
		s := startService(t)
		app := newAppServer(t)
		f := dialFirefox(t, s, "")
		endpoint := f.register("chan-1", app.pub)
		if err := s.SetFault(FaultRequest{Endpoint: endpoint, Kind: "reset"}); err != nil {
			t.Fatal(err)
		}
		// Firefox says hello with its old uaid, and the reply with the new
		// uaid is lost with the connection.
		lost := dialFirefox(t, s, f.uaid)
		lost.ws.CloseNow()
		// So it says hello with the old uaid again: still forgotten.
		again := dialFirefox(t, s, f.uaid)
		if again.uaid == f.uaid || again.uaid == "" {
			t.Fatalf("a second hello with the forgotten uaid was answered with %q, want a new uaid", again.uaid)
		}
		resets := eventsOf(t, s, EventReset)
		if len(resets) != 3 {
			t.Errorf("%d reset events, want 3 (the fault, and each hello answered with a new uaid)", len(resets))
		}
		// Once Firefox has said hello with the new uaid, it keeps it.
		again.ws.CloseNow()
		confirmed := dialFirefox(t, s, again.uaid)
		if confirmed.uaid != again.uaid {
			t.Fatalf("hello with the new uaid answered with %q, want it kept", confirmed.uaid)
		}
		fresh := confirmed.register("chan-1", app.pub)
		if fresh == endpoint || fresh == "" {
			t.Fatalf("register after the reset: %q", fresh)
		}
	})
}
