package gcm

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// Check-in and registration take a protobuf and a form from anything that
// reaches the service's HTTP port. These targets post arbitrary bodies (and,
// for registration, an arbitrary Authorization header) to the real handler
// and check its answer against the protocol as Chromium reads it. Seeds:
// f.Add below and testdata/fuzz/<target>/.

// The one browser the fuzzed server knows, and its one web push
// registration.
const (
	fuzzAid      = 4242424242
	fuzzTok      = 987654321
	fuzzRegToken = "c3RhYmxlLXRva2VuLW9mLWEtcmVnaXN0cmF0aW9uLTAx"
)

// regHooks is a Hooks that keeps the registrations and unregistrations
// reported.
type regHooks struct {
	registered   []Registration
	unregistered []string
}

func (h *regHooks) Registered(r Registration) error {
	h.registered = append(h.registered, r)
	return nil
}

func (h *regHooks) Unregistered(_, token string) { h.unregistered = append(h.unregistered, token) }
func (h *regHooks) Connected(string, *Conn)      {}
func (h *regHooks) Disconnected(string, *Conn)   {}
func (h *regHooks) Acked(string, []string)       {}
func (h *regHooks) reset()                       { h.registered, h.unregistered = nil, nil }

// resetFuzzServer forgets what the last input did: the server knows the one
// browser, and its one registration when withReg is set.
func resetFuzzServer(s *Server, h *regHooks, withReg bool) {
	h.reset()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkins = map[uint64]uint64{fuzzAid: fuzzTok}
	s.regs = map[string]Registration{}
	if withReg {
		s.regs[fuzzRegToken] = Registration{AndroidID: strconv.FormatUint(fuzzAid, 10), Token: fuzzRegToken,
			Subtype: testSubtype, Sender: testSender, App: "org.chromium.linux"}
	}
}

func newFuzzServer(f *testing.F) (*Server, *regHooks) {
	f.Helper()
	h := &regHooks{}
	s, err := New(h, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		f.Fatal(err)
	}
	return s, h
}

// FuzzCheckin posts the input to /checkin. A body that is not an
// AndroidCheckinRequest gets 400; one with the known android id and another
// token 401; one without both credentials fresh ones; any other keeps its
// own. A 200 is an AndroidCheckinResponse Chromium accepts.
func FuzzCheckin(f *testing.F) {
	for _, b := range [][]byte{
		pb{}.varint(14, 3),
		pb{}.varint(14, 3).varint(22, 0),
		pb{}.varint(2, fuzzAid).fixed64(13, fuzzTok).varint(14, 3),
		pb{}.varint(2, fuzzAid).fixed64(13, fuzzTok+1).varint(14, 3),
		pb{}.varint(2, 5555555555).fixed64(13, 7777777).varint(14, 3),
		pb{}.varint(2, 5555555555).varint(14, 3),
		{0x12, 0x05, 0x01},
		pb{}.varint(13, 1),
	} {
		f.Add(b)
	}
	s, hooks := newFuzzServer(f)
	handler := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		resetFuzzServer(s, hooks, false)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/checkin", bytes.NewReader(body)))

		req, perr := parseCheckinRequest(body)
		want := http.StatusOK
		switch {
		case perr != nil:
			want = http.StatusBadRequest
		case req.ID == fuzzAid && req.SecurityToken != 0 && req.SecurityToken != fuzzTok:
			want = http.StatusUnauthorized
		}
		if rec.Code != want {
			t.Fatalf("check-in %+v (parse error %v): status %d, want %d", req, perr, rec.Code, want)
		}
		if rec.Code != http.StatusOK {
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/x-protobuf" {
			t.Fatalf("Content-Type %q", ct)
		}
		aid, tok := checkinAnswer(t, rec.Body.Bytes())
		if req.ID == 0 || req.SecurityToken == 0 {
			if aid == 0 || tok == 0 || aid >= 1<<63 || tok >= 1<<63 || aid == fuzzAid {
				t.Fatalf("first check-in got %d:%d: want fresh, non-zero ids below 2^63", aid, tok)
			}
		} else if aid != req.ID || tok != req.SecurityToken {
			t.Fatalf("check-in with %d:%d got %d:%d: a browser keeps its credentials", req.ID, req.SecurityToken, aid, tok)
		}
	})
}

// checkinAnswer decodes an AndroidCheckinResponse with protowire alone and
// returns its android_id and security_token.
func checkinAnswer(t *testing.T, b []byte) (aid, tok uint64) {
	t.Helper()
	statsOK := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("check-in answer is not protobuf: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		default:
			t.Fatalf("check-in answer field %d has wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("check-in answer is not protobuf: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			statsOK = v == 1
		case num == 7 && typ == protowire.Fixed64Type:
			aid = v
		case num == 8 && typ == protowire.Fixed64Type:
			tok = v
		}
	}
	if !statsOK {
		t.Fatal("check-in answer without stats_ok")
	}
	return aid, tok
}

// registerAnswer is a body Chromium's registration request parses.
var registerAnswer = regexp.MustCompile(`^(token=[A-Za-z0-9_-]*|deleted=.*|Error=(INVALID_PARAMETERS|AUTHENTICATION_FAILED|INVALID_SENDER))$`)

// FuzzRegister posts the input as a registration form with the input
// Authorization header. It checks the answer is one Chromium parses, that
// only the known browser's credentials pass, that a web push registration
// reports what the form asked for under a token safe in an endpoint URL, and
// that asking again for a known subscription keeps its token.
func FuzzRegister(f *testing.F) {
	good := aidLogin(fuzzAid, fuzzTok)
	del := webPushForm(fuzzAid, testSubtype, testSender)
	del.Set("delete", "true")
	for _, s := range []struct{ auth, form string }{
		{good, webPushForm(fuzzAid, testSubtype, testSender).Encode()},
		{good, webPushForm(fuzzAid, strings.Replace(testSubtype, "5B0C", "6C1D", 1), testSender).Encode()},
		{good, url.Values{"app": {"com.google.android.gms"}, "device": {strconv.FormatUint(fuzzAid, 10)}, "sender": {"745476177629"}}.Encode()},
		{good, del.Encode()},
		{good, url.Values{"app": {"org.chromium.linux"}, "X-subtype": {testSubtype}, "device": {"4242424242"}, "delete": {"true"}, "gcm_unreg_caller": {"false"}}.Encode()},
		{good, url.Values{"app": {"com.google.android.gms"}, "delete": {"true"}}.Encode()},
		{good, url.Values{"X-subtype": {testSubtype}, "sender": {testSender}}.Encode()},
		{good, url.Values{"app": {"org.chromium.linux"}, "X-subtype": {testSubtype}}.Encode()},
		{good, "app=%zz"},
		{aidLogin(5555555555, 7777777), webPushForm(5555555555, testSubtype, testSender).Encode()},
		{aidLogin(fuzzAid, fuzzTok+1), webPushForm(fuzzAid, testSubtype, testSender).Encode()},
		{"Bearer x", webPushForm(fuzzAid, testSubtype, testSender).Encode()},
		{"AidLogin abc:def", webPushForm(fuzzAid, testSubtype, testSender).Encode()},
		{"", webPushForm(fuzzAid, testSubtype, testSender).Encode()},
	} {
		f.Add(s.auth, []byte(s.form))
	}
	s, hooks := newFuzzServer(f)
	handler := s.Handler()
	f.Fuzz(func(t *testing.T, auth string, body []byte) {
		resetFuzzServer(s, hooks, true)
		req := httptest.NewRequest(http.MethodPost, "/c2dm/register3", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		answer := rec.Body.String()

		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized:
		default:
			t.Fatalf("status %d %q", rec.Code, answer)
		}
		if !registerAnswer.MatchString(answer) || (rec.Code == http.StatusOK) != !strings.HasPrefix(answer, "Error=") {
			t.Fatalf("answer %d %q is not one Chromium parses", rec.Code, answer)
		}
		aid, authOK := fuzzAuth(auth)
		if rec.Code == http.StatusUnauthorized && authOK {
			t.Fatalf("credentials %q refused", auth)
		}
		if rec.Code == http.StatusOK && !authOK {
			t.Fatalf("credentials %q accepted", auth)
		}
		form, ferr := url.ParseQuery(string(body))
		if len(hooks.registered) > 0 {
			if len(hooks.registered) != 1 || ferr != nil || rec.Code != http.StatusOK {
				t.Fatalf("%d registrations reported for a %d answer (form error %v)", len(hooks.registered), rec.Code, ferr)
			}
			r := hooks.registered[0]
			want := Registration{AndroidID: aid, Token: r.Token, Subtype: form.Get("X-subtype"), Sender: form.Get("sender"), App: form.Get("app")}
			if r != want || r.Subtype == "" || r.Sender == "" || r.App == selfApp || answer != "token="+r.Token || r.Token == "" {
				t.Fatalf("registration %+v answered %q for form %v", r, answer, form)
			}
			if r.AndroidID == strconv.FormatUint(fuzzAid, 10) && r.Subtype == testSubtype && r.Sender == testSender && r.Token != fuzzRegToken {
				t.Fatalf("the known subscription got a new token %q: its endpoint would change", r.Token)
			}
			if got, ok := s.registration(r.Token); !ok || got != r {
				t.Fatalf("registration %+v not kept (%+v)", r, got)
			}
		}
		for _, tok := range hooks.unregistered {
			if tok != fuzzRegToken || rec.Code != http.StatusOK || form.Get("delete") != "true" || aid != strconv.FormatUint(fuzzAid, 10) {
				t.Fatalf("token %q unregistered by %q, form %v, answer %d", tok, auth, form, rec.Code)
			}
			if _, ok := s.registration(tok); ok {
				t.Fatalf("token %q still registered after its unregistration was reported", tok)
			}
		}
	})
}

// fuzzAuth reads an Authorization header as the fuzzed server must: the
// known browser with its token, or any other android id (a browser from an
// earlier run, adopted), and returns the android id.
func fuzzAuth(h string) (string, bool) {
	cred, ok := strings.CutPrefix(h, "AidLogin ")
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(cred, ":")
	aid, err1 := strconv.ParseUint(id, 10, 64)
	tok, err2 := strconv.ParseUint(secret, 10, 64)
	if !ok || err1 != nil || err2 != nil || aid == 0 || (aid == fuzzAid && tok != fuzzTok) {
		return "", false
	}
	return strconv.FormatUint(aid, 10), true
}
