package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pushstart/api"
)

// testToken is the admin token the fake API accepts.
const testToken = "test-admin-token-0123456789"

// request is one request the fake API received.
type request struct {
	Method, Path  string
	Authorization string
	ContentType   string
	Accept        string
	Body          []byte
}

// fakeAPI stands in for the server's admin API in the client's tests: it
// records every request and answers as the API does, from a script.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu   sync.Mutex
	reqs []request

	// created answers POST /api/notifications (202, with Location).
	created api.BroadcastStatus
	// status answers GET and DELETE /api/notifications/{id}; statuses,
	// when not empty, answers GETs one after another instead.
	status   api.BroadcastStatus
	statuses []api.BroadcastStatus
	// streams are the events of each connection to .../events, one after
	// another; a connection past the last gets an empty stream.
	streams [][]api.BroadcastStatus
	// eventsDown, when set, is the status every connection to .../events
	// gets instead, as from a proxy whose server is restarting.
	eventsDown int
	// hang keeps each stream open after its events until the client goes.
	hang bool
	// refuse, when Status is set, answers every request.
	refuse struct {
		Status int
		Body   api.Error
	}
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathNotifications, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", broadcastPath(f.created.ID))
		writeJSON(w, http.StatusAccepted, f.created)
	})
	mux.HandleFunc("GET "+api.PathNotification, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		s := f.status
		if len(f.statuses) > 0 {
			s, f.statuses = f.statuses[0], f.statuses[1:]
		}
		f.mu.Unlock()
		if s.ID != r.PathValue("id") {
			writeJSON(w, http.StatusNotFound, api.Error{Error: "no broadcast " + r.PathValue("id")})
			return
		}
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("DELETE "+api.PathNotification, func(w http.ResponseWriter, r *http.Request) {
		s := f.status
		s.Status = api.StatusCanceled
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("GET "+api.PathNotification+"/events", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		var events []api.BroadcastStatus
		if len(f.streams) > 0 {
			events, f.streams = f.streams[0], f.streams[1:]
		}
		down, hang := f.eventsDown, f.hang
		f.mu.Unlock()
		if down != 0 {
			writeJSON(w, down, api.Error{Error: "the server is restarting"})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, ": connected\n\n")
		w.(http.Flusher).Flush()
		for _, s := range events {
			b, _ := json.Marshal(s)
			fmt.Fprintf(w, "event: status\ndata: %s\n\n", b)
			w.(http.Flusher).Flush()
		}
		if hang {
			<-r.Context().Done()
		}
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{
			Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"), Accept: r.Header.Get("Accept"), Body: body,
		})
		refuse := f.refuse
		f.mu.Unlock()
		if refuse.Status != 0 {
			writeJSON(w, refuse.Status, refuse.Body)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pushstart admin"`)
			writeJSON(w, http.StatusUnauthorized, api.Error{Error: "admin token required: Authorization: Bearer <ADMIN_TOKEN>"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// requests returns what the fake API received so far.
func (f *fakeAPI) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// result is what one run of a command printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// testPolicy follows events with short waits.
var testPolicy = followPolicy{Delay: time.Millisecond, Attempts: 3, Idle: time.Minute}

// run runs the pushstart subcommand in args with env as its environment
// and stdin as its input.
func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	return runWith(t, t.Context(), testPolicy, env, stdin, args...)
}

// runWith is run with a context and, for send, a follow policy.
func runWith(t *testing.T, ctx context.Context, policy followPolicy, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	sys := IO{
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
	}
	var code int
	if len(args) > 0 && args[0] == "send" {
		code = send(ctx, args[1:], sys, policy)
	} else {
		var ok bool
		if code, ok = Main(ctx, args, sys); !ok {
			t.Fatalf("Main(%q) ran no command", args)
		}
	}
	return result{code, stdout.String(), stderr.String()}
}

// env is the environment of a send against f.
func (f *fakeAPI) env() map[string]string {
	return map[string]string{"PUSHSTART_URL": f.srv.URL, "ADMIN_TOKEN": testToken}
}
