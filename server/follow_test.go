//go:build !wasm

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pushstart/api"
	"pushstart/localpush"
	"pushstart/push"
	"pushstart/server/store"
)

// User-Agent headers of the browsers the console counts.
const (
	uaChrome  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	uaEdge    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
	uaFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaSafari  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)

// adminGet asks h for path with the admin token and decodes the JSON answer
// into out (when the status is 200); it returns the status and the body.
func adminGet(t *testing.T, h http.Handler, path string, out any) (int, []byte) {
	t.Helper()
	return adminDo(t, h, "GET", path, out)
}

func adminDo(t *testing.T, h http.Handler, method, path string, out any) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", bearer)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	if rec.Code == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
	return rec.Code, body
}

// subscribeFrom saves a subscription to endpoint through h, as a browser
// with User-Agent ua would, with tags.
func subscribeFrom(t *testing.T, h http.Handler, endpoint, ua string, tags ...string) {
	t.Helper()
	sub := newSubscription(t, endpoint)
	if tags != nil {
		sub["tags"] = tags
	}
	j, _ := json.Marshal(sub)
	req := httptest.NewRequest("POST", api.PathSubscriptions, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("subscribe %s: %d %s", endpoint, rec.Code, rec.Body)
	}
}

// record appends a delivery to the log as the engine would.
func record(t *testing.T, st store.Store, d store.Delivery) {
	t.Helper()
	if err := st.RecordDelivery(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func TestFollowNeedsTheAdminToken(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/1", "")
	for _, tt := range []struct{ method, path string }{
		{"GET", api.PathAdminSubscriptionStats},
		{"GET", api.PathAdminSubscriptions},
		{"DELETE", "/api/admin/subscriptions/1"},
		{"GET", api.PathAdminDeliveries},
	} {
		for _, auth := range []string{"", "Bearer wrong-token"} {
			t.Run(tt.method+" "+tt.path+" "+auth, func(t *testing.T) {
				req := httptest.NewRequest(tt.method, tt.path, nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				rec := httptest.NewRecorder()
				e.h.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("%d %s, want 401", rec.Code, rec.Body)
				}
			})
		}
	}
	if n, _ := e.store.Count(context.Background()); n != 1 {
		t.Errorf("%d subscriptions after an unauthorized delete, want 1", n)
	}
}

// TestSubscriptionStatsByServiceBrowserAndTag: subscriptions of every push
// service, from several browsers, counted as the console shows them.
func TestSubscriptionStatsByServiceBrowserAndTag(t *testing.T) {
	e := newTestEnv(t)
	for _, s := range []struct {
		endpoint, ua string
		tags         []string
	}{
		{"https://fcm.googleapis.com/fcm/send/secret-a", uaChrome, []string{"news"}},
		{"https://fcm.googleapis.com/fcm/send/secret-b", uaChrome, []string{"news", "sport"}},
		{"https://android.googleapis.com/gcm/send/secret-c", uaChrome, nil},
		{"https://updates.push.services.mozilla.com/wpush/v2/secret-d", uaFirefox, []string{"sport"}},
		{"https://web.push.apple.com/secret-e", uaSafari, nil},
		{"https://wns2-by3p.notify.windows.com/w/?token=secret-f", uaEdge, []string{"news"}},
		{e.push.URL + "/push/secret-g", uaFirefox, nil},
	} {
		subscribeFrom(t, e.h, s.endpoint, s.ua, s.tags...)
	}
	var got api.SubscriptionStats
	status, body := adminGet(t, e.h, api.PathAdminSubscriptionStats, &got)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	if bytes.Contains(body, []byte("secret-")) {
		t.Errorf("an endpoint in the answer: %s", body)
	}
	if got.Total != 7 {
		t.Errorf("total %d, want 7", got.Total)
	}
	for _, tt := range []struct {
		name string
		got  []api.Count
		want string
	}{
		{"by service", got.ByService, "[{fcm 3} {apple 1} {microsoft 1} {mozilla 1} {other 1}]"},
		{"by browser", got.ByBrowser, "[{Chrome 3} {Firefox 2} {Edge 1} {Safari 1}]"},
		{"by tag", got.ByTag, "[{news 3} {sport 2}]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if fmt.Sprint(tt.got) != tt.want {
				t.Errorf("%v, want %s", tt.got, tt.want)
			}
		})
	}

	empty := newTestEnv(t)
	status, body = adminGet(t, empty.h, api.PathAdminSubscriptionStats, nil)
	if status != http.StatusOK || string(body) != `{"total":0,"byService":[],"byBrowser":[],"byTag":[]}`+"\n" {
		t.Errorf("no subscriptions: %d %s; want zero and empty lists", status, body)
	}
}

// localEnv is a server in local mode (PUSH_SERVICE=local) over its own
// store: the local push service runs, and Chromium's FCM endpoints are
// rerouted to it.
type localEnv struct {
	h     http.Handler
	store *store.DB
	local *localpush.Service
}

func newLocalEnv(t *testing.T) *localEnv {
	t.Helper()
	local, err := localpush.New(localpush.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	st, err := store.OpenSQLite(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := New(DefaultConfig(), Deps{Store: st, AdminToken: testAdminToken, Local: local,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return &localEnv{h: srv.Handler(), store: st, local: local}
}

// TestLocalModeServices: in local mode the local push service's endpoints,
// and the FCM ones it stands in for, are the local service's.
func TestLocalModeServices(t *testing.T) {
	e := newLocalEnv(t)
	localHost := strings.TrimPrefix(e.local.URL(), "http://")
	subscribeFrom(t, e.h, e.local.EndpointPrefix()+"secret1", uaFirefox)
	subscribeFrom(t, e.h, "https://fcm.googleapis.com/fcm/send/secret2", uaChrome)
	subscribeFrom(t, e.h, "https://jmt17.google.com/fcm/send/secret3", uaChrome)
	subscribeFrom(t, e.h, "https://android.googleapis.com/gcm/send/secret4", uaChrome)
	subscribeFrom(t, e.h, "https://updates.push.services.mozilla.com/wpush/v2/secret5", uaFirefox)

	var stats api.SubscriptionStats
	if status, body := adminGet(t, e.h, api.PathAdminSubscriptionStats, &stats); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	if got, want := fmt.Sprint(stats.ByService), "[{local 3} {fcm 1} {mozilla 1}]"; got != want {
		t.Errorf("by service %s, want %s", got, want)
	}
	var page api.SubscriptionPage
	adminGet(t, e.h, api.PathAdminSubscriptions, &page)
	if len(page.Subscriptions) != 5 {
		t.Fatalf("page %+v, want the 5", page)
	}
	if first := page.Subscriptions[4]; first.Host != localHost || first.Service != api.ServiceLocal {
		t.Errorf("the local endpoint's row: host %q, service %q; want %q, local", first.Host, first.Service, localHost)
	}

	for i, host := range []string{localHost, "fcm.googleapis.com", "jmt17.google.com", "android.googleapis.com", "updates.push.services.mozilla.com"} {
		record(t, e.store, store.Delivery{Host: host, Outcome: "sent", Attempts: i + 1})
	}
	for _, tt := range []struct {
		service string
		want    []string
	}{
		{api.ServiceLocal, []string{"jmt17.google.com", "fcm.googleapis.com", localHost}},
		{api.ServiceFCM, []string{"android.googleapis.com"}},
		{api.ServiceMozilla, []string{"updates.push.services.mozilla.com"}},
		{api.ServiceOther, nil},
	} {
		t.Run(tt.service, func(t *testing.T) {
			var got api.DeliveryPage
			if status, body := adminGet(t, e.h, api.PathAdminDeliveries+"?service="+tt.service, &got); status != http.StatusOK {
				t.Fatalf("%d %s", status, body)
			}
			var hosts []string
			for _, d := range got.Deliveries {
				hosts = append(hosts, d.Host)
				if d.Service != tt.service {
					t.Errorf("delivery to %s shown as %s", d.Host, d.Service)
				}
			}
			if !slices.Equal(hosts, tt.want) {
				t.Errorf("hosts %v, want %v", hosts, tt.want)
			}
		})
	}
}

// TestSubscriptionPages: the console walks every subscription, newest
// first, a page at a time, and sees of each what it may show.
func TestSubscriptionPages(t *testing.T) {
	e := newTestEnv(t)
	var endpoints []string
	for i := range 5 {
		endpoints = append(endpoints, fmt.Sprintf("https://fcm.googleapis.com/fcm/send/secret-%d", i))
		subscribeFrom(t, e.h, endpoints[i], uaChrome, fmt.Sprintf("t%d", i), "all")
	}
	e.user.Store("alice")
	subscribeFrom(t, e.h, "https://web.push.apple.com/secret-5", uaSafari)
	e.user.Store("")
	endpoints = append(endpoints, "https://web.push.apple.com/secret-5")

	var seen []api.SubscriptionInfo
	var nexts []string
	path := api.PathAdminSubscriptions + "?limit=2"
	for range 10 {
		var page api.SubscriptionPage
		status, body := adminGet(t, e.h, path, &page)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		if bytes.Contains(body, []byte("secret-")) {
			t.Errorf("an endpoint in the answer: %s", body)
		}
		seen = append(seen, page.Subscriptions...)
		nexts = append(nexts, page.Next)
		if page.Next == "" {
			break
		}
		path = api.PathAdminSubscriptions + "?limit=2&before=" + page.Next
	}
	if len(seen) != 6 || len(nexts) != 3 || nexts[2] != "" {
		t.Fatalf("%d subscriptions in %d pages (next %q), want 6 in 3", len(seen), len(nexts), nexts)
	}
	for i, s := range seen {
		if want := push.Fingerprint(endpoints[5-i]); s.EndpointHash != want {
			t.Errorf("row %d: endpoint hash %q, want %q (newest first)", i, s.EndpointHash, want)
		}
		if i > 0 && s.ID >= seen[i-1].ID {
			t.Errorf("row %d: id %d after %d, want newest first", i, s.ID, seen[i-1].ID)
		}
	}
	if nexts[0] != strconv.FormatInt(seen[1].ID, 10) {
		t.Errorf("next %q, want the last row's id %d", nexts[0], seen[1].ID)
	}
	apple, fcm := seen[0], seen[1]
	if apple.Host != "web.push.apple.com" || apple.Service != api.ServiceApple || apple.Browser != "Safari" ||
		apple.UserAgent != uaSafari || apple.UserID != "alice" || apple.Tags == nil || len(apple.Tags) != 0 ||
		apple.CreatedAt.IsZero() || apple.LastSuccess != nil || apple.LastFailure != nil {
		t.Errorf("newest row %+v", apple)
	}
	if fcm.Service != api.ServiceFCM || fcm.Browser != "Chrome" || !slices.Equal(fcm.Tags, []string{"all", "t4"}) || fcm.UserID != "" {
		t.Errorf("second row %+v", fcm)
	}

	var all api.SubscriptionPage
	adminGet(t, e.h, api.PathAdminSubscriptions, &all)
	if len(all.Subscriptions) != 6 || all.Next != "" {
		t.Errorf("default page: %d rows, next %q; want all 6 and no next", len(all.Subscriptions), all.Next)
	}
}

// TestSubscriptionLastSuccessAndFailure: the page shows when a push last
// reached each subscription and when one last failed.
func TestSubscriptionLastSuccessAndFailure(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/secret-ok", "")
	e.subscribeAs(t, "/push/secret-flaky", "")
	send := func(path string) {
		t.Helper()
		e.do(t, "POST", api.PathTestSend, map[string]any{"endpoint": e.push.URL + path, "notification": map[string]any{"title": "x"}})
	}
	send("/push/secret-ok")
	send("/push/secret-flaky")
	e.push.status.Store(http.StatusInternalServerError)
	send("/push/secret-flaky")

	var page api.SubscriptionPage
	status, body := adminGet(t, e.h, api.PathAdminSubscriptions, &page)
	if status != http.StatusOK || len(page.Subscriptions) != 2 {
		t.Fatalf("%d %s", status, body)
	}
	flaky, ok := page.Subscriptions[0], page.Subscriptions[1]
	if ok.LastSuccess == nil || ok.LastFailure != nil {
		t.Errorf("sent once: last success %v, last failure %v; want a success only", ok.LastSuccess, ok.LastFailure)
	}
	if flaky.LastSuccess == nil || flaky.LastFailure == nil || flaky.LastFailure.Before(*flaky.LastSuccess) {
		t.Errorf("sent, then failed: last success %v, last failure %v; want both, the failure later", flaky.LastSuccess, flaky.LastFailure)
	}

	status, body = adminGet(t, e.h, api.PathAdminDeliveries, nil)
	if status != http.StatusOK || bytes.Contains(body, []byte("secret-")) {
		t.Errorf("delivery log: %d %s; want no endpoint in it", status, body)
	}
}

func TestDeleteSubscriptionByID(t *testing.T) {
	e := newTestEnv(t)
	e.subscribeAs(t, "/push/1", "", "news")
	e.subscribeAs(t, "/push/2", "")
	var page api.SubscriptionPage
	adminGet(t, e.h, api.PathAdminSubscriptions, &page)
	id := page.Subscriptions[1].ID // /push/1
	path := "/api/admin/subscriptions/" + strconv.FormatInt(id, 10)

	if status, body := adminDo(t, e.h, "DELETE", path, nil); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s, want 204", status, body)
	}
	if _, err := e.store.Get(context.Background(), e.push.URL+"/push/1"); err != store.ErrNotFound {
		t.Errorf("after DELETE the subscription is there: %v", err)
	}
	var stats api.SubscriptionStats
	adminGet(t, e.h, api.PathAdminSubscriptionStats, &stats)
	if stats.Total != 1 || len(stats.ByTag) != 0 {
		t.Errorf("after DELETE: %+v; want 1 subscription and no tags", stats)
	}
	status, body := adminDo(t, e.h, "DELETE", path, nil)
	var out api.Error
	json.Unmarshal(body, &out)
	if status != http.StatusNotFound || out.Error == "" {
		t.Errorf("DELETE again: %d %s, want 404", status, body)
	}
	if status, body := adminDo(t, e.h, "GET", path, nil); status != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %d %s, want 405", path, status, body)
	}
}

// TestDeliveryLogFilters: the log by broadcast, outcome and push service,
// each and together, a page at a time.
func TestDeliveryLogFilters(t *testing.T) {
	e := newTestEnv(t)
	testHost := strings.TrimPrefix(e.push.URL, "http://")
	// Attempts names each row; they are recorded in this order.
	for i, d := range []struct{ bid, host, outcome string }{
		{"b1", "fcm.googleapis.com", "sent"},                // 1
		{"b1", "updates.push.services.mozilla.com", "sent"}, // 2
		{"b1", "web.push.apple.com", "gone"},                // 3
		{"b2", "fcm.googleapis.com", "failed"},              // 4
		{"b2", "wns2-by3p.notify.windows.com", "sent"},      // 5
		{"", testHost, "rejected"},                          // 6
		{"", "android.googleapis.com", "sent"},              // 7
		{"b2", "push.services.mozilla.com", "unauthorized"}, // 8
		{"", "", "failed"},                                  // 9: logged before hosts were
	} {
		record(t, e.store, store.Delivery{BroadcastID: d.bid, SubscriptionID: int64(i + 1), EndpointHash: push.Fingerprint(d.host),
			Host: d.host, Outcome: d.outcome, Status: 201, Attempts: i + 1})
	}
	list := func(t *testing.T, query string) ([]int, api.DeliveryPage) {
		t.Helper()
		var page api.DeliveryPage
		status, body := adminGet(t, e.h, api.PathAdminDeliveries+query, &page)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", query, status, body)
		}
		rows := []int{}
		for _, d := range page.Deliveries {
			rows = append(rows, d.Attempts)
		}
		return rows, page
	}

	tests := []struct {
		name, query string
		want        string
	}{
		{"everything, newest first", "", "[9 8 7 6 5 4 3 2 1]"},
		{"broadcast", "?broadcast=b1", "[3 2 1]"},
		{"unknown broadcast", "?broadcast=nope", "[]"},
		{"outcome", "?outcome=sent", "[7 5 2 1]"},
		{"fcm", "?service=fcm", "[7 4 1]"},
		{"mozilla", "?service=mozilla", "[8 2]"},
		{"apple", "?service=apple", "[3]"},
		{"microsoft", "?service=microsoft", "[5]"},
		{"local, which is off", "?service=local", "[]"},
		{"other", "?service=other", "[9 6]"},
		{"broadcast and outcome", "?broadcast=b2&outcome=sent", "[5]"},
		{"broadcast and service", "?broadcast=b2&service=fcm", "[4]"},
		{"all three", "?broadcast=b1&outcome=sent&service=mozilla", "[2]"},
		{"all three, nothing", "?broadcast=b1&outcome=failed&service=mozilla", "[]"},
		{"limited", "?limit=3", "[9 8 7]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if rows, _ := list(t, tt.query); fmt.Sprint(rows) != tt.want {
				t.Errorf("rows %v, want %s", rows, tt.want)
			}
		})
	}

	t.Run("each service shows its own", func(t *testing.T) {
		n := 0
		for _, svc := range api.Services {
			_, page := list(t, "?service="+svc)
			for _, d := range page.Deliveries {
				n++
				if d.Service != svc {
					t.Errorf("?service=%s shows a delivery to %q as %s", svc, d.Host, d.Service)
				}
			}
		}
		if n != 9 {
			t.Errorf("the services' logs hold %d rows together, want all 9", n)
		}
	})

	t.Run("pages", func(t *testing.T) {
		var all []int
		query := "?service=fcm&limit=2"
		for range 5 {
			rows, page := list(t, query)
			all = append(all, rows...)
			if page.Next == "" {
				break
			}
			if last := page.Deliveries[len(page.Deliveries)-1]; page.Next != strconv.FormatInt(last.ID, 10) {
				t.Errorf("next %q, want the last row's id %d", page.Next, last.ID)
			}
			query = "?service=fcm&limit=2&before=" + page.Next
		}
		if fmt.Sprint(all) != "[7 4 1]" {
			t.Errorf("pages held %v, want [7 4 1]", all)
		}
	})

	_, page := list(t, "?broadcast=b1&outcome=gone")
	want := api.DeliveryInfo{ID: page.Deliveries[0].ID, BroadcastID: "b1", EndpointHash: push.Fingerprint("web.push.apple.com"),
		Host: "web.push.apple.com", Service: api.ServiceApple, Outcome: "gone", Status: 201, Attempts: 3, At: page.Deliveries[0].At}
	if len(page.Deliveries) != 1 || page.Deliveries[0] != want || page.Deliveries[0].At.IsZero() {
		t.Errorf("%+v, want %+v", page.Deliveries, want)
	}
}

// TestFollowBadParameters: a parameter out of bounds is refused naming it.
func TestFollowBadParameters(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name, method, path, field string
	}{
		{"limit zero", "GET", api.PathAdminSubscriptions + "?limit=0", "limit"},
		{"limit too high", "GET", api.PathAdminSubscriptions + "?limit=101", "limit"},
		{"limit not a number", "GET", api.PathAdminSubscriptions + "?limit=ten", "limit"},
		{"before zero", "GET", api.PathAdminSubscriptions + "?before=0", "before"},
		{"before negative", "GET", api.PathAdminSubscriptions + "?before=-5", "before"},
		{"before not an id", "GET", api.PathAdminSubscriptions + "?before=abc", "before"},
		{"deliveries limit", "GET", api.PathAdminDeliveries + "?limit=1000", "limit"},
		{"deliveries before", "GET", api.PathAdminDeliveries + "?before=1.5", "before"},
		{"unknown outcome", "GET", api.PathAdminDeliveries + "?outcome=delivered", "outcome"},
		{"outcome in another case", "GET", api.PathAdminDeliveries + "?outcome=SENT", "outcome"},
		{"unknown service", "GET", api.PathAdminDeliveries + "?service=gcm", "service"},
		{"broadcast too long", "GET", api.PathAdminDeliveries + "?broadcast=" + strings.Repeat("b", store.MaxBroadcastID+1), "broadcast"},
		{"id not a number", "DELETE", "/api/admin/subscriptions/abc", "id"},
		{"id zero", "DELETE", "/api/admin/subscriptions/0", "id"},
		{"id negative", "DELETE", "/api/admin/subscriptions/-1", "id"},
		{"id too large", "DELETE", "/api/admin/subscriptions/99999999999999999999", "id"},
		{"stats is not an id", "DELETE", api.PathAdminSubscriptionStats, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := adminDo(t, e.h, tt.method, tt.path, nil)
			var out api.Error
			json.Unmarshal(body, &out)
			if status != http.StatusBadRequest || out.Field != tt.field || !strings.Contains(out.Error, tt.field) {
				t.Errorf("%d %s, want 400 naming %s", status, body, tt.field)
			}
		})
	}
}
