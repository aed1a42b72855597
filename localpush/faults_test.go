package localpush

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// setFault arms a fault through POST /faults and returns the status.
func setFault(t *testing.T, s *Service, body any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(s.URL()+"/faults", "application/json", bytes.NewReader(b))
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
			t.Fatalf("POST /faults: %d", st)
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
	t.Run("cleared by DELETE /faults", func(t *testing.T) {
		setFault(t, s, map[string]any{"endpoint": endpoint, "kind": "500", "count": 5})
		req, _ := http.NewRequest(http.MethodDelete, s.URL()+"/faults", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("DELETE /faults: %v %v", resp, err)
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
