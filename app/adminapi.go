package app

import (
	"context"
	"encoding/json"
	"net/http"

	"pushstart/api"
)

// The admin console's calls. The session cookie that authorizes them is
// HttpOnly: the browser keeps it and sends it with every same-origin fetch,
// and the page never sees it. The admin token itself is sent once, by signIn,
// and kept nowhere.

// adminSession asks whether the browser holds a good session cookie. The
// server's 401 is not an error: signedIn is false, and the console shows the
// sign-in form.
func (c *apiClient) adminSession(ctx context.Context) (s api.AdminSession, signedIn bool, err error) {
	ex, err := c.do(ctx, apiTimeout, http.MethodGet, api.PathAdminSession, nil, http.StatusOK)
	if signedOutError(err) {
		return api.AdminSession{}, false, nil
	}
	if err != nil {
		return api.AdminSession{}, false, err
	}
	if err := decodeReply(ex, &s); err != nil {
		return api.AdminSession{}, false, err
	}
	return s, true, nil
}

// signIn exchanges the admin token for the session cookie, which the
// browser stores from the answer.
func (c *apiClient) signIn(ctx context.Context, token string) (api.AdminSession, error) {
	ex, err := c.do(ctx, apiTimeout, http.MethodPost, api.PathAdminSession, api.AdminSignIn{Token: token}, http.StatusOK)
	if err != nil {
		return api.AdminSession{}, err
	}
	var s api.AdminSession
	err = decodeReply(ex, &s)
	return s, err
}

// signOut ends the session on the server, which clears the cookie. A
// session the server no longer knows (401) is already ended.
func (c *apiClient) signOut(ctx context.Context) error {
	_, err := c.do(ctx, apiTimeout, http.MethodDelete, api.PathAdminSession, nil, http.StatusNoContent, http.StatusOK)
	if signedOutError(err) {
		return nil
	}
	return err
}

// submitBroadcast posts a broadcast, which the server accepts (202) and
// queues before any push is sent; the answer is its first status.
func (c *apiClient) submitBroadcast(ctx context.Context, b api.Broadcast) (api.BroadcastStatus, error) {
	ex, err := c.do(ctx, apiTimeout, http.MethodPost, api.PathNotifications, b, http.StatusAccepted)
	if err != nil {
		return api.BroadcastStatus{}, err
	}
	var st api.BroadcastStatus
	if err := decodeReply(ex, &st); err != nil {
		return api.BroadcastStatus{}, err
	}
	if st.ID == "" {
		return api.BroadcastStatus{}, &apiError{Method: ex.Method, Path: ex.Path, Status: ex.Status, Message: `the answer has no "id"`}
	}
	return st, nil
}

// decodeReply reads the JSON answer of ex into v.
func decodeReply(ex exchange, v any) error {
	if err := json.Unmarshal(ex.Response, v); err != nil {
		return &apiError{Method: ex.Method, Path: ex.Path, Status: ex.Status, Message: "reading the answer: " + err.Error()}
	}
	return nil
}
