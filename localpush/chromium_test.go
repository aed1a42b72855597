package localpush

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	"google.golang.org/protobuf/encoding/protowire"
)

// fakeChromium plays Chromium's GCM client against the service: check-in
// and registration over HTTP, then the MCS stream over TLS. It is written
// from the wire format in push-protocols.md section 3, independently of
// package gcm.
type fakeChromium struct {
	t        *testing.T
	s        *Service
	aid, tok uint64
	tc       *tls.Conn
	br       *bufio.Reader
}

// checkIn gets an android id and security token from POST /checkin.
func checkInChromium(t *testing.T, s *Service) *fakeChromium {
	t.Helper()
	resp, err := http.Post(s.URL()+"/checkin", "application/x-protobuf", bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("check-in: %d %s", resp.StatusCode, body)
	}
	c := &fakeChromium{t: t, s: s}
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		body = body[n:]
		if typ == protowire.Fixed64Type {
			v, m := protowire.ConsumeFixed64(body)
			switch num {
			case 7:
				c.aid = v
			case 8:
				c.tok = v
			}
			body = body[m:]
			continue
		}
		body = body[protowire.ConsumeFieldValue(num, typ, body):]
	}
	if c.aid == 0 || c.tok == 0 {
		t.Fatal("check-in response without android_id and security_token")
	}
	return c
}

// form posts a registration form with the AidLogin credentials.
func (c *fakeChromium) form(v url.Values) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.s.URL()+"/c2dm/register3", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", fmt.Sprintf("AidLogin %d:%d", c.aid, c.tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

const fakeSubtype = "wp:http://127.0.0.1:8000/#0f0e0d0c-0b0a-4908-8706-050403020100-V2"

// register subscribes with the VAPID key as sender and returns the endpoint
// Debian's Chromium would show.
func (c *fakeChromium) register(sender string) string {
	c.t.Helper()
	return c.registerAs(fakeSubtype, sender)
}

// registerAs subscribes under subtype ("wp:<origin>#<uuid>-V2"): another
// subtype is another subscription of the same browser.
func (c *fakeChromium) registerAs(subtype, sender string) string {
	c.t.Helper()
	st, body := c.form(url.Values{"app": {"org.chromium.linux"}, "X-subtype": {subtype},
		"device": {strconv.FormatUint(c.aid, 10)}, "sender": {sender}})
	tok, ok := strings.CutPrefix(strings.TrimSpace(body), "token=")
	if st != 200 || !ok {
		c.t.Fatalf("register3: %d %q", st, body)
	}
	return "https://jmt17.google.com/fcm/send/" + tok
}

func (c *fakeChromium) unregister(sender string) {
	c.t.Helper()
	if st, body := c.form(url.Values{"app": {"org.chromium.linux"}, "X-subtype": {fakeSubtype},
		"device": {strconv.FormatUint(c.aid, 10)}, "sender": {sender}, "delete": {"true"}}); st != 200 {
		c.t.Fatalf("unregister: %d %q", st, body)
	}
}

// frame is one MCS frame: tag, then a varint length, then a protobuf.
func frame(tag byte, body []byte) []byte {
	return protowire.AppendBytes([]byte{tag}, body)
}

// connect opens the MCS stream and logs in.
func (c *fakeChromium) connect() {
	c.t.Helper()
	c.sendLogin()
	c.loginResponse()
}

// sendLogin opens the MCS stream and sends the version byte and the
// LoginRequest.
func (c *fakeChromium) sendLogin() {
	c.t.Helper()
	mcs := strings.TrimPrefix(c.s.mcsURL, "https://")
	tc, err := tls.Dial("tcp", mcs, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		c.t.Fatalf("MCS dial: %v", err)
	}
	c.t.Cleanup(func() { tc.Close() })
	c.tc, c.br = tc, bufio.NewReader(tc)
	var login []byte
	login = protowire.AppendTag(login, 1, protowire.BytesType)
	login = protowire.AppendString(login, "chrome-1")
	login = protowire.AppendTag(login, 2, protowire.BytesType)
	login = protowire.AppendString(login, "mcs.android.com")
	for _, f := range []protowire.Number{3, 4} {
		login = protowire.AppendTag(login, f, protowire.BytesType)
		login = protowire.AppendString(login, strconv.FormatUint(c.aid, 10))
	}
	login = protowire.AppendTag(login, 5, protowire.BytesType)
	login = protowire.AppendString(login, strconv.FormatUint(c.tok, 10))
	login = protowire.AppendTag(login, 6, protowire.BytesType)
	login = protowire.AppendString(login, fmt.Sprintf("android-%x", c.aid))
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Write(append([]byte{41}, frame(2, login)...)); err != nil {
		c.t.Fatal(err)
	}
}

// loginResponse reads the answer to the login.
func (c *fakeChromium) loginResponse() {
	c.t.Helper()
	c.tc.SetDeadline(time.Now().Add(5 * time.Second))
	if v, err := c.br.ReadByte(); err != nil || v != 41 {
		c.t.Fatalf("MCS version byte %d, %v", v, err)
	}
	if tag, _ := c.readFrame(); tag != 3 {
		c.t.Fatalf("MCS answer to login has tag %d, want LoginResponse (3)", tag)
	}
}

func (c *fakeChromium) readFrame() (byte, []byte) {
	c.t.Helper()
	c.tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	tag, err := c.br.ReadByte()
	if err != nil {
		c.t.Fatalf("MCS read: %v", err)
	}
	n, err := binary.ReadUvarint(c.br)
	if err != nil {
		c.t.Fatalf("MCS read: %v", err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.br, body); err != nil {
		c.t.Fatalf("MCS read: %v", err)
	}
	return tag, body
}

// stanza is what the test reads of a DataMessageStanza.
type stanza struct {
	persistentID, from, category string
	appData                      map[string]string
	rawData                      []byte
	ttl                          uint64
}

// data reads frames until a DataMessageStanza (tag 8) and returns it.
func (c *fakeChromium) data() stanza {
	c.t.Helper()
	for {
		tag, b := c.readFrame()
		if tag != 8 {
			continue
		}
		st := stanza{appData: map[string]string{}}
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			b = b[n:]
			switch {
			case typ == protowire.BytesType:
				v, m := protowire.ConsumeBytes(b)
				b = b[m:]
				switch num {
				case 3:
					st.from = string(v)
				case 5:
					st.category = string(v)
				case 7:
					var k, val string
					for len(v) > 0 {
						fn, _, n := protowire.ConsumeTag(v)
						s, m := protowire.ConsumeBytes(v[n:])
						v = v[n+m:]
						if fn == 1 {
							k = string(s)
						} else {
							val = string(s)
						}
					}
					st.appData[k] = val
				case 9:
					st.persistentID = string(v)
				case 21:
					st.rawData = v
				}
			case typ == protowire.VarintType:
				v, m := protowire.ConsumeVarint(b)
				b = b[m:]
				if num == 17 {
					st.ttl = v
				}
			default:
				b = b[protowire.ConsumeFieldValue(num, typ, b):]
			}
		}
		return st
	}
}

// ack sends a selective ack (IqStanza, extension 12) for persistent ids.
func (c *fakeChromium) ack(ids ...string) {
	c.t.Helper()
	var sel []byte
	for _, id := range ids {
		sel = protowire.AppendTag(sel, 1, protowire.BytesType)
		sel = protowire.AppendString(sel, id)
	}
	var ext []byte
	ext = protowire.AppendTag(ext, 1, protowire.VarintType)
	ext = protowire.AppendVarint(ext, 12)
	ext = protowire.AppendTag(ext, 2, protowire.BytesType)
	ext = protowire.AppendBytes(ext, sel)
	var iq []byte
	iq = protowire.AppendTag(iq, 2, protowire.VarintType)
	iq = protowire.AppendVarint(iq, 1) // set
	iq = protowire.AppendTag(iq, 3, protowire.BytesType)
	iq = protowire.AppendString(iq, "ack-1")
	iq = protowire.AppendTag(iq, 7, protowire.BytesType)
	iq = protowire.AppendBytes(iq, ext)
	if _, err := c.tc.Write(frame(7, iq)); err != nil {
		c.t.Fatal(err)
	}
}

func TestChromiumOverGCMAndMCS(t *testing.T) {
	s := startService(t)
	app, ua := newAppServer(t), newUserAgent(t)
	client := &http.Client{Transport: s.Transport(nil)}

	c := checkInChromium(t, s)
	endpoint := c.register(app.pub)
	reg := waitEvent(t, s, EventRegister, func(e Event) bool { return e.Browser == Chromium })
	if !strings.HasSuffix(endpoint, reg.Endpoint[strings.LastIndex(reg.Endpoint, "/"):]) {
		t.Fatalf("register event endpoint %q does not end in the token of %q", reg.Endpoint, endpoint)
	}

	// Offline: kept with its TTL, or dropped with TTL 0.
	rec := &recorder{base: client.Transport}
	status, h := sendWebPush(t, &http.Client{Transport: rec}, app, ua, endpoint, []byte("queued"), webpush.Options{TTL: 600})
	if status != 201 {
		t.Fatalf("push while offline: %d", status)
	}
	queuedBody := rec.last()
	if st, _ := sendWebPush(t, client, app, ua, endpoint, []byte("dropped"), webpush.Options{TTL: 0}); st != 201 {
		t.Fatalf("TTL 0 push while offline: %d, want 201", st)
	}

	c.connect()
	st := c.data()
	if !bytes.Equal(st.rawData, queuedBody) || decrypt(t, ua, st.rawData) != "queued" {
		t.Fatal("the stanza's raw_data is not the queued request body")
	}
	if st.appData["subtype"] != fakeSubtype || st.appData["content-encoding"] != "aes128gcm" ||
		st.category != "org.chromium.linux" || st.from != app.pub || st.ttl != 600 {
		t.Errorf("stanza %+v", st)
	}
	if loc := h.Get("Location"); !strings.HasSuffix(loc, "/m/"+st.persistentID) {
		t.Errorf("persistent id %q is not the message of Location %q", st.persistentID, loc)
	}
	c.ack(st.persistentID)
	waitEvent(t, s, EventAck, func(e Event) bool { return e.Message == st.persistentID && e.Endpoint == endpoint })

	// Online: delivered at once.
	if st, _ := sendWebPush(t, client, app, ua, endpoint, []byte("live"), webpush.Options{TTL: 60}); st != 201 {
		t.Fatalf("push: %d", st)
	}
	if got := c.data(); decrypt(t, ua, got.rawData) != "live" {
		t.Fatal("wrong message delivered live; the TTL 0 one must have been dropped")
	}

	c.unregister(app.pub)
	waitEvent(t, s, EventUnregister, func(e Event) bool { return e.Browser == Chromium })
	if st, _ := sendWebPush(t, client, app, ua, endpoint, []byte("late"), webpush.Options{TTL: 60}); st != http.StatusGone {
		t.Fatalf("push after unregistration: %d, want 410", st)
	}
}
