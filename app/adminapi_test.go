package app

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"pushstart/api"
	"pushstart/push"
)

func TestAdminSession(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		reply    string
		signedIn bool
		err      string
	}{
		{name: "signed in", status: 200, reply: `{"expiresAt":"2026-05-01T12:00:00Z"}`, signedIn: true},
		{name: "no session", status: 401, reply: `{"error":"sign in first"}`},
		{name: "server failing", status: 500, reply: `{"error":"internal error"}`, err: "500 Internal Server Error: internal error"},
		{name: "not JSON", status: 200, reply: `yes`, err: "reading the answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{status: tt.status, reply: tt.reply}
			c := f.start(t)
			s, ok, err := c.adminSession(t.Context())
			if f.method != "GET" || f.path != "/api/admin/session" {
				t.Fatalf("request was %s %s", f.method, f.path)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || ok != tt.signedIn {
				t.Fatalf("adminSession = %v, %v; want signed in %v", ok, err, tt.signedIn)
			}
			if ok && !s.ExpiresAt.Equal(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)) {
				t.Errorf("expires at %v", s.ExpiresAt)
			}
		})
	}
}

func TestSignIn(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		f := &fakeServer{status: 200, reply: `{"expiresAt":"2026-05-01T12:00:00Z"}`}
		c := f.start(t)
		s, err := c.signIn(t.Context(), "s3cret token")
		if err != nil || s.ExpiresAt.IsZero() {
			t.Fatalf("signIn = %+v, %v", s, err)
		}
		if f.method != "POST" || f.path != "/api/admin/session" || string(f.body) != `{"token":"s3cret token"}` {
			t.Fatalf("request was %s %s %s", f.method, f.path, f.body)
		}
	})
	tests := []struct {
		name   string
		status int
		reply  string
		header http.Header
		want   string
	}{
		{name: "wrong token", status: 401, reply: `{"error":"wrong admin token","field":"token"}`, want: "wrong admin token"},
		{name: "too many tries", status: 429, reply: `{"error":"too many requests: wrong admin tokens; try again in 42 s"}`,
			header: http.Header{"Retry-After": {"42"}}, want: "Too many wrong tokens from this address: wait 42 seconds, then try again."},
		{name: "too many tries, no Retry-After", status: 429, reply: `{"error":"too many requests"}`, want: "too many requests"},
		{name: "not the API", status: 502, reply: `Bad Gateway`, want: "Bad Gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{status: tt.status, reply: tt.reply, header: tt.header}
			c := f.start(t)
			_, err := c.signIn(t.Context(), "tok-Zq81")
			if err == nil {
				t.Fatal("signIn succeeded")
			}
			if got := signInError(err); got != tt.want {
				t.Errorf("the form says %q, want %q", got, tt.want)
			}
			if strings.Contains(err.Error(), "tok-Zq81") {
				t.Errorf("the error repeats the token: %v", err)
			}
		})
	}
}

func TestSignOut(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ok     bool
	}{
		{"ended", 204, true},
		{"already ended", 401, true},
		{"refused", 403, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{status: tt.status, reply: `{"error":"x"}`}
			c := f.start(t)
			err := c.signOut(t.Context())
			if f.method != "DELETE" || f.path != "/api/admin/session" {
				t.Fatalf("request was %s %s", f.method, f.path)
			}
			if (err == nil) != tt.ok {
				t.Errorf("signOut = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestSubmitBroadcast(t *testing.T) {
	ttl := 60
	b := api.Broadcast{Notification: &push.Notification{Title: "Hi"}, TTL: &ttl, Urgency: "high",
		To: &api.Audience{Tags: []string{"news"}}}
	t.Run("accepted", func(t *testing.T) {
		f := &fakeServer{status: 202, reply: `{"id":"b1","status":"queued","title":"Hi","audience":"tags: news","total":2,"sent":0,"failed":0,"pruned":0,"skipped":0,"createdAt":"2026-05-01T12:00:00Z"}`}
		c := f.start(t)
		st, err := c.submitBroadcast(t.Context(), b)
		if err != nil || st.ID != "b1" || st.Status != api.StatusQueued || st.Total != 2 {
			t.Fatalf("submitBroadcast = %+v, %v", st, err)
		}
		want := `{"notification":{"title":"Hi"},"ttl":60,"urgency":"high","topic":"","to":{"tags":["news"]}}`
		if f.method != "POST" || f.path != "/api/notifications" || string(f.body) != want {
			t.Fatalf("request was %s %s %s", f.method, f.path, f.body)
		}
	})
	t.Run("refused at a field", func(t *testing.T) {
		f := &fakeServer{status: 400, reply: `{"error":"to.tags[0] \"x y\" may hold only a-z 0-9 - _","field":"to.tags[0]"}`}
		c := f.start(t)
		_, err := c.submitBroadcast(t.Context(), b)
		var ae *apiError
		if !errors.As(err, &ae) || ae.Field != "to.tags[0]" || (composeForm{}).inputFor(ae.Field) != inputTags {
			t.Fatalf("err = %v, want one at to.tags[0], shown at the tags input", err)
		}
	})
	t.Run("session over", func(t *testing.T) {
		f := &fakeServer{status: 401, reply: `{"error":"admin token required"}`}
		c := f.start(t)
		if _, err := c.submitBroadcast(t.Context(), b); !signedOutError(err) {
			t.Fatalf("err = %v, want the sign-in form again", err)
		}
	})
	t.Run("no id", func(t *testing.T) {
		f := &fakeServer{status: 202, reply: `{}`}
		c := f.start(t)
		if _, err := c.submitBroadcast(t.Context(), b); err == nil || !strings.Contains(err.Error(), `no "id"`) {
			t.Fatalf("err = %v", err)
		}
	})
}
