package app

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"pushstart/api"
	"pushstart/push"
)

// fakeServer answers like the kit server would, recording the last request.
type fakeServer struct {
	status int
	reply  string
	header http.Header // sent with the answer
	method string
	path   string
	ctype  string
	body   []byte
}

func (f *fakeServer) start(t *testing.T) *apiClient {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.method, f.path, f.ctype = r.Method, r.URL.Path, r.Header.Get("Content-Type")
		f.body, _ = io.ReadAll(r.Body)
		for k, v := range f.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		io.WriteString(w, f.reply)
	}))
	t.Cleanup(srv.Close)
	return newAPIClient(srv.URL+"/", srv.Client())
}

func TestVAPIDPublicKey(t *testing.T) {
	f := &fakeServer{status: 200, reply: `{"publicKey":"` + keyA + `","publicUrl":"https://push.example.com"}`}
	c := f.start(t)
	key, ex, err := c.vapidPublicKey(t.Context())
	if err != nil || key.PublicKey != keyA || key.PublicURL != "https://push.example.com" {
		t.Fatalf("vapidPublicKey = %+v, %v", key, err)
	}
	if f.method != "GET" || f.path != "/api/vapid-public-key" {
		t.Fatalf("request was %s %s", f.method, f.path)
	}
	if exchangeTitle(ex) != "GET /api/vapid-public-key → 200 OK" {
		t.Fatalf("flow log title %q", exchangeTitle(ex))
	}

	f.reply = `{}`
	if _, _, err := c.vapidPublicKey(t.Context()); err == nil || !strings.Contains(err.Error(), `no "publicKey"`) {
		t.Fatalf("empty answer: %v", err)
	}
}

func TestSaveSubscriptionSendsToJSON(t *testing.T) {
	exp := int64(1700000000000)
	sub := api.Subscription{Endpoint: "https://push.example/abc", ExpirationTime: &exp,
		Keys: api.Keys{P256dh: keyA, Auth: "BTBZMqHH6r4Tts7J_aSIgg"}}
	for _, tt := range []struct {
		name    string
		status  int
		created bool
	}{{"new", 201, true}, {"known", 200, false}} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{status: tt.status, reply: `{"endpoint":"https://push.example/abc","created":true}`}
			c := f.start(t)
			saved, _, err := c.saveSubscription(t.Context(), sub)
			if err != nil || saved.Created != tt.created {
				t.Fatalf("saveSubscription = %+v, %v; want created %v", saved, err, tt.created)
			}
			if f.method != "POST" || f.path != "/api/subscriptions" || f.ctype != "application/json" {
				t.Fatalf("request was %s %s (%s)", f.method, f.path, f.ctype)
			}
			var got map[string]any
			if err := json.Unmarshal(f.body, &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"endpoint":       "https://push.example/abc",
				"expirationTime": float64(exp),
				"keys":           map[string]any{"p256dh": keyA, "auth": "BTBZMqHH6r4Tts7J_aSIgg"},
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if string(gb) != string(wb) {
				t.Fatalf("body %s, want %s", gb, wb)
			}
		})
	}
}

func TestSaveSubscriptionReadsTheStoredTopics(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		want  []string
	}{
		{name: "topics", reply: `{"endpoint":"https://push.example/abc","created":false,"tags":["news","reminders"]}`, want: []string{"news", "reminders"}},
		{name: "none", reply: `{"endpoint":"https://push.example/abc","created":false,"tags":[]}`, want: []string{}},
		{name: "a server without topics", reply: `{"endpoint":"https://push.example/abc","created":false}`, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{status: 200, reply: tt.reply}
			c := f.start(t)
			saved, _, err := c.saveSubscription(t.Context(), api.Subscription{Endpoint: "https://push.example/abc"})
			if err != nil {
				t.Fatal(err)
			}
			if saved.Tags == nil || !slices.Equal(saved.Tags, tt.want) {
				t.Errorf("tags %#v, want %#v", saved.Tags, tt.want)
			}
		})
	}
	t.Run("not JSON", func(t *testing.T) {
		f := &fakeServer{status: 200, reply: `stored`}
		c := f.start(t)
		_, _, err := c.saveSubscription(t.Context(), api.Subscription{Endpoint: "https://push.example/abc"})
		var ae *apiError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), "reading the answer") {
			t.Fatalf("err = %v, want an *apiError about the answer", err)
		}
	})
}

func TestSaveSubscriptionSendsTags(t *testing.T) {
	tests := []struct {
		name string
		tags *[]string
		want string
	}{
		{name: "absent keeps them", tags: nil, want: `{"endpoint":"https://push.example/abc","expirationTime":null,"keys":{"p256dh":"","auth":""}}`},
		{name: "empty clears them", tags: &[]string{}, want: `{"endpoint":"https://push.example/abc","expirationTime":null,"keys":{"p256dh":"","auth":""},"tags":[]}`},
		{name: "a list replaces them", tags: &[]string{"news"}, want: `{"endpoint":"https://push.example/abc","expirationTime":null,"keys":{"p256dh":"","auth":""},"tags":["news"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{status: 200, reply: `{"endpoint":"https://push.example/abc","created":false,"tags":[]}`}
			c := f.start(t)
			if _, _, err := c.saveSubscription(t.Context(), api.Subscription{Endpoint: "https://push.example/abc", Tags: tt.tags}); err != nil {
				t.Fatal(err)
			}
			if string(f.body) != tt.want {
				t.Errorf("body %s, want %s", f.body, tt.want)
			}
		})
	}
}

func TestServerErrorsNameTheField(t *testing.T) {
	f := &fakeServer{status: 400, reply: `{"error":"must be 65 bytes","field":"keys.p256dh"}`}
	c := f.start(t)
	_, ex, err := c.saveSubscription(t.Context(), api.Subscription{Endpoint: "https://push.example/x"})
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *apiError", err)
	}
	want := "POST /api/subscriptions answered 400 Bad Request: keys.p256dh: must be 65 bytes"
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if !strings.Contains(exchangeDetail(ex), `"field": "keys.p256dh"`) {
		t.Fatalf("flow log detail does not show the answer:\n%s", exchangeDetail(ex))
	}
}

func TestDeleteSubscription(t *testing.T) {
	f := &fakeServer{status: 204}
	c := f.start(t)
	ex, err := c.deleteSubscription(t.Context(), "https://push.example/abc")
	if err != nil {
		t.Fatal(err)
	}
	if f.method != "DELETE" || string(f.body) != `{"endpoint":"https://push.example/abc"}` {
		t.Fatalf("request was %s %s", f.method, f.body)
	}
	if !strings.Contains(exchangeDetail(ex), "204, empty body") {
		t.Fatalf("detail: %s", exchangeDetail(ex))
	}
}

func TestSendTest(t *testing.T) {
	n := push.Notification{Title: "Hi", Body: "there", Tag: testTag, Data: json.RawMessage(`{"url":"/"}`)}
	t.Run("sent", func(t *testing.T) {
		f := &fakeServer{status: 200, reply: `{"outcome":"sent","status":201,"attempts":1,"pruned":false}`}
		c := f.start(t)
		res, _, err := c.sendTest(t.Context(), api.TestSend{Endpoint: "https://push.example/abc", Notification: &n})
		if err != nil || res.Outcome != "sent" || res.Status != 201 {
			t.Fatalf("sendTest = %+v, %v", res, err)
		}
		var body struct {
			Endpoint     string            `json:"endpoint"`
			Notification push.Notification `json:"notification"`
		}
		if err := json.Unmarshal(f.body, &body); err != nil {
			t.Fatal(err)
		}
		if f.path != "/api/subscriptions/test" || body.Endpoint != "https://push.example/abc" || body.Notification.Title != "Hi" || string(body.Notification.Data) != `{"url":"/"}` {
			t.Fatalf("request %s %s", f.path, f.body)
		}
		if strings.Contains(string(f.body), "ttl") || strings.Contains(string(f.body), "topic") || strings.Contains(string(f.body), "slowMotion") {
			t.Errorf("a plain test send names headers it does not set: %s", f.body)
		}
	})
	t.Run("TTL 0, a topic, slow motion", func(t *testing.T) {
		f := &fakeServer{status: 200, reply: `{"outcome":"sent","status":201,"attempts":1,"pruned":false}`}
		c := f.start(t)
		zero := 0
		if _, _, err := c.sendTest(t.Context(), api.TestSend{Endpoint: "https://push.example/abc", Notification: &n, TTL: &zero, Topic: "flow-demo", SlowMotion: true}); err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal(f.body, &body); err != nil {
			t.Fatal(err)
		}
		// TTL 0 must go as 0: left out, the server would use its default.
		if body["ttl"] != 0.0 || body["topic"] != "flow-demo" || body["slowMotion"] != true {
			t.Errorf("request %s, want ttl 0, topic flow-demo, slowMotion true", f.body)
		}
	})
	t.Run("gone", func(t *testing.T) {
		f := &fakeServer{status: 502, reply: `{"outcome":"gone","status":410,"attempts":1,"pruned":true,"error":"push service answered 410"}`}
		c := f.start(t)
		res, ex, err := c.sendTest(t.Context(), api.TestSend{Endpoint: "https://push.example/abc", Notification: &n})
		if err == nil || !res.Pruned || ex.Status != 502 {
			t.Fatalf("sendTest = %+v, %v", res, err)
		}
		for _, want := range []string{`outcome "gone"`, "status 410", "click Subscribe again"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		f := &fakeServer{status: 404, reply: `{"error":"subscription not found"}`}
		c := f.start(t)
		_, _, err := c.sendTest(t.Context(), api.TestSend{Endpoint: "https://push.example/abc", Notification: &n})
		if err == nil || !strings.Contains(err.Error(), "404 Not Found: subscription not found") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c := newAPIClient(base, nil)
	_, ex, err := c.vapidPublicKey(t.Context())
	if err == nil || ex.Status != 0 || !strings.Contains(err.Error(), "got no answer") {
		t.Fatalf("err = %v, status %d", err, ex.Status)
	}
	if exchangeTitle(ex) != "GET /api/vapid-public-key → no answer" {
		t.Fatalf("title %q", exchangeTitle(ex))
	}
}
