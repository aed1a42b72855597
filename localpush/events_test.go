package localpush

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// watchedDetails reads n events from a watch, failing when one is more
// than 5 s late, and returns their details.
func watchedDetails(t *testing.T, events <-chan Event, n int) []string {
	t.Helper()
	var got []string
	for range n {
		select {
		case e := <-events:
			got = append(got, e.Detail)
		case <-time.After(5 * time.Second):
			t.Fatalf("watched %v, then nothing", got)
		}
	}
	return got
}

func TestWatch(t *testing.T) {
	t.Run("in order from now on, closed by stop", func(t *testing.T) {
		s := startService(t)
		s.events.add(Event{Type: EventConnect, Detail: "before"})
		events, stop := s.Watch()
		for _, d := range []string{"a", "b", "c"} {
			s.events.add(Event{Type: EventConnect, Detail: d})
		}
		if got := watchedDetails(t, events, 3); strings.Join(got, ",") != "a,b,c" {
			t.Fatalf("watched %v, want a,b,c", got)
		}
		stop()
		stop() // twice is harmless
		if _, ok := <-events; ok {
			t.Fatal("the channel is still open after stop")
		}
		s.events.add(Event{Type: EventConnect}) // no watcher left to write to
	})
	t.Run("a slow watcher does not block the service", func(t *testing.T) {
		s := startService(t)
		slow, stop := s.Watch() // not read until the end
		defer stop()
		done := make(chan struct{})
		go func() {
			for i := range watcherBuffer + 50 {
				s.events.add(Event{Type: EventConnect, Detail: strconv.Itoa(i)})
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("recording events blocked on a watcher that does not read")
		}
		// The service goes on answering.
		if resp, err := http.Get(s.URL() + "/v1/events?since=0"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /v1/events: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		// The slow watcher has the oldest events, in order; it missed the
		// newest.
		for i := range watcherBuffer {
			if e := <-slow; e.Detail != strconv.Itoa(i) {
				t.Fatalf("slow watcher's event %d is %q", i, e.Detail)
			}
		}
		select {
		case e := <-slow:
			t.Fatalf("slow watcher got %q beyond its buffer", e.Detail)
		default:
		}
	})
	t.Run("a subscription's message events carry its endpoint", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		events, stop := s.Watch()
		defer stop()
		f := dialFirefox(t, s, "")
		endpoint := f.register("chan-1", app.pub)
		token, err := Token(endpoint)
		if err != nil {
			t.Fatal(err)
		}
		sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("hi"), webpush.Options{TTL: 60})
		ch, version, _ := f.notification()
		f.ack(ch, version)
		var types []string
		for len(types) < 4 {
			select {
			case e := <-events:
				if tok, _ := Token(e.Endpoint); tok == token {
					types = append(types, e.Type)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("watched %v for the subscription, then nothing", types)
			}
		}
		if got := strings.Join(types, ","); got != "register,push,deliver,ack" {
			t.Fatalf("the subscription's events %s, want register,push,deliver,ack", got)
		}
	})
}

func TestExpireEventWhenTTLRunsOut(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := startService(t, withClock(clock), func(s *Service) { s.sweepEvery = 10 * time.Millisecond })
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	f.ws.CloseNow()
	waitEvent(t, s, EventDisconnect, func(Event) bool { return true })
	_, h := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("soon stale"), webpush.Options{TTL: 30})
	id := h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]

	clock.Add(29 * time.Second)
	time.Sleep(100 * time.Millisecond) // ten sweeps
	if ev := eventsOf(t, s, EventExpire); len(ev) != 0 {
		t.Fatalf("expire events %+v before the TTL ran out", ev)
	}
	// Nothing else happens: the sweeper alone says so.
	clock.Add(time.Second)
	e := waitEvent(t, s, EventExpire, func(e Event) bool { return e.Message == id })
	if e.Endpoint != endpoint || e.Browser != Firefox || !strings.Contains(e.Detail, "TTL 30 s") {
		t.Errorf("expire event %+v", e)
	}
	dialFirefox(t, s, f.uaid).expectNothingPending()
	if n := len(eventsOf(t, s, EventExpire)); n != 1 {
		t.Errorf("%d expire events, want 1", n)
	}
}

// A message in the hands of the live connection is not waiting: its TTL
// running out before the ack is no expiry.
func TestNoExpireWhileDelivered(t *testing.T) {
	s := startService(t, func(s *Service) { s.sweepEvery = 10 * time.Millisecond })
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("now"), webpush.Options{TTL: 0})
	ch, version, _ := f.notification()
	time.Sleep(100 * time.Millisecond)
	f.ack(ch, version)
	ack := waitEvent(t, s, EventAck, func(e Event) bool { return e.Message == version })
	if strings.Contains(ack.Detail, "no such pending") || len(eventsOf(t, s, EventExpire)) != 0 {
		t.Fatalf("ack %+v, expire events %+v: a delivered TTL 0 message expired before its ack", ack, eventsOf(t, s, EventExpire))
	}
}

func TestFrames(t *testing.T) {
	t.Run("Firefox", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		f := dialFirefox(t, s, "")
		endpoint := f.register("chan-1", app.pub)
		sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("framed"), webpush.Options{TTL: 60})
		r := f.read()
		f.ack("chan-1", r["version"].(string))
		data := r["data"].(string)

		deliver := waitEvent(t, s, EventDeliver, func(e Event) bool { return e.Message == r["version"] })
		var frame map[string]any
		if err := json.Unmarshal([]byte(deliver.Frame), &frame); err != nil || !strings.Contains(deliver.Frame, "\n  ") {
			t.Fatalf("deliver frame %q: want indented JSON (%v)", deliver.Frame, err)
		}
		for _, k := range []string{"messageType", "channelID", "version", "ttl", "headers"} {
			if !equalJSON(frame[k], r[k]) {
				t.Errorf("frame %s = %v, written %v", k, frame[k], r[k])
			}
		}
		want := data[:16] + "… (" + strconv.Itoa(len(data)) + " characters)"
		if frame["data"] != want || strings.Contains(deliver.Frame, data) {
			t.Errorf("frame data %q, want %q", frame["data"], want)
		}

		ack := waitEvent(t, s, EventAck, func(e Event) bool { return e.Message == r["version"] })
		var af struct {
			MessageType string
			Updates     []struct {
				ChannelID, Version string
				Code               int
			}
		}
		if err := json.Unmarshal([]byte(ack.Frame), &af); err != nil || af.MessageType != "ack" ||
			len(af.Updates) != 1 || af.Updates[0].Code != 100 || af.Updates[0].Version != r["version"] {
			t.Errorf("ack frame %q (%v)", ack.Frame, err)
		}
	})
	t.Run("Chromium", func(t *testing.T) {
		s := startService(t)
		app, ua := newAppServer(t), newUserAgent(t)
		c := checkInChromium(t, s)
		endpoint := c.register(app.pub)
		c.connect()
		sendWebPush(t, &http.Client{Transport: s.Transport(nil)}, app, ua, endpoint, []byte("framed"), webpush.Options{TTL: 60})
		st := c.data()
		c.ack(st.persistentID)

		deliver := waitEvent(t, s, EventDeliver, func(e Event) bool { return e.Message == st.persistentID })
		var frame struct {
			Tag                  int
			ID, From, Category   string
			AppData              []struct{ Key, Value string } `json:"app_data"`
			PersistentID         string                        `json:"persistent_id"`
			StreamID             int                           `json:"stream_id"`
			LastStreamIDReceived int                           `json:"last_stream_id_received"`
			TTL                  int
			Sent                 int64
			RawData              string `json:"raw_data"`
			ImmediateAck         bool   `json:"immediate_ack"`
		}
		if err := json.Unmarshal([]byte(deliver.Frame), &frame); err != nil {
			t.Fatalf("deliver frame %q: %v", deliver.Frame, err)
		}
		b64 := base64.RawURLEncoding.EncodeToString(st.rawData)
		if frame.Tag != 8 || frame.PersistentID != st.persistentID || frame.From != app.pub || frame.Category != st.category ||
			frame.TTL != 60 || frame.StreamID < 2 || !frame.ImmediateAck || frame.Sent == 0 ||
			len(frame.AppData) != 2 || frame.AppData[0].Value != st.appData["subtype"] ||
			frame.RawData != b64[:16]+"… ("+strconv.Itoa(len(st.rawData))+" bytes)" {
			t.Errorf("deliver frame %s", deliver.Frame)
		}

		ack := waitEvent(t, s, EventAck, func(e Event) bool { return e.Message == st.persistentID })
		var af struct {
			Tag          int
			Message      string
			PersistentID string `json:"persistent_id"`
			StreamID     int    `json:"stream_id"`
		}
		if err := json.Unmarshal([]byte(ack.Frame), &af); err != nil || af.Tag != 7 || af.Message != "IqStanza SelectiveAck" ||
			af.PersistentID != st.persistentID || af.StreamID != frame.StreamID {
			t.Errorf("ack frame %q (%v)", ack.Frame, err)
		}
	})
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestMessageEventsNameTheirPushsEndpoint: the events about a message name
// the endpoint its push request was made to, whatever endpoint later pushes
// to the same subscription used (Chromium's token is served under two hosts).
func TestMessageEventsNameTheirPushsEndpoint(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	client := &http.Client{Transport: s.Transport(nil)}
	c := checkInChromium(t, s) // registered, never connected: messages wait
	fcm := c.register(app.pub)
	jmt := strings.Replace(fcm, "fcm.googleapis.com", "jmt17.google.com", 1)

	_, h := sendWebPush(t, client, app, ua, fcm, []byte("first"), webpush.Options{TTL: 60, Topic: "news"})
	first := h.Get("Location")[strings.LastIndex(h.Get("Location"), "/")+1:]
	if st, _ := sendWebPush(t, client, app, ua, jmt, []byte("second"), webpush.Options{TTL: 60, Topic: "news"}); st != 201 {
		t.Fatalf("push through the other host: %d", st)
	}
	rep := waitEvent(t, s, EventReplace, func(e Event) bool { return e.Message == first })
	if rep.Endpoint != fcm || rep.Headers["Topic"] != "news" || rep.TTL != 60 {
		t.Errorf("replace event %+v: want the replaced message's endpoint %s, its Topic and TTL", rep, fcm)
	}
	for _, e := range eventsOf(t, s, EventPush) {
		if e.Message == first && (e.Endpoint != fcm || e.TTL != 60 || e.Handed) {
			t.Errorf("push event %+v: want its own endpoint, TTL 60, waiting", e)
		}
	}
}

// pollEvents is GET /v1/events with a query; it returns the status, the
// decoded body and how long the answer took.
func pollEvents(t *testing.T, s *Service, query string) (int, map[string]any, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Get(s.URL() + "/v1/events?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, time.Since(start)
}

func TestEventsLongPoll(t *testing.T) {
	s := startService(t)
	s.events.add(Event{Type: EventConnect, Detail: "first"})

	t.Run("answers at once when there are events", func(t *testing.T) {
		st, body, d := pollEvents(t, s, "since=0&wait=30")
		if st != 200 || len(body["events"].([]any)) != 1 || d > time.Second {
			t.Fatalf("%d %v after %v", st, body, d)
		}
	})
	t.Run("waits for the next event", func(t *testing.T) {
		go func() {
			time.Sleep(300 * time.Millisecond)
			s.events.add(Event{Type: EventConnect, Detail: "later"})
		}()
		st, body, d := pollEvents(t, s, "since=1&wait=10")
		events := body["events"].([]any)
		if st != 200 || len(events) != 1 || events[0].(map[string]any)["detail"] != "later" {
			t.Fatalf("%d %v", st, body)
		}
		if d < 250*time.Millisecond || d > 5*time.Second {
			t.Fatalf("answered after %v, want when the event came (300 ms)", d)
		}
	})
	t.Run("answers empty when the wait is over", func(t *testing.T) {
		st, body, d := pollEvents(t, s, "since=2&wait=1")
		if st != 200 || body["events"] == nil || len(body["events"].([]any)) != 0 {
			t.Fatalf("%d %v", st, body)
		}
		if d < time.Second || d > 3*time.Second {
			t.Fatalf("answered after %v, want 1 s", d)
		}
	})
	for _, q := range []string{"wait=-1", "wait=31", "wait=1.5", "wait=x", "since=-1", "since=x&wait=1"} {
		t.Run("refuses "+q, func(t *testing.T) {
			st, body, _ := pollEvents(t, s, q)
			field := strings.SplitN(q, "=", 2)[0]
			if strings.HasPrefix(q, "since=x") {
				field = "since"
			}
			if st != 400 || body["field"] != field || body["error"] == "" {
				t.Fatalf("%d %v, want 400 naming %s", st, body, field)
			}
		})
	}
}

func TestEventsLongPollEndsWithTheService(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(t.Context()) }()
	<-s.Ready()
	answered := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		resp, err := http.Get(s.URL() + "/v1/events?since=0&wait=30")
		if err == nil {
			resp.Body.Close()
		}
		answered <- time.Since(start)
	}()
	time.Sleep(200 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-answered:
		if d > 3*time.Second {
			t.Fatalf("the long poll ended %v after it began", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll outlived the service")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
