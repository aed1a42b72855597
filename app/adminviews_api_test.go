package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pushstart/api"
)

func statusEvent(t *testing.T, w io.Writer, status string, sent int) {
	t.Helper()
	fmt.Fprintf(w, "event: status\ndata: {\"id\":\"b1\",\"status\":%q,\"total\":2,\"sent\":%d}\n\n", status, sent)
	w.(http.Flusher).Flush()
}

func TestFollowBroadcastStreams(t *testing.T) {
	// The server sends the second event only once the client has seen
	// the first: the client must read events as they come, not at the end.
	seen := make(chan api.BroadcastStatus, 10)
	var accept, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept, path = r.Header.Get("Accept"), r.URL.EscapedPath()
		w.Header().Set("Content-Type", "text/event-stream")
		statusEvent(t, w, "sending", 1)
		select {
		case <-seen:
		case <-time.After(5 * time.Second):
			t.Error("the client did not see the first event before the stream went on")
			return
		}
		io.WriteString(w, ": keep-alive\n\nevent: other\ndata: {}\n\n")
		statusEvent(t, w, "done", 2)
	}))
	defer srv.Close()
	c := newAPIClient(srv.URL, srv.Client())
	var got []string
	err := c.followBroadcast(t.Context(), "b1", func(st api.BroadcastStatus) {
		got = append(got, fmt.Sprintf("%s %d", st.Status, st.Sent))
		seen <- st
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[sending 1 done 2]" {
		t.Errorf("statuses %q, want sending 1 then done 2", got)
	}
	if accept != "text/event-stream" || path != "/api/notifications/b1/events" {
		t.Errorf("request Accept %q path %q", accept, path)
	}
}

func TestFollowBroadcastFailures(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		check     func(error) bool
		statuses  int
		signedOut bool
	}{
		{
			name: "the stream ends before done",
			handler: func(w http.ResponseWriter, r *http.Request) {
				statusEvent(t, w, "sending", 1)
			},
			check:    func(err error) bool { return errors.Is(err, errStreamEnded) },
			statuses: 1,
		},
		{
			name: "the session ended",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(401)
				io.WriteString(w, `{"error":"sign in"}`)
			},
			check:     func(err error) bool { return err != nil },
			signedOut: true,
		},
		{
			name: "no such broadcast",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(404)
				io.WriteString(w, `{"error":"broadcast not found"}`)
			},
			check: func(err error) bool {
				var ae *apiError
				return errors.As(err, &ae) && ae.Status == 404 && strings.Contains(err.Error(), "broadcast not found")
			},
		},
		{
			name: "an event that is not JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "event: status\ndata: {oops\n\n")
			},
			check: func(err error) bool { return err != nil && strings.Contains(err.Error(), "reading an event") },
		},
		{
			name: "canceled ends the stream too",
			handler: func(w http.ResponseWriter, r *http.Request) {
				statusEvent(t, w, "canceled", 1)
			},
			check:    func(err error) bool { return err == nil },
			statuses: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := newAPIClient(srv.URL, srv.Client())
			n := 0
			err := c.followBroadcast(t.Context(), "b1", func(api.BroadcastStatus) { n++ })
			if !tt.check(err) {
				t.Errorf("err = %v", err)
			}
			if n != tt.statuses {
				t.Errorf("%d statuses, want %d", n, tt.statuses)
			}
			if signedOutError(err) != tt.signedOut {
				t.Errorf("signedOutError = %v, want %v", signedOutError(err), tt.signedOut)
			}
		})
	}
}

func TestFollowBroadcastStopsWithItsContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		statusEvent(t, w, "sending", 1)
		<-r.Context().Done() // a stream that never finishes by itself
	}))
	defer srv.Close()
	c := newAPIClient(srv.URL, srv.Client())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- c.followBroadcast(ctx, "b1", func(api.BroadcastStatus) { cancel() })
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream went on after its context ended (the panel left the page)")
	}
}

// recordingServer answers every request with status and reply, and keeps
// the last request's method and URI.
type recordingServer struct {
	status     int
	reply      string
	method, ur string
}

func (s *recordingServer) start(t *testing.T) *apiClient {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.method, s.ur = r.Method, r.URL.RequestURI()
		w.WriteHeader(s.status)
		io.WriteString(w, s.reply)
	}))
	t.Cleanup(srv.Close)
	return newAPIClient(srv.URL, srv.Client())
}

func TestAdminCalls(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		reply      string
		call       func(context.Context, *apiClient) (any, error)
		wantMethod string
		wantURI    string
		want       string // fmt %+v of the result
	}{
		{
			name: "first page of broadcasts", status: 200,
			reply: `{"broadcasts":[{"id":"b2","status":"sending","title":"Sale","total":3,"sent":1}],"next":"b2"}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				l, err := c.listBroadcasts(ctx, 20, "")
				return l, err
			},
			wantMethod: "GET", wantURI: "/api/notifications?limit=20",
			want: "{Broadcasts:[{ID:b2 Status:sending Title:Sale Audience: Total:3 Sent:1 Failed:0 Pruned:0 Skipped:0 CreatedAt:0001-01-01 00:00:00 +0000 UTC SendAt:<nil> StartedAt:<nil> FinishedAt:<nil>}] Next:b2}",
		},
		{
			name: "next page of broadcasts, empty", status: 200, reply: `{"broadcasts":null}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				l, err := c.listBroadcasts(ctx, 0, "b2")
				return len(l.Broadcasts) == 0 && l.Broadcasts != nil, err
			},
			wantMethod: "GET", wantURI: "/api/notifications?before=b2", want: "true",
		},
		{
			name: "one broadcast", status: 200, reply: `{"id":"b/1","status":"done"}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				b, err := c.broadcast(ctx, "b/1")
				return b.Status, err
			},
			wantMethod: "GET", wantURI: "/api/notifications/b%2F1", want: "done",
		},
		{
			name: "cancel", status: 200, reply: `{"id":"b1","status":"canceled","sent":4}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				b, err := c.cancelBroadcast(ctx, "b1")
				return fmt.Sprint(b.Status, " ", b.Sent), err
			},
			wantMethod: "DELETE", wantURI: "/api/notifications/b1", want: "canceled 4",
		},
		{
			name: "funnel", status: 200,
			reply: `{"id":"b1","sent":4,"shown":3,"clicked":1,"closed":1,"clickThrough":0.25,"byBrowser":[{"browser":"Firefox","shown":3,"clicked":1,"closed":1}],"actions":[{"key":"","count":1}]}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				f, err := c.funnel(ctx, "b1")
				return f, err
			},
			wantMethod: "GET", wantURI: "/api/notifications/b1/funnel",
			want: "{ID:b1 Sent:4 Shown:3 Clicked:1 Closed:1 ClickThrough:0.25 ByBrowser:[{Browser:Firefox Shown:3 Clicked:1 Closed:1}] Actions:[{Key: Count:1}]}",
		},
		{
			name: "funnel of nothing yet", status: 200, reply: `{"id":"b1"}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				f, err := c.funnel(ctx, "b1")
				return f.ByBrowser != nil && f.Actions != nil, err
			},
			wantMethod: "GET", wantURI: "/api/notifications/b1/funnel", want: "true",
		},
		{
			name: "subscription stats", status: 200,
			reply: `{"total":3,"byService":[{"key":"local","count":3}],"byBrowser":[{"key":"Chrome","count":2},{"key":"Firefox","count":1}],"byTag":[]}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				s, err := c.subscriptionStats(ctx)
				return s, err
			},
			wantMethod: "GET", wantURI: "/api/admin/subscriptions/stats",
			want: "{Total:3 ByService:[{Key:local Count:3}] ByBrowser:[{Key:Chrome Count:2} {Key:Firefox Count:1}] ByTag:[]}",
		},
		{
			name: "a page of subscriptions", status: 200,
			reply: `{"subscriptions":[{"id":7,"endpointHash":"ab12","host":"127.0.0.1:7100","service":"local","browser":"Firefox","userAgent":"Mozilla/5.0","tags":["news"],"createdAt":"2025-01-02T03:04:05Z"}],"next":"7"}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				p, err := c.subscriptionPage(ctx, 50, "9")
				return fmt.Sprintf("%v %v %v %v", len(p.Subscriptions), p.Subscriptions[0].ID, p.Subscriptions[0].Tags, p.Next), err
			},
			wantMethod: "GET", wantURI: "/api/admin/subscriptions?before=9&limit=50", want: "1 7 [news] 7",
		},
		{
			name: "delete a subscription", status: 204,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				return nil, c.deleteSubscriptionByID(ctx, 42)
			},
			wantMethod: "DELETE", wantURI: "/api/admin/subscriptions/42", want: "<nil>",
		},
		{
			name: "deliveries with every filter", status: 200,
			reply: `{"deliveries":[{"id":5,"broadcastId":"b1","endpointHash":"ab12","host":"h","service":"fcm","outcome":"gone","status":410,"attempts":1,"at":"2025-01-02T03:04:05Z"}]}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				p, err := c.deliveryPage(ctx, deliveryFilter{Broadcast: "b1", Outcome: "gone", Service: "fcm"}, 50, "9")
				return fmt.Sprintf("%v %v %v %v", len(p.Deliveries), p.Deliveries[0].Outcome, p.Deliveries[0].Status, p.Next == ""), err
			},
			wantMethod: "GET", wantURI: "/api/admin/deliveries?before=9&broadcast=b1&limit=50&outcome=gone&service=fcm", want: "1 gone 410 true",
		},
		{
			name: "deliveries with no filter", status: 200, reply: `{}`,
			call: func(ctx context.Context, c *apiClient) (any, error) {
				p, err := c.deliveryPage(ctx, deliveryFilter{}, 50, "")
				return p.Deliveries != nil, err
			},
			wantMethod: "GET", wantURI: "/api/admin/deliveries?limit=50", want: "true",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &recordingServer{status: tt.status, reply: tt.reply}
			c := s.start(t)
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			if s.method != tt.wantMethod || s.ur != tt.wantURI {
				t.Errorf("request %s %s, want %s %s", s.method, s.ur, tt.wantMethod, tt.wantURI)
			}
			if g := fmt.Sprintf("%+v", got); g != tt.want {
				t.Errorf("got  %s\nwant %s", g, tt.want)
			}
		})
	}
}

func TestAdminCallErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		reply     string
		wantErr   string
		signedOut bool
	}{
		{name: "the session ended", status: 401, reply: `{"error":"sign in again"}`, wantErr: "401 Unauthorized: sign in again", signedOut: true},
		{name: "a bad filter names its field", status: 400, reply: `{"error":"unknown outcome","field":"outcome"}`, wantErr: "outcome: unknown outcome"},
		{name: "not JSON", status: 200, reply: `<html>`, wantErr: "reading the answer"},
		{name: "an answer too long", status: 200, reply: `{"deliveries":[` + strings.Repeat(" ", maxReplyBytes) + `]}`, wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &recordingServer{status: tt.status, reply: tt.reply}
			c := s.start(t)
			_, err := c.deliveryPage(t.Context(), deliveryFilter{Outcome: "x"}, 50, "")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
			}
			if signedOutError(err) != tt.signedOut {
				t.Errorf("signedOutError = %v, want %v", signedOutError(err), tt.signedOut)
			}
		})
	}
}
