package localpush

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"pushstart/internal/httpjson"
)

// faultHang is the fault kind that holds a push request open until the
// client gives up or the service closes.
const faultHang = "hang"

// FaultRequest is the body of POST /faults: the next Count push requests to
// Endpoint get the answer Kind instead of being processed.
type FaultRequest struct {
	Endpoint   string `json:"endpoint"`             // the endpoint URL as the browser gave it
	Kind       string `json:"kind"`                 // "410", "429", "500" (any status 400-599), "hang", "expire", "offline" or "latency"
	Count      int    `json:"count,omitempty"`      // how many requests (status kinds, hang) or messages (latency); default 1
	RetryAfter *int   `json:"retryAfter,omitempty"` // seconds for Retry-After on 429 and 503; default 1
	Seconds    int    `json:"seconds,omitempty"`    // offline: how long the browser's connection is refused (1 to 600)
	DelayMs    int    `json:"delayMs,omitempty"`    // latency: how long each of the next Count messages waits before it is handed to the browser (1 to 60000)
}

// SetFault arms a fault as POST /faults does, for a program that runs the
// service in-process.
func (s *Service) SetFault(req FaultRequest) error {
	token, ft, err := parseFault(req)
	if err != nil {
		return err
	}
	s.faults.set(token, ft)
	return nil
}

// Token returns the token that ends an endpoint of this service, whatever
// its host (Chromium's endpoints name FCM hosts): two endpoints name the same
// subscription when their tokens are equal.
func Token(endpoint string) (string, error) { return tokenOf(endpoint) }

// fault is an armed fault for one endpoint.
type fault struct {
	kind       string // faultHang or a status code as text
	status     int    // 0 for faultHang
	left       int
	retryAfter int
}

// faults holds the armed faults by endpoint token.
type faults struct {
	mu sync.Mutex
	m  map[string]*fault
}

// take consumes one request's worth of the fault armed for token, if any,
// returning a copy with left set to the requests still to be faulted.
func (f *faults) take(token string) (fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft := f.m[token]
	if ft == nil {
		return fault{}, false
	}
	ft.left--
	if ft.left <= 0 {
		delete(f.m, token)
	}
	return *ft, true
}

func (f *faults) set(token string, ft *fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*fault{}
	}
	f.m[token] = ft
}

func (f *faults) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.m)
}

// tokenOf returns the token of an endpoint URL of this service, whatever
// its host: Chromium's endpoints name FCM hosts.
func tokenOf(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("endpoint is not an absolute URL")
	}
	// The paths of the push resource, each followed by the endpoint's token.
	for _, p := range []string{"/wpush/", "/fcm/send/", "/wp/"} {
		if t, ok := strings.CutPrefix(u.Path, p); ok && t != "" && !strings.Contains(t, "/") {
			return t, nil
		}
	}
	return "", fmt.Errorf("endpoint path is not /wpush/<token>, /fcm/send/<token> or /wp/<token>")
}

// parseFault validates a FaultRequest.
func parseFault(req FaultRequest) (token string, ft *fault, err error) {
	token, err = tokenOf(req.Endpoint)
	if err != nil {
		return "", nil, err
	}
	ft = &fault{kind: req.Kind, left: req.Count, retryAfter: 1}
	if ft.left == 0 {
		ft.left = 1
	}
	if ft.left < 0 {
		return "", nil, fmt.Errorf("count must be positive")
	}
	if req.RetryAfter != nil {
		if *req.RetryAfter < 0 {
			return "", nil, fmt.Errorf("retryAfter must not be negative")
		}
		ft.retryAfter = *req.RetryAfter
	}
	if req.Kind != faultHang {
		n, err := strconv.Atoi(req.Kind)
		if err != nil || n < 400 || n > 599 {
			return "", nil, fmt.Errorf(`kind must be "hang" or an HTTP status 400-599 such as "410", "429" or "500"`)
		}
		ft.status = n
	}
	return token, ft, nil
}

// handleSetFault serves POST /faults.
func (s *Service) handleSetFault(w http.ResponseWriter, r *http.Request) {
	var req FaultRequest
	d := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil {
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON fault: " + err.Error()})
		return
	}
	if err := s.SetFault(req); err != nil {
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleClearFaults serves DELETE /faults: every armed fault is disarmed.
func (s *Service) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	s.faults.clear()
	w.WriteHeader(http.StatusNoContent)
}
