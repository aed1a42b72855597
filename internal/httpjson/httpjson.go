// Package httpjson writes JSON answers, the same way for the kit's API and
// the local push service's.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers with status and v as JSON. API answers describe state that
// changes, so no cache keeps them.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// An error here means the client went away; nothing is left to do.
	_ = json.NewEncoder(w).Encode(v)
}
