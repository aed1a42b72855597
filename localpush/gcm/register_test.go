package gcm

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testSubtype = "wp:http://127.0.0.1:8000/#5B0CE1F2-93C2-4B29-9E44-5D3C2B2F5A10-V2"
	testSender  = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
)

func TestCheckin(t *testing.T) {
	e := newEnv(t, nil)

	before := time.Now().UnixMilli()
	status, m := e.checkin(t, pb{}.varint(14, 3).varint(22, 0))
	if status != http.StatusOK {
		t.Fatalf("first check-in: status %d", status)
	}
	if got := m.varint(t, 1); got != 1 {
		t.Errorf("stats_ok = %d, want 1", got)
	}
	if got := int64(m.varint(t, 3)); got < before || got > time.Now().UnixMilli() {
		t.Errorf("time_msec = %d, want the current time", got)
	}
	if got := m.varint(t, 9); got != 0 {
		t.Errorf("settings_diff = %d, want 0 (false)", got)
	}
	aid, tok := m.fixed64(t, 7), m.fixed64(t, 8)
	if aid == 0 || tok == 0 {
		t.Fatalf("android_id %d, security_token %d: Chromium retries on zero", aid, tok)
	}

	t.Run("second device gets other credentials", func(t *testing.T) {
		aid2, tok2 := e.newDevice(t)
		if aid2 == aid || tok2 == tok {
			t.Errorf("second check-in returned the same credentials")
		}
	})

	t.Run("re-check-in keeps the credentials", func(t *testing.T) {
		status, m := e.checkin(t, pb{}.varint(2, aid).fixed64(13, tok).varint(14, 3))
		if status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		if m.fixed64(t, 7) != aid || m.fixed64(t, 8) != tok {
			t.Errorf("got %d:%d, want %d:%d", m.fixed64(t, 7), m.fixed64(t, 8), aid, tok)
		}
	})

	t.Run("wrong security token is refused", func(t *testing.T) {
		status, _ := e.checkin(t, pb{}.varint(2, aid).fixed64(13, tok+1).varint(14, 3))
		if status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", status)
		}
	})

	t.Run("credentials from an earlier run are taken over", func(t *testing.T) {
		const oldAid, oldTok = 4242424242, 987654321
		status, m := e.checkin(t, pb{}.varint(2, oldAid).fixed64(13, oldTok).varint(14, 3))
		if status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		if m.fixed64(t, 7) != oldAid || m.fixed64(t, 8) != oldTok {
			t.Fatalf("got %d:%d, want the request's", m.fixed64(t, 7), m.fixed64(t, 8))
		}
		e.subscribe(t, oldAid, oldTok, testSubtype, testSender)
	})

	t.Run("malformed body", func(t *testing.T) {
		status, _ := e.checkin(t, []byte{0x12, 0x05, 0x01})
		if status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", status)
		}
	})

	t.Run("GET is not served", func(t *testing.T) {
		resp, err := http.Get(e.http.URL + "/checkin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", resp.StatusCode)
		}
	})
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{32,}$`)

func TestRegisterWebPush(t *testing.T) {
	e := newEnv(t, nil)
	aid, tok := e.newDevice(t)
	auth := aidLogin(aid, tok)

	// Chromium registers itself before any subscription: a token, no hook.
	status, body := e.register(t, auth, url.Values{
		"app": {"com.google.android.gms"}, "device": {strconv.FormatUint(aid, 10)},
		"sender": {"745476177629"},
	})
	if status != http.StatusOK || !strings.HasPrefix(body, "token=") || len(body) <= len("token=") {
		t.Fatalf("self-registration: %d %q", status, body)
	}
	e.rec.expectNone(t)

	status, body = e.register(t, auth, webPushForm(aid, testSubtype, testSender))
	token, ok := strings.CutPrefix(body, "token=")
	if status != http.StatusOK || !ok {
		t.Fatalf("registration: %d %q", status, body)
	}
	if !tokenRE.MatchString(token) {
		t.Errorf("token %q: want 32+ URL-safe characters and nothing else (Chromium takes all after token=)", token)
	}
	reg := e.rec.expect(t, "registered").reg
	want := Registration{
		AndroidID: strconv.FormatUint(aid, 10), Token: token, Subtype: testSubtype,
		Sender: testSender, App: "org.chromium.linux",
	}
	if reg != want {
		t.Errorf("Registered(%+v), want %+v", reg, want)
	}

	t.Run("asking again gives the same token", func(t *testing.T) {
		_, body := e.register(t, auth, webPushForm(aid, testSubtype, testSender))
		if body != "token="+token {
			t.Errorf("got %q, want the first token", body)
		}
		e.rec.expect(t, "registered")
	})

	t.Run("another subscription gets another token", func(t *testing.T) {
		other := e.subscribe(t, aid, tok, strings.Replace(testSubtype, "5B0C", "6C1D", 1), testSender)
		if other == token {
			t.Error("two subscriptions share a token")
		}
	})
}

func TestRegisterErrors(t *testing.T) {
	e := newEnv(t, nil)
	aid, tok := e.newDevice(t)
	otherAid, _ := e.newDevice(t)
	form := webPushForm(aid, testSubtype, testSender)

	tests := []struct {
		name   string
		auth   string
		form   url.Values
		hook   error
		status int
		body   string
	}{
		{name: "no Authorization", form: form, status: 401, body: "Error=AUTHENTICATION_FAILED"},
		{name: "wrong scheme", auth: "Bearer x", form: form, status: 401, body: "Error=AUTHENTICATION_FAILED"},
		{name: "wrong token", auth: aidLogin(aid, tok+1), form: form, status: 401, body: "Error=AUTHENTICATION_FAILED"},
		{name: "other device's token", auth: aidLogin(otherAid, tok), form: form, status: 401, body: "Error=AUTHENTICATION_FAILED"},
		{name: "not a number", auth: "AidLogin abc:def", form: form, status: 401, body: "Error=AUTHENTICATION_FAILED"},
		{name: "no app", auth: aidLogin(aid, tok), form: url.Values{"X-subtype": {testSubtype}, "sender": {testSender}},
			status: 400, body: "Error=INVALID_PARAMETERS"},
		{name: "no sender", auth: aidLogin(aid, tok), form: url.Values{"app": {"org.chromium.linux"}, "X-subtype": {testSubtype}},
			status: 400, body: "Error=INVALID_SENDER"},
		{name: "hook refuses the key", auth: aidLogin(aid, tok), form: form,
			hook: errors.Join(errors.New("not a P-256 point"), ErrInvalidSender), status: 400, body: "Error=INVALID_SENDER"},
		{name: "hook fails", auth: aidLogin(aid, tok), form: form,
			hook: errors.New("disk full"), status: 500, body: "Error=InternalServerError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.rec.setRegErr(tt.hook)
			defer e.rec.setRegErr(nil)
			status, body := e.register(t, tt.auth, tt.form)
			if status != tt.status || body != tt.body {
				t.Errorf("got %d %q, want %d %q", status, body, tt.status, tt.body)
			}
			e.rec.expectNone(t)
		})
	}

	// A registration whose hook failed left nothing behind: the next one
	// is reported and its token is new.
	token := e.subscribe(t, aid, tok, testSubtype, testSender)
	if _, ok := e.s.registration(token); !ok {
		t.Error("registration not kept after success")
	}
	e.s.mu.Lock()
	n := len(e.s.regs)
	e.s.mu.Unlock()
	if n != 1 {
		t.Errorf("%d registrations kept, want 1", n)
	}

	// A browser that checked in with an earlier run of the service (never
	// seen by this one) is adopted, and its id is then bound to its token.
	if token := e.subscribe(t, 12345, 678, testSubtype, testSender); token == "" {
		t.Fatal("no token for adopted credentials")
	}
	status, body := e.register(t, aidLogin(12345, 679), webPushForm(12345, testSubtype, testSender))
	if status != http.StatusUnauthorized || body != "Error=AUTHENTICATION_FAILED" {
		t.Errorf("adopted id with another token: got %d %q, want 401", status, body)
	}
}

func TestUnregister(t *testing.T) {
	e := newEnv(t, nil)
	aid, tok := e.newDevice(t)
	auth := aidLogin(aid, tok)
	const otherSender = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"

	t.Run("instance ID delete token", func(t *testing.T) {
		token := e.subscribe(t, aid, tok, testSubtype, testSender)
		form := webPushForm(aid, testSubtype, testSender)
		form.Set("delete", "true")
		status, body := e.register(t, auth, form)
		if status != http.StatusOK || body != "token="+token {
			t.Errorf("got %d %q, want 200 %q", status, body, "token="+token)
		}
		ev := e.rec.expect(t, "unregistered")
		if ev.token != token || ev.aid != strconv.FormatUint(aid, 10) {
			t.Errorf("Unregistered(%s, %s), want (%d, %s)", ev.aid, ev.token, aid, token)
		}
		if _, ok := e.s.registration(token); ok {
			t.Error("token still registered")
		}
		// Chromium may repeat a deletion; it still succeeds.
		status, body = e.register(t, auth, form)
		if status != http.StatusOK || !strings.HasPrefix(body, "token=") {
			t.Errorf("repeated deletion: %d %q", status, body)
		}
		e.rec.expectNone(t)
	})

	t.Run("GCM unregistration answers deleted=<app id>", func(t *testing.T) {
		token := e.subscribe(t, aid, tok, testSubtype, testSender)
		status, body := e.register(t, auth, url.Values{
			"app": {"org.chromium.linux"}, "X-subtype": {testSubtype},
			"device": {strconv.FormatUint(aid, 10)}, "delete": {"true"}, "gcm_unreg_caller": {"false"},
		})
		if status != http.StatusOK || body != "deleted="+testSubtype {
			t.Errorf("got %d %q, want 200 %q", status, body, "deleted="+testSubtype)
		}
		if ev := e.rec.expect(t, "unregistered"); ev.token != token {
			t.Errorf("Unregistered token %s, want %s", ev.token, token)
		}
	})

	t.Run("sender * deletes every key of the subscription", func(t *testing.T) {
		t1 := e.subscribe(t, aid, tok, testSubtype, testSender)
		t2 := e.subscribe(t, aid, tok, testSubtype, otherSender)
		keep := e.subscribe(t, aid, tok, "wp:http://127.0.0.1:9/#other-V2", testSender)
		form := webPushForm(aid, testSubtype, "*")
		form.Set("delete", "true")
		if status, _ := e.register(t, auth, form); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		got := map[string]bool{}
		got[e.rec.expect(t, "unregistered").token] = true
		got[e.rec.expect(t, "unregistered").token] = true
		if !got[t1] || !got[t2] {
			t.Errorf("unregistered %v, want %s and %s", got, t1, t2)
		}
		if _, ok := e.s.registration(keep); !ok {
			t.Error("another subscription's token was deleted")
		}
	})

	t.Run("self-registration deletion", func(t *testing.T) {
		status, body := e.register(t, auth, url.Values{"app": {"com.google.android.gms"}, "delete": {"true"}})
		if status != http.StatusOK || body != "deleted=com.google.android.gms" {
			t.Errorf("got %d %q", status, body)
		}
		e.rec.expectNone(t)
	})

	t.Run("needs authentication", func(t *testing.T) {
		form := webPushForm(aid, testSubtype, "*")
		form.Set("delete", "true")
		status, body := e.register(t, aidLogin(aid, tok+1), form)
		if status != http.StatusUnauthorized || body != "Error=AUTHENTICATION_FAILED" {
			t.Errorf("got %d %q", status, body)
		}
		e.rec.expectNone(t)
	})
}
