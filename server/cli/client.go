package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"pushstart/api"
	"pushstart/server/admin"
)

// requestTimeout bounds each request but the event stream, which lasts as
// long as the broadcast.
const requestTimeout = 30 * time.Second

// maxAnswer bounds what is read of an answer that is not an event stream.
const maxAnswer = 1 << 20

// maxBody bounds a request body read from --json, well above what the
// server takes: its 413 then names its own limit.
const maxBody = 8 << 20

// client calls the admin API of one server with its admin token.
type client struct {
	http      *http.Client
	base      *url.URL // scheme and host, and a path prefix if the kit is served under one
	token     string
	tokenFrom string // where the token came from, named when the server refuses it
}

// newHTTPClient returns a copy of c, or a client made for the admin API,
// that never follows a redirect (a redirected POST loses its body, and the
// token must go nowhere but the address it was given for) and has no
// overall timeout (each request has its own, but for the event stream,
// which lasts as long as a broadcast).
func newHTTPClient(c *http.Client) *http.Client {
	var hc http.Client
	if c != nil {
		hc = *c
		hc.Timeout = 0
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = requestTimeout
		hc.Transport = t
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

// checkURL parses the server's address and refuses to send the admin token
// in clear text across a network, unless insecure.
func checkURL(raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("--url %q: want the server's http:// or https:// address, such as https://push.example.com", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--url %q: want the server's address alone, without user name, query or fragment", u.Redacted())
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) && !insecure {
		return nil, fmt.Errorf("--url %s: plain http to another machine would carry the admin token unencrypted, "+
			"readable and reusable by anyone on the way; use https://, or --insecure if the network between is private", u)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// isLoopback reports whether host names this machine without a lookup:
// localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// findToken returns the admin token and where it came from: flagToken (from
// --token), else envToken (ADMIN_TOKEN), else the file the server wrote in
// dataDir. The file is only read: unlike the server, the client never
// creates one.
func findToken(flagToken, envToken, dataDir string) (token, from string, err error) {
	switch {
	case flagToken != "":
		token, from = flagToken, "--token"
	case envToken != "":
		token, from = envToken, "ADMIN_TOKEN"
	default:
		from = admin.TokenPath(dataDir)
		b, err := os.ReadFile(from)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", "", fmt.Errorf("no admin token: neither --token nor ADMIN_TOKEN is set, and %s does not exist. "+
				"The server writes it on first start: name that server's data directory with --data-dir or DATA_DIR", from)
		case errors.Is(err, fs.ErrPermission):
			return "", "", fmt.Errorf("cannot read the admin token in %s (only the server's user may): "+
				"run as that user, or set ADMIN_TOKEN", from)
		case err != nil:
			return "", "", fmt.Errorf("reading the admin token: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return "", "", fmt.Errorf("%s is empty; the server will not start with it either", from)
		}
	}
	for _, c := range []byte(token) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return "", "", fmt.Errorf("the admin token from %s holds a control character, which an HTTP header cannot carry", from)
		}
	}
	return token, from, nil
}

// answerError is an answer other than the one asked for: an error of the
// API (API set), or something that is not the kit's API at all.
type answerError struct {
	Status     int    // HTTP status code
	StatusLine string // such as "400 Bad Request"
	API        *api.Error
	Why        string // when API is nil: why the answer was not understood
}

func (e *answerError) Error() string {
	if e.API != nil {
		return e.StatusLine + ": " + e.API.Error
	}
	return e.StatusLine + ": " + e.Why
}

// transient reports whether trying again later may succeed: the server (or
// a proxy before it) is restarting or busy.
func (e *answerError) transient() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests
}

// url is the address of an API path on the server.
func (c *client) url(path string) string {
	u := *c.base
	u.Path += path
	return u.String()
}

// broadcastPath is the path of one broadcast.
func broadcastPath(id string) string {
	return strings.Replace(api.PathNotification, "{id}", url.PathEscape(id), 1)
}

func (c *client) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return req, nil
}

// do sends one request and decodes a 2xx answer, a broadcast's status,
// into out. It returns the answer's Location header, resolved against the
// request.
func (c *client) do(ctx context.Context, method, path string, body []byte, out *api.BroadcastStatus) (location string, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", readAnswerError(resp)
	}
	if !isJSON(resp) {
		return "", &answerError{Status: resp.StatusCode, StatusLine: resp.Status,
			Why: fmt.Sprintf("the answer is %s, not the API's JSON: is %s a pushstart server?", contentType(resp), c.base)}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
		return "", &answerError{Status: resp.StatusCode, StatusLine: resp.Status, Why: "the answer is not what the API sends: " + err.Error()}
	}
	if out.ID == "" || out.Status == "" {
		// A server older than this client, whose broadcasts had no id.
		return "", &answerError{Status: resp.StatusCode, StatusLine: resp.Status,
			Why: fmt.Sprintf("the answer names no broadcast: is the server at %s older than this pushstart?", c.base)}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := req.URL.Parse(loc); err == nil {
			location = u.String()
		}
	}
	return location, nil
}

// readAnswerError reads an answer that is not a success.
func readAnswerError(resp *http.Response) error {
	e := &answerError{Status: resp.StatusCode, StatusLine: resp.Status}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		e.Why = "the server redirects to " + resp.Header.Get("Location") + "; give that address as --url"
		return e
	}
	var ae api.Error
	if isJSON(resp) && json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&ae) == nil && ae.Error != "" {
		e.API = &ae
		return e
	}
	e.Why = fmt.Sprintf("the answer (%s) is not the API's: is --url a pushstart server?", contentType(resp))
	return e
}

func contentType(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "without a Content-Type"
}

func isJSON(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// create sends a broadcast: POST /api/notifications.
func (c *client) create(ctx context.Context, body []byte) (api.BroadcastStatus, string, error) {
	var s api.BroadcastStatus
	loc, err := c.do(ctx, http.MethodPost, api.PathNotifications, body, &s)
	return s, loc, err
}

// get reads a broadcast's status: GET /api/notifications/{id}.
func (c *client) get(ctx context.Context, id string) (api.BroadcastStatus, error) {
	var s api.BroadcastStatus
	_, err := c.do(ctx, http.MethodGet, broadcastPath(id), nil, &s)
	return s, err
}

// cancel cancels a broadcast: DELETE /api/notifications/{id}.
func (c *client) cancel(ctx context.Context, id string) (api.BroadcastStatus, error) {
	var s api.BroadcastStatus
	_, err := c.do(ctx, http.MethodDelete, broadcastPath(id), nil, &s)
	return s, err
}
