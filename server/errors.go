//go:build !wasm

package server

import (
	"errors"
	"net/http"
	"time"

	"pushstart/api"
	"pushstart/internal/httpjson"
	"pushstart/push"
	"pushstart/server/store"
)

// apiError is an error the client may see: an HTTP status, a message and,
// for bad input, the JSON field at fault.
type apiError struct {
	Status     int
	Message    string
	Field      string
	RetryAfter time.Duration // sent as Retry-After when not zero (429)
}

func (e *apiError) Error() string { return e.Message }

func badField(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: msg, Field: field}
}

// sendError is a push that did not end in push.Sent: its result is the
// answer's body, with 410 for a subscription that is gone and 502 for
// everything the push service did not accept.
type sendError struct {
	result api.Result
}

func (e *sendError) Error() string { return "push " + string(e.result.Outcome) + ": " + e.result.Error }

func (e *sendError) status() int {
	if e.result.Outcome == push.Gone {
		return http.StatusGone
	}
	return http.StatusBadGateway
}

// writeError is the one place errors become responses. Errors that are not
// an *apiError, a *push.FieldError, a *sendError or store.ErrNotFound are
// internal: logged, and answered with a generic 500 so no detail leaks.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var fe *push.FieldError
	var se *sendError
	switch {
	case errors.As(err, &se):
		// The sender has logged why; this is the request's side.
		s.log.Debug("push not delivered", "method", r.Method, "path", r.URL.Path, "status", se.status(), "outcome", se.result.Outcome)
		httpjson.Write(w, se.status(), se.result)
		return
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = badField(fe.Field, fe.Field+" "+fe.Message)
	case errors.Is(err, store.ErrNotFound):
		// Only an endpoint the client named can be missing.
		ae = &apiError{Status: http.StatusNotFound, Field: "endpoint",
			Message: "endpoint is not subscribed on this server; enable notifications first"}
	case errors.Is(err, store.ErrBroadcastNotFound):
		ae = &apiError{Status: http.StatusNotFound, Message: "no broadcast has this id"}
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Message: "internal error"}
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(ae.RetryAfter))
	}
	if ae.Status >= 400 && ae.Status < 500 {
		// Routine: any client can ask for a refusal, as often as it likes.
		s.log.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "field", ae.Field)
	}
	httpjson.Write(w, ae.Status, api.Error{Error: ae.Message, Field: ae.Field})
}

// tooMany is the answer to a client over one of the limits.
func tooMany(retryAfter time.Duration, what string) *apiError {
	return &apiError{Status: http.StatusTooManyRequests, RetryAfter: retryAfter,
		Message: "too many requests: " + what + "; try again in " + retryAfterSeconds(retryAfter) + " s"}
}

// limit takes one request of key from l, or writes the 429 and returns false.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, l *keyedLimiter, key, what string) bool {
	ok, wait := l.allow(key)
	if !ok {
		s.writeError(w, r, tooMany(wait, what))
	}
	return ok
}
