package app

import (
	"errors"
	"net/http"

	goapp "github.com/maxence-charriere/go-app/v10/pkg/app"
)

// adminEnv is what the admin console's panels share: the client of the kit
// server's API, whose calls carry the session cookie the browser keeps, and
// what to do when the server no longer knows the session.
type adminEnv struct {
	api *apiClient
	// signedOut shows the sign-in form again. Call it on the UI goroutine
	// (inside ctx.Dispatch) when a call failed with signedOutError.
	signedOut func(goapp.Context)
}

// signedOutError reports whether err is the server's 401: the session
// expired or was ended elsewhere, and the admin must sign in again.
func signedOutError(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusUnauthorized
}
