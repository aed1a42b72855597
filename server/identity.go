//go:build !wasm

package server

import (
	"errors"
	"fmt"
	"net/http"

	"pushstart/push"
)

// UserID maps a request that saves a subscription to the ID of the user
// making it, so that a broadcast can be sent to some users (POST
// /api/notifications with "to": {"users": [...]}). It returns "" when the
// request has no user, and an error to refuse the request (answered 401).
//
// The kit has no sign-in, so it returns "" for every request. Replace its
// body with your application's own: read your session cookie or verify your
// JWT here (see the README, "Sending to users"). The user ID never comes
// from the request's body: a browser could claim to be anyone.
func UserID(r *http.Request) (string, error) {
	return "", nil
}

// identify returns the function that names a request's user: f, or UserID
// when f is nil, checked so that whatever it returns fits the store.
func identify(f func(*http.Request) (string, error)) func(*http.Request) (string, error) {
	if f == nil {
		f = UserID
	}
	return func(r *http.Request) (string, error) {
		id, err := f(r)
		if err != nil {
			return "", &apiError{Status: http.StatusUnauthorized, Message: "sign in to save a subscription"}
		}
		if id == "" {
			return "", nil
		}
		var fe *push.FieldError
		if errors.As(push.CheckUserID("", id), &fe) {
			return "", fmt.Errorf("the user ID of this request %s", fe.Message)
		}
		return id, nil
	}
}
