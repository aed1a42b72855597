//go:build !wasm

package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"pushstart/api"
	"pushstart/internal/httpjson"
	"pushstart/push"
	"pushstart/server/admin"
	"pushstart/server/store"
)

// Signing in to the admin console: the admin token is exchanged once for a
// session cookie, so the page never keeps the token. The admin API takes the
// cookie or the token itself (Authorization: Bearer).

const (
	// maxSignInBody holds {"token": ...} with any token worth trying.
	maxSignInBody = 1 << 10
	// sessionBytes is the session cookie's randomness.
	sessionBytes = 32
)

// How the admin API's refusals say what to do.
const (
	signInHow      = "sign in at /admin, or send Authorization: Bearer <ADMIN_TOKEN>"
	msgWrongToken  = "wrong admin token"
	wrongTokensWhy = "wrong admin tokens from this address (ADMIN_SIGNIN_RATE)"
)

// handleSignIn exchanges the admin token for a session cookie.
func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	key := limitKey(clientAddr(r, s.trustedHeader))
	if blocked, wait := s.signInLimit.blocked(key); blocked {
		s.writeError(w, r, tooMany(wait, wrongTokensWhy))
		return
	}
	var req api.AdminSignIn
	if err := decodeJSON(w, r, maxSignInBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	// A pasted token may bring white space along; a token never has any.
	tok := strings.TrimSpace(req.Token)
	if tok == "" {
		s.writeError(w, r, badField("token", "token is required: the admin token (ADMIN_TOKEN, or the file DATA_DIR/admin-token)"))
		return
	}
	if err := s.checkToken(r, key, tok, "token"); err != nil {
		s.writeError(w, r, err)
		return
	}

	raw := make([]byte, sessionBytes)
	rand.Read(raw) // never short: since Go 1.24 a failure crashes the program
	value := push.EncodeBase64URL(raw)
	// The store keeps milliseconds: what is answered now is what GET will say.
	expires := s.now().Add(s.sessionTTL).UTC().Truncate(time.Millisecond)
	if err := s.store.CreateSession(r.Context(), s.sessionHash(value), expires); err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, s.sessionCookie(r, value, expires))
	s.log.Info("admin signed in", "addr", clientAddr(r, s.trustedHeader), "expires", expires)
	httpjson.Write(w, http.StatusOK, api.AdminSession{ExpiresAt: expires})
}

// handleSession answers when the session the cookie names ends, or 401.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	expires, err := s.liveSession(r)
	switch {
	case errors.Is(err, store.ErrSessionNotFound):
		s.unauthorized(w, r, &apiError{Status: http.StatusUnauthorized, Message: "not signed in: " + signInHow})
	case err != nil:
		s.writeError(w, r, err)
	default:
		httpjson.Write(w, http.StatusOK, api.AdminSession{ExpiresAt: expires})
	}
}

// handleSignOut ends the session the cookie names, if any, and clears the
// cookie.
func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request) {
	if value, ok := sessionCookieValue(r); ok {
		if err := s.store.DeleteSession(r.Context(), s.sessionHash(value)); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	c := s.sessionCookie(r, "", time.Unix(0, 0))
	c.MaxAge = -1 // written as Max-Age=0: remove it now
	http.SetCookie(w, c)
	w.WriteHeader(http.StatusNoContent)
}

// requireAdmin writes the refusal and returns false unless r carries a live
// session cookie or the admin token.
func (s *Server) requireAdmin(w http.ResponseWriter, r *http.Request) bool {
	err := s.authorize(r)
	if err == nil {
		return true
	}
	s.unauthorized(w, r, err)
	return false
}

// authorize returns nil when r carries a live session cookie or the admin
// token (Authorization: Bearer, compared in constant time). A wrong token
// takes one from the client address's budget of wrong tokens; once that is
// spent, the address's token requests are refused (429), the right token
// too, until it refills. A live cookie is never refused for them.
func (s *Server) authorize(r *http.Request) error {
	_, hasCookie := sessionCookieValue(r)
	if hasCookie {
		_, err := s.liveSession(r)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrSessionNotFound) {
			return err
		}
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		if hasCookie {
			return &apiError{Status: http.StatusUnauthorized, Message: "the admin session has ended: " + signInHow}
		}
		return &apiError{Status: http.StatusUnauthorized, Message: "admin token required: " + signInHow}
	}
	return s.checkToken(r, limitKey(clientAddr(r, s.trustedHeader)), strings.TrimSpace(tok), "")
}

// checkToken compares tok with the admin token, as one of the wrong tries
// key may make (ADMIN_SIGNIN_RATE): the try is taken from the budget before
// the comparison and given back when the token is right, so that requests
// sent together, or whose bodies come late, cannot all be compared while
// the budget still looks full. It returns nil, the 401 naming field, or the
// 429 once the budget is spent.
func (s *Server) checkToken(r *http.Request, key, tok, field string) error {
	ok, wait, giveBack := s.signInLimit.take(key)
	if !ok {
		return tooMany(wait, wrongTokensWhy)
	}
	if admin.TokenEqual(tok, s.adminToken) {
		giveBack()
		return nil
	}
	// At most ADMIN_SIGNIN_RATE lines a minute per address: past it, the
	// refusals are 429, not logged.
	s.log.Warn("wrong admin token", "method", r.Method, "path", r.URL.Path, "addr", clientAddr(r, s.trustedHeader))
	return &apiError{Status: http.StatusUnauthorized, Message: msgWrongToken, Field: field}
}

// unauthorized writes err, with the challenge a 401 carries.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pushstart admin"`)
	}
	s.writeError(w, r, err)
}

// liveSession returns when the session r's cookie names ends, or
// store.ErrSessionNotFound when r names none that is live.
func (s *Server) liveSession(r *http.Request) (time.Time, error) {
	value, ok := sessionCookieValue(r)
	if !ok {
		return time.Time{}, store.ErrSessionNotFound
	}
	return s.store.SessionExpiry(r.Context(), s.sessionHash(value))
}

// sessionCookieValue returns r's session cookie when it has the form the
// server gives out; anything else names no session, without a look in the
// store.
func sessionCookieValue(r *http.Request) (string, bool) {
	c, err := r.Cookie(api.AdminSessionCookie)
	if err != nil || base64.RawURLEncoding.DecodedLen(len(c.Value)) != sessionBytes {
		return "", false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(c.Value); err != nil {
		return "", false
	}
	return c.Value, true
}

// sessionHash is what the store keeps of a session cookie: its HMAC-SHA256
// under the admin token, hex. Reading the database signs no one in, and a new
// admin token ends every session made with the old one.
func (s *Server) sessionHash(value string) string {
	m := hmac.New(sha256.New, []byte(s.adminToken))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// sessionCookie is the session cookie holding value until expires: out of
// the page's scripts' reach, sent only to the API and only by this site's
// own pages, and only over https when the server is reached over https.
func (s *Server) sessionCookie(r *http.Request, value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name:     api.AdminSessionCookie,
		Value:    value,
		Path:     "/api/",
		Expires:  expires,
		MaxAge:   int(s.sessionTTL / time.Second),
		HttpOnly: true,
		Secure:   s.scheme(r) == "https",
		SameSite: http.SameSiteStrictMode,
	}
}
