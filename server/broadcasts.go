//go:build !wasm

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"pushstart/api"
	"pushstart/internal/httpjson"
	"pushstart/push"
	"pushstart/server/store"
)

// Bounds of the admin's broadcast requests.
const (
	// maxBroadcastBody holds a notification and an audience of
	// maxAudience endpoints of the longest length accepted.
	maxBroadcastBody = 4 << 20
	maxAudience      = 1000                 // users or endpoints in one broadcast's "to"
	maxSchedule      = 366 * 24 * time.Hour // how far ahead sendAt may be
	defaultListLimit = 20
	maxListLimit     = 100
	// eventPoll is how often a progress stream reads the broadcast: the
	// store is the one place every instance's progress meets.
	eventPoll      = 500 * time.Millisecond
	eventKeepAlive = 15 * time.Second
	// sessionRecheck is how often a progress stream opened with the
	// console's session checks that the session is still live.
	sessionRecheck = 5 * time.Second
)

// broadcastRequest is api.Broadcast with sendAt read as text, so that a bad
// time is refused naming the field.
type broadcastRequest struct {
	api.Broadcast
	SendAt *string `json:"sendAt,omitempty"`
}

// handleBroadcast accepts a broadcast: validated, stored and queued in one
// transaction, and answered 202 before any push is sent.
func (s *Server) handleBroadcast(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	// Kept to tell "to": null, refused, from no "to" at all (everyone):
	// both decode to nil.
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBroadcastBody+1))
	if err != nil {
		s.writeError(w, r, badField("", "request body could not be read"))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var req broadcastRequest
	if err := decodeJSON(w, r, maxBroadcastBody, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var to struct {
		To json.RawMessage `json:"to"`
	}
	if json.Unmarshal(raw, &to) == nil && string(to.To) == "null" {
		s.writeError(w, r, badField("to", `to must not be null; omit "to" to reach everyone`))
		return
	}
	ttl := broadcastTTL
	if req.TTL != nil {
		ttl = *req.TTL
	}
	msg, err := broadcastMessage(req.Notification, s.origin, ttl, req.Urgency, req.Topic)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	aud, err := s.audience(req.To)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b := store.Broadcast{Title: req.Notification.Title, Message: msg, Audience: aud}
	if req.SendAt != nil {
		at, err := time.Parse(time.RFC3339Nano, *req.SendAt)
		if err != nil {
			s.writeError(w, r, badField("sendAt", "sendAt must be an RFC 3339 time, such as 2026-12-24T18:00:00Z"))
			return
		}
		if at.After(time.Now().Add(maxSchedule)) {
			s.writeError(w, r, badField("sendAt", "sendAt may be at most 366 days ahead"))
			return
		}
		b.SendAt = &at
	}
	stored, err := s.engine.Submit(r.Context(), b)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", broadcastPath(stored.ID))
	httpjson.Write(w, http.StatusAccepted, broadcastStatus(stored))
}

// audience checks the request's "to": omitted is everyone; otherwise exactly
// one of tags, users and endpoints, bounded, each entry valid.
func (s *Server) audience(to *api.Audience) (store.Audience, error) {
	if to == nil {
		return store.Audience{}, nil
	}
	given := 0
	for _, l := range [][]string{to.Tags, to.Users, to.Endpoints} {
		if len(l) > 0 {
			given++
		}
	}
	if given != 1 {
		return store.Audience{}, badField("to", `to must name exactly one of "tags", "users" or "endpoints", with at least one entry; omit "to" to reach everyone`)
	}
	if err := push.CheckTags("to.tags", to.Tags); err != nil {
		return store.Audience{}, err
	}
	for _, l := range []struct {
		field string
		list  []string
	}{{"to.users", to.Users}, {"to.endpoints", to.Endpoints}} {
		if len(l.list) > maxAudience {
			return store.Audience{}, badField(l.field, fmt.Sprintf("%s has %d entries; at most %d are allowed", l.field, len(l.list), maxAudience))
		}
	}
	for i, u := range to.Users {
		if err := push.CheckUserID(fmt.Sprintf("to.users[%d]", i), u); err != nil {
			return store.Audience{}, err
		}
	}
	for i, e := range to.Endpoints {
		if err := s.allow.Check(e); err != nil {
			return store.Audience{}, badField(fmt.Sprintf("to.endpoints[%d]", i), fmt.Sprintf("to.endpoints[%d]: %v", i, err))
		}
	}
	return store.Audience{Tags: to.Tags, Users: to.Users, Endpoints: to.Endpoints}, nil
}

// listLimit reads a list's ?limit=: 1 to maxListLimit, def when absent.
func listLimit(q url.Values, def int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, badField("limit", fmt.Sprintf("limit must be a whole number from 1 to %d", maxListLimit))
	}
	return n, nil
}

// adminBroadcast is the broadcast the request's {id} names, for an admin:
// false once the answer (401, 400, 404) is written.
func (s *Server) adminBroadcast(w http.ResponseWriter, r *http.Request) (store.Broadcast, bool) {
	if !s.requireAdmin(w, r) {
		return store.Broadcast{}, false
	}
	id, ok := s.broadcastID(w, r)
	if !ok {
		return store.Broadcast{}, false
	}
	b, err := s.store.GetBroadcast(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return store.Broadcast{}, false
	}
	return b, true
}

// broadcastID is the request's {id}, or the 400 when it cannot be one.
func (s *Server) broadcastID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > store.MaxBroadcastID {
		s.writeError(w, r, badField("id", fmt.Sprintf("id must be a broadcast id, at most %d characters", store.MaxBroadcastID)))
		return "", false
	}
	return id, true
}

func (s *Server) handleBroadcastGet(w http.ResponseWriter, r *http.Request) {
	b, ok := s.adminBroadcast(w, r)
	if !ok {
		return
	}
	httpjson.Write(w, http.StatusOK, broadcastStatus(b))
}

func (s *Server) handleBroadcastCancel(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	id, ok := s.broadcastID(w, r)
	if !ok {
		return
	}
	b, err := s.engine.Cancel(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, broadcastStatus(b))
}

func (s *Server) handleBroadcastList(w http.ResponseWriter, r *http.Request) {
	if !s.requireAdmin(w, r) {
		return
	}
	q := r.URL.Query()
	limit, err := listLimit(q, defaultListLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	before := q.Get("before")
	if before != "" {
		// An id that is not there would read as "no more pages".
		if _, err := s.store.GetBroadcast(r.Context(), before); err != nil {
			if errors.Is(err, store.ErrBroadcastNotFound) {
				err = badField("before", "before must be the id of a broadcast, as the last page's next gave it")
			}
			s.writeError(w, r, err)
			return
		}
	}
	// One more than asked tells whether there is a next page.
	bs, err := s.store.ListBroadcasts(r.Context(), before, limit+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := api.BroadcastList{Broadcasts: []api.BroadcastStatus{}}
	if len(bs) > limit {
		bs = bs[:limit]
		out.Next = bs[limit-1].ID
	}
	for _, b := range bs {
		out.Broadcasts = append(out.Broadcasts, broadcastStatus(b))
	}
	httpjson.Write(w, http.StatusOK, out)
}

// handleBroadcastEvents streams a broadcast's progress as Server-Sent
// Events: one "status" event with the api.BroadcastStatus now, another each
// time it changes, and the stream ends after the one that says done or
// canceled. Progress is read from the store every half second, so the
// stream shows the work of every instance sharing the database.
func (s *Server) handleBroadcastEvents(w http.ResponseWriter, r *http.Request) {
	b, ok := s.adminBroadcast(w, r)
	if !ok {
		return
	}
	// A stream lasts as long as the broadcast.
	rc, err := openEventStream(w)
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	var last []byte
	lastWrite := time.Now()
	tick := time.NewTicker(eventPoll)
	defer tick.Stop()
	// A stream opened with the console's cookie ends soon after the session
	// does (signed out, expired), not when the broadcast does.
	_, bySession := sessionCookieValue(r)
	bySession = bySession && r.Header.Get("Authorization") == ""
	lastCheck := time.Now()
	for {
		data, _ := json.Marshal(broadcastStatus(b))
		switch {
		case string(data) != string(last):
			if err := writeEvent(w, "status", json.RawMessage(data)); err != nil {
				return
			}
			last, lastWrite = data, time.Now()
		case time.Since(lastWrite) >= eventKeepAlive:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if b.Finished() {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.streamsEnd:
			return
		case <-tick.C:
		}
		if bySession && time.Since(lastCheck) >= s.sessionRecheck {
			if _, err := s.liveSession(r); err != nil {
				return
			}
			lastCheck = time.Now()
		}
		b, err = s.store.GetBroadcast(r.Context(), b.ID)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("broadcast events: reading the broadcast", "id", b.ID, "err", err)
			}
			return
		}
	}
}

func broadcastPath(id string) string {
	return strings.Replace(api.PathNotification, "{id}", id, 1)
}

// broadcastStatus is the API's view of a broadcast.
func broadcastStatus(b store.Broadcast) api.BroadcastStatus {
	return api.BroadcastStatus{
		ID: b.ID, Status: b.Status, Title: b.Title, Audience: describeAudience(b.Audience),
		Total: b.Total, Sent: b.Sent, Failed: b.Failed, Pruned: b.Pruned, Skipped: b.Skipped,
		CreatedAt: b.CreatedAt, SendAt: b.SendAt, StartedAt: b.StartedAt, FinishedAt: b.FinishedAt,
	}
}

// describeAudience names an audience without its endpoints, which are
// secrets.
func describeAudience(a store.Audience) string {
	switch {
	case len(a.Tags) > 0:
		return "tags: " + strings.Join(a.Tags, ", ")
	case len(a.Users) == 1:
		return "1 user"
	case len(a.Users) > 1:
		return fmt.Sprintf("%d users", len(a.Users))
	case len(a.Endpoints) == 1:
		return "1 endpoint"
	case len(a.Endpoints) > 1:
		return fmt.Sprintf("%d endpoints", len(a.Endpoints))
	}
	return "everyone"
}
