package localpush

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

func TestFirefoxSubscribePushAck(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)

	f := dialFirefox(t, s, "")
	if f.uaid == "" || len(f.uaid) > 128 {
		t.Fatalf("assigned uaid %q: want 1 to 128 characters", f.uaid)
	}
	endpoint := f.register("5f1b8a1e-3c4d-4e5f-9a0b-1c2d3e4f5a6b", app.paddedKey())
	if !strings.HasPrefix(endpoint, s.URL()+"/wpush/") {
		t.Fatalf("endpoint %q is not under %s/wpush/", endpoint, s.URL())
	}

	rec := &recorder{}
	plaintext := `{"title":"Hello","body":"from the local push service"}`
	status, h := sendWebPush(t, &http.Client{Transport: rec}, app, ua, endpoint, []byte(plaintext),
		webpush.Options{TTL: 60, Urgency: webpush.UrgencyHigh, Topic: "greeting"})
	if status != http.StatusCreated {
		t.Fatalf("push status %d, want 201", status)
	}
	if loc := h.Get("Location"); !strings.HasPrefix(loc, s.URL()+"/m/") {
		t.Errorf("Location %q, want a message URL under %s/m/", loc, s.URL())
	}

	ch, version, data := f.notification()
	if ch != "5f1b8a1e-3c4d-4e5f-9a0b-1c2d3e4f5a6b" {
		t.Errorf("notification channelID %q", ch)
	}
	if !bytes.Equal(data, rec.last()) {
		t.Fatalf("notification data (%d bytes) is not the request body (%d bytes)", len(data), len(rec.last()))
	}
	if got := decrypt(t, ua, data); got != plaintext {
		t.Fatalf("decrypted %q, want %q", got, plaintext)
	}
	f.ack(ch, version)

	ack := waitEvent(t, s, EventAck, func(e Event) bool { return e.Message == version })
	if ack.Endpoint != endpoint || ack.Browser != Firefox || !strings.Contains(ack.Detail, "100") {
		t.Errorf("ack event %+v", ack)
	}
	var types []string
	for _, e := range eventsOf(t, s, EventConnect, EventRegister, EventPush, EventDeliver, EventAck) {
		types = append(types, e.Type)
	}
	if got := strings.Join(types, ","); got != "connect,register,push,deliver,ack" {
		t.Errorf("events %s, want connect,register,push,deliver,ack", got)
	}
	push := eventsOf(t, s, EventPush)[0]
	if push.Status != 201 || push.Endpoint != endpoint || push.BodySize != len(data) ||
		push.Headers["TTL"] != "60" || push.Headers["Urgency"] != "high" || push.Headers["Topic"] != "greeting" {
		t.Errorf("push event %+v", push)
	}

	// An acknowledged message is not sent again on the next connection.
	f.ws.CloseNow()
	f2 := dialFirefox(t, s, f.uaid)
	f2.expectNothingPending()
}

func TestFirefoxHelloKeepsUAID(t *testing.T) {
	s := startService(t)
	f := dialFirefox(t, s, "0123456789abcdef0123456789abcdef")
	if f.uaid != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("uaid %q: the client's uaid must be echoed, or Firefox drops its subscriptions", f.uaid)
	}
	g := dialFirefox(t, s, "")
	if g.uaid == "" || g.uaid == f.uaid {
		t.Fatalf("new browser got uaid %q", g.uaid)
	}
}

func TestFirefoxOfflineQueueTTLAndTopic(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := startService(t, withClock(clock))
	app, ua := newAppServer(t), newUserAgent(t)

	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	f.ws.CloseNow()
	waitEvent(t, s, EventDisconnect, func(Event) bool { return true })

	send := func(text string, o webpush.Options) {
		t.Helper()
		if status, _ := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte(text), o); status != http.StatusCreated {
			t.Fatalf("push %q: status %d, want 201", text, status)
		}
	}
	send("dropped: TTL 0 while offline", webpush.Options{TTL: 0})
	send("replaced by a newer message of the same topic", webpush.Options{TTL: 600, Topic: "score"})
	send("TTL 0 while offline: dropped, and replaces nothing", webpush.Options{TTL: 0, Topic: "score"})
	send("expires before the browser returns", webpush.Options{TTL: 5})
	send("kept", webpush.Options{TTL: 600})
	send("kept too: its topic's other message was never kept", webpush.Options{TTL: 600, Topic: "weather"})
	send("TTL 0 while offline with that topic", webpush.Options{TTL: 0, Topic: "weather"})
	send("latest score", webpush.Options{TTL: 600, Topic: "score"})
	clock.Add(10 * time.Second)

	f2 := dialFirefox(t, s, f.uaid)
	var got []string
	for range 3 {
		ch, version, data := f2.notification()
		got = append(got, decrypt(t, ua, data))
		f2.ack(ch, version)
	}
	want := "kept|kept too: its topic's other message was never kept|latest score"
	if strings.Join(got, "|") != want {
		t.Fatalf("delivered on reconnect %q, want %q", strings.Join(got, "|"), want)
	}
	f2.expectNothingPending()

	drop := eventsOf(t, s, EventPush)[0]
	if !strings.Contains(drop.Detail, "dropped") || drop.Status != 201 {
		t.Errorf("TTL 0 push event %+v: want 201 and a detail saying it was dropped", drop)
	}
}

func TestFirefoxUnackedMessageRedeliveredOnReconnect(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("once more"), webpush.Options{TTL: 600})
	_, v1, _ := f.notification()
	f.ws.CloseNow() // no ack

	f2 := dialFirefox(t, s, f.uaid)
	_, v2, data := f2.notification()
	if v2 != v1 || decrypt(t, ua, data) != "once more" {
		t.Fatalf("redelivered version %q, want %q", v2, v1)
	}
}

// A message handed to a connection that died before acknowledging it is
// still undelivered: a newer one with its topic replaces it.
func TestFirefoxTopicReplacesMessageLostWithItsConnection(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("old score"), webpush.Options{TTL: 600, Topic: "score"})
	f.notification()
	f.ws.CloseNow() // no ack
	waitEvent(t, s, EventDisconnect, func(Event) bool { return true })
	sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("new score"), webpush.Options{TTL: 600, Topic: "score"})

	f2 := dialFirefox(t, s, f.uaid)
	ch, version, data := f2.notification()
	if got := decrypt(t, ua, data); got != "new score" {
		t.Fatalf("delivered %q on reconnect, want only the newer message of the topic", got)
	}
	f2.ack(ch, version)
	f2.expectNothingPending()
}

func TestFirefoxNewConnectionReplacesOld(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	f2 := dialFirefox(t, s, f.uaid)

	if _, err := f.tryRead(5 * time.Second); err == nil || isTimeout(err) {
		t.Fatalf("old connection: read %v, want it closed by the service", err)
	}
	sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("to the new one"), webpush.Options{TTL: 60})
	if _, _, data := f2.notification(); decrypt(t, ua, data) != "to the new one" {
		t.Fatal("wrong message on the new connection")
	}
}

func TestFirefoxUnregisterThenGone(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)

	f.send(map[string]any{"messageType": "unregister", "channelID": "chan-1", "code": 200})
	if r := f.read(); r["messageType"] != "unregister" || r["status"] != 200.0 {
		t.Fatalf("unregister reply %v", r)
	}
	if status, _ := sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("x"), webpush.Options{TTL: 60}); status != http.StatusGone {
		t.Fatalf("push to an unsubscribed endpoint: %d, want 410", status)
	}
	unknown := s.URL() + "/wpush/never-issued"
	if status, _ := sendWebPush(t, http.DefaultClient, app, ua, unknown, []byte("x"), webpush.Options{TTL: 60}); status != http.StatusNotFound {
		t.Fatalf("push to an unknown endpoint: %d, want 404", status)
	}
	if ev := eventsOf(t, s, EventUnregister); len(ev) != 1 || ev[0].Endpoint != endpoint {
		t.Errorf("unregister events %+v", ev)
	}
	if ev := eventsOf(t, s, EventReject); len(ev) != 2 || ev[0].Status != 410 || ev[1].Status != 404 {
		t.Errorf("reject events %+v, want 410 then 404", ev)
	}
}

func TestFirefoxNack(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	f := dialFirefox(t, s, "")
	endpoint := f.register("chan-1", app.pub)
	sendWebPush(t, http.DefaultClient, app, ua, endpoint, []byte("handler throws"), webpush.Options{TTL: 60})
	_, version, _ := f.notification()
	f.ack("chan-1", version)
	f.send(map[string]any{"messageType": "nack", "version": version, "code": 301})
	nack := waitEvent(t, s, EventNack, func(e Event) bool { return e.Message == version })
	if !strings.Contains(nack.Detail, "301") {
		t.Errorf("nack event %+v", nack)
	}
}

func TestFirefoxPing(t *testing.T) {
	s := startService(t)
	f := dialFirefox(t, s, "")
	f.expectNothingPending()
}

func TestFirefoxSecondHelloClosesConnection(t *testing.T) {
	s := startService(t)
	f := dialFirefox(t, s, "")
	f.send(map[string]any{"messageType": "hello", "use_webpush": true})
	if _, err := f.tryRead(5 * time.Second); err == nil || isTimeout(err) {
		t.Fatalf("read after a second hello: %v, want the connection closed", err)
	}
}
