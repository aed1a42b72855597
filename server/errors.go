//go:build !wasm

package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"pushstart/push"
)

// apiError is an error the client may see: an HTTP status, a message and,
// for bad input, the JSON field at fault.
type apiError struct {
	Status  int
	Message string
	Field   string
}

func (e *apiError) Error() string { return e.Message }

func badField(field, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: msg, Field: field}
}

// writeError is the one place errors become responses. Errors that are not
// an *apiError or a *push.FieldError are internal: logged, and answered
// with a generic 500 so no detail leaks.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var fe *push.FieldError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = badField(fe.Field, fe.Field+" "+fe.Message)
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Message: "internal error"}
	}
	if ae.Status >= 400 && ae.Status < 500 {
		s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", ae.Status, "field", ae.Field)
	}
	writeJSON(w, ae.Status, struct {
		Error string `json:"error"`
		Field string `json:"field,omitempty"`
	}{ae.Message, ae.Field})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// An error here means the client went away; nothing is left to do.
	_ = json.NewEncoder(w).Encode(v)
}
