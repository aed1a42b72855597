package gcm

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"pushstart/push"
)

// selfApp is the category Chromium's GCM client registers under for itself,
// apart from any push subscription.
const selfApp = "com.google.android.gms"

// maxHTTPBody bounds check-in and registration bodies; Chromium's are a few
// hundred bytes.
const maxHTTPBody = 64 << 10

// Handler serves POST /checkin and POST /c2dm/register3, the URLs given to
// Chromium as --gcm-checkin-url and --gcm-registration-url. Registration
// also handles unregistration (the form field delete=true).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /checkin", s.handleCheckin)
	mux.HandleFunc("POST /c2dm/register3", s.handleRegister)
	return mux
}

// handleCheckin answers an AndroidCheckinRequest with an android id and a
// security token: the ones in the request when they are already known or
// new to this server (a browser profile that outlived an earlier run), fresh
// ones for a first check-in.
func (s *Server) handleCheckin(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHTTPBody))
	if err != nil {
		s.httpError(w, r, http.StatusBadRequest, "", "reading body", err)
		return
	}
	req, err := parseCheckinRequest(body)
	if err != nil {
		s.httpError(w, r, http.StatusBadRequest, "", "parsing check-in", err)
		return
	}
	aid, tok := req.ID, req.SecurityToken
	s.mu.Lock()
	switch known, ok := s.checkins[aid]; {
	case aid == 0 || tok == 0:
		aid, tok = randomID(), randomID()
		s.checkins[aid] = tok
	case ok && known != tok:
		s.mu.Unlock()
		// 401 tells Chromium the token does not match the id.
		s.httpError(w, r, http.StatusUnauthorized, "", "check-in with a wrong security token", nil)
		return
	default:
		s.checkins[aid] = tok
	}
	s.mu.Unlock()
	s.log.Info("gcm check-in", "android_id", aid, "renewed", req.ID == aid)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(checkinResponse{
		TimeMsec:      time.Now().UnixMilli(),
		AndroidID:     aid,
		SecurityToken: tok,
	}.marshal())
}

// handleRegister serves Chromium's registration form. A body "token=<t>"
// makes the registration (and so PushManager.subscribe) succeed; a body
// "Error=<CODE>" fails it, HTTP status aside.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxHTTPBody)
	if err := r.ParseForm(); err != nil {
		s.httpError(w, r, http.StatusBadRequest, "INVALID_PARAMETERS", "parsing form", err)
		return
	}
	aid, ok := s.authenticate(r.Header.Get("Authorization"))
	if !ok {
		s.httpError(w, r, http.StatusUnauthorized, "AUTHENTICATION_FAILED", "registration without a valid AidLogin", nil)
		return
	}
	app := r.PostForm.Get("app")
	if app == "" {
		s.httpError(w, r, http.StatusBadRequest, "INVALID_PARAMETERS", "registration without app", nil)
		return
	}
	// An unregistration echoes the app id (or the subtype) in its one-line
	// answer; a line break in it would make another answer.
	if hasControl(app) || hasControl(r.PostForm.Get("X-subtype")) {
		s.httpError(w, r, http.StatusBadRequest, "INVALID_PARAMETERS", "app or X-subtype with a control character", nil)
		return
	}
	if r.PostForm.Get("delete") == "true" {
		s.unregister(w, r, aid, app)
		return
	}
	s.register(w, r, aid, app)
}

// authenticate checks "AidLogin <android_id>:<security_token>" against the
// check-ins this server issued or took over.
func (s *Server) authenticate(h string) (string, bool) {
	cred, ok := strings.CutPrefix(h, "AidLogin ")
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(cred, ":")
	if !ok {
		return "", false
	}
	aid, err1 := strconv.ParseUint(id, 10, 64)
	tok, err2 := strconv.ParseUint(secret, 10, 64)
	if err1 != nil || err2 != nil || aid == 0 {
		return "", false
	}
	// A browser that checked in with an earlier run of the service keeps
	// its credentials across a restart: adopt them, as MCS login does,
	// rather than stall its subscribe() until it logs in again.
	if !s.adoptCheckin(aid, tok) {
		return "", false
	}
	return strconv.FormatUint(aid, 10), true
}

func (s *Server) register(w http.ResponseWriter, r *http.Request, aid, app string) {
	subtype := r.PostForm.Get("X-subtype")
	sender := r.PostForm.Get("sender")
	if app == selfApp || subtype == "" {
		// Chromium's own registration (and anything else that is not a
		// push subscription): a token, nothing to report.
		s.log.Debug("gcm registration outside web push", "android_id", aid, "app", app)
		writeText(w, http.StatusOK, "token="+newToken())
		return
	}
	if sender == "" {
		s.httpError(w, r, http.StatusBadRequest, "INVALID_SENDER", "web push registration without sender", nil)
		return
	}

	s.regMu.Lock()
	defer s.regMu.Unlock()
	// The same browser asking again for the same subscription and key gets
	// the same token, so the endpoint stays stable.
	token := ""
	s.mu.Lock()
	for t, reg := range s.regs {
		if reg.AndroidID == aid && reg.Subtype == subtype && reg.Sender == sender {
			token = t
			break
		}
	}
	s.mu.Unlock()
	renewed := token != ""
	if !renewed {
		token = newToken()
	}
	reg := Registration{AndroidID: aid, Token: token, Subtype: subtype, Sender: sender, App: app}
	if err := s.hooks.Registered(reg); err != nil {
		if errors.Is(err, ErrInvalidSender) {
			s.httpError(w, r, http.StatusBadRequest, "INVALID_SENDER", "registration refused", err)
		} else {
			s.httpError(w, r, http.StatusInternalServerError, "InternalServerError", "registration hook", err)
		}
		return
	}
	s.mu.Lock()
	s.regs[token] = reg
	s.mu.Unlock()
	s.log.Info("gcm registration", "android_id", aid, "token_hash", push.Fingerprint(token), "renewed", renewed)
	writeText(w, http.StatusOK, "token="+token)
}

// unregister deletes the registrations of a subscription: those with its
// subtype and sender, or all of the subtype's for sender "*" or none.
//
// Chromium parses two reply forms. Its instance-ID requests (the ones that
// carry "appid", as web push does) succeed on any body containing "token=";
// its older GCM requests want exactly "deleted=<app id>", where the app id
// is the subtype when there is one.
func (s *Server) unregister(w http.ResponseWriter, r *http.Request, aid, app string) {
	subtype := r.PostForm.Get("X-subtype")
	sender := r.PostForm.Get("sender")
	var gone []string
	if subtype != "" {
		s.regMu.Lock()
		defer s.regMu.Unlock()
		s.mu.Lock()
		for t, reg := range s.regs {
			if reg.AndroidID == aid && reg.Subtype == subtype &&
				(sender == "" || sender == "*" || reg.Sender == sender) {
				gone = append(gone, t)
				delete(s.regs, t)
			}
		}
		s.mu.Unlock()
		for _, t := range gone {
			s.hooks.Unregistered(aid, t)
			s.log.Info("gcm unregistration", "android_id", aid, "token_hash", push.Fingerprint(t))
		}
	}
	if len(gone) == 0 {
		s.log.Debug("gcm unregistration of nothing known", "android_id", aid, "app", app)
	}
	if r.PostForm.Has("appid") {
		token := ""
		if len(gone) > 0 {
			token = gone[0]
		}
		writeText(w, http.StatusOK, "token="+token)
		return
	}
	appID := app
	if subtype != "" {
		appID = subtype
	}
	writeText(w, http.StatusOK, "deleted="+appID)
}

// httpError answers with GCM's "Error=<code>" body (or an empty one) and
// logs why.
func (s *Server) httpError(w http.ResponseWriter, r *http.Request, status int, code, msg string, err error) {
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	s.log.Warn("gcm "+msg, attrs...)
	body := ""
	if code != "" {
		body = "Error=" + code
	}
	writeText(w, status, body)
}

// hasControl reports whether v has a control character (a line break among
// them).
func hasControl(v string) bool {
	return strings.ContainsFunc(v, unicode.IsControl)
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// registration returns the registration of token, if this server made it.
func (s *Server) registration(token string) (Registration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.regs[token]
	return r, ok
}

// adoptCheckin records the credentials of a browser that registers or logs
// in on MCS without this server having seen its check-in (it checked in with
// an earlier run). It reports false when the id is known with another token.
func (s *Server) adoptCheckin(aid, tok uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if known, ok := s.checkins[aid]; ok {
		return known == tok
	}
	s.checkins[aid] = tok
	return true
}
