package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The contract of the admin console's methods, on every backend.

func TestEndpointHost(t *testing.T) {
	tests := []struct{ endpoint, want string }{
		{"https://fcm.googleapis.com/fcm/send/abc", "fcm.googleapis.com"},
		{"https://FCM.GoogleAPIs.com/fcm/send/abc", "fcm.googleapis.com"},
		{"https://web.push.apple.com:443/QG", "web.push.apple.com"},
		{"https://push.example:8443/x", "push.example:8443"},
		{"http://127.0.0.1:39541/wpush/tok", "127.0.0.1:39541"},
		{"http://push.example:80/x", "push.example"},
		{"https://[::1]:8443/x", "[::1]:8443"},
		{"https://push.example/x?token=1", "push.example"},
		{"://nope", ""},
	}
	for _, tt := range tests {
		if got := EndpointHost(tt.endpoint); got != tt.want {
			t.Errorf("EndpointHost(%q) = %q, want %q", tt.endpoint, got, tt.want)
		}
	}
}

// TestSubscriptionHost: every write keeps the endpoint's host, whatever the
// caller put in Host.
func TestSubscriptionHost(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		x := sub("https://FCM.googleapis.com/fcm/send/a")
		x.Host = "chosen.by.caller"
		mustUpsert(t, s, x)
		if got := mustGet(t, s, x.Endpoint).Host; got != "fcm.googleapis.com" {
			t.Errorf("after insert: host %q, want fcm.googleapis.com", got)
		}
		x.UserID = "alice" // the update with a user
		mustUpsert(t, s, x)
		x.UserID = "" // and without
		mustUpsert(t, s, x)
		if got := mustGet(t, s, x.Endpoint).Host; got != "fcm.googleapis.com" {
			t.Errorf("after updates: host %q, want fcm.googleapis.com", got)
		}
		if _, err := s.Replace(ctx, x.Endpoint, sub("http://127.0.0.1:8080/wpush/b")); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, s, "http://127.0.0.1:8080/wpush/b").Host; got != "127.0.0.1:8080" {
			t.Errorf("after Replace: host %q, want 127.0.0.1:8080", got)
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 1 || list[0].Host != "127.0.0.1:8080" {
			t.Errorf("List = %+v, %v; want the one row with its host", list, err)
		}
	})
}

func TestSubscriptionStats(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		got, err := s.SubscriptionStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != 0 || got.ByHost == nil || len(got.ByHost) != 0 || got.ByUserAgent == nil || got.ByTag == nil {
			t.Errorf("empty store: %+v; want 0 and empty (not nil) breakdowns", got)
		}

		for i, x := range []struct {
			endpoint, ua string
			tags         []string
		}{
			{"https://fcm.googleapis.com/fcm/send/1", "Chrome/1", []string{"news", "sport"}},
			{"https://fcm.googleapis.com/fcm/send/2", "Chrome/1", []string{"news"}},
			{"https://fcm.googleapis.com/fcm/send/3", "Chrome/2", nil},
			{"https://updates.push.services.mozilla.com/wpush/v2/4", "Firefox/1", []string{"sport"}},
			{"https://web.push.apple.com/5", "Safari/1", []string{"alerts"}},
			{"https://web.push.apple.com/6", "Safari/1", nil},
		} {
			y := sub(x.endpoint)
			y.UserAgent, y.Tags = x.ua, x.tags
			mustUpsert(t, s, y)
			if i == 0 {
				// Stored again: still one subscription.
				mustUpsert(t, s, y)
			}
		}
		got, err = s.SubscriptionStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			got  []KeyCount
			want string
		}{
			{"by host", got.ByHost, "[{fcm.googleapis.com 3} {web.push.apple.com 2} {updates.push.services.mozilla.com 1}]"},
			{"by user agent", got.ByUserAgent, "[{Chrome/1 2} {Safari/1 2} {Chrome/2 1} {Firefox/1 1}]"},
			{"by tag", got.ByTag, "[{news 2} {sport 2} {alerts 1}]"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if fmt.Sprint(tt.got) != tt.want {
					t.Errorf("%v, want %s", tt.got, tt.want)
				}
			})
		}
		if got.Total != 6 {
			t.Errorf("Total %d, want 6", got.Total)
		}
	})
}

func TestSubscriptionPage(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		if page, err := s.SubscriptionPage(ctx, 0, 10); err != nil || len(page) != 0 {
			t.Errorf("empty store: %v, %v", page, err)
		}
		subs := addSubs(t, s, 6, func(i int, x *Subscription) {
			x.Tags = []string{fmt.Sprintf("t%d", i), "all"}
		})
		if _, err := s.Delete(ctx, subs[2].Endpoint); err != nil {
			t.Fatal(err)
		}
		idsOf := func(page []SubscriptionRow) []int64 {
			var out []int64
			for _, r := range page {
				out = append(out, r.ID)
			}
			return out
		}
		id := func(i int) int64 { return subs[i].ID }
		tests := []struct {
			name   string
			before int64
			limit  int
			want   []int64
		}{
			{"first page", 0, 2, []int64{id(5), id(4)}},
			{"next page skips the deleted one", id(4), 2, []int64{id(3), id(1)}},
			{"last page", id(1), 2, []int64{id(0)}},
			{"past the end", id(0), 2, nil},
			{"before a deleted id", id(2), 10, []int64{id(1), id(0)}},
			{"before above every id", id(5) + 100, 1, []int64{id(5)}},
			{"no limit is MaxPage", 0, 0, []int64{id(5), id(4), id(3), id(1), id(0)}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				page, err := s.SubscriptionPage(ctx, tt.before, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if got := idsOf(page); !slices.Equal(got, tt.want) {
					t.Errorf("ids %v, want %v", got, tt.want)
				}
			})
		}

		page, err := s.SubscriptionPage(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		r := page[1] // subs[4]
		if r.Endpoint != subs[4].Endpoint || r.Host != "push.example" || r.UserAgent != "ua" ||
			!slices.Equal(r.Tags, []string{"all", "t4"}) || !r.CreatedAt.Equal(subs[4].CreatedAt) {
			t.Errorf("row %+v, want subscription 4 with its host and tags", r)
		}
	})
}

// TestLastSuccessAndFailure: each row shows the newest sent delivery and the
// newest of any other outcome, of that subscription alone.
func TestLastSuccessAndFailure(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 3, nil)
		base := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
		at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
		record := func(bid string, sub int, outcome string, min int) {
			t.Helper()
			d := Delivery{BroadcastID: bid, SubscriptionID: subs[sub].ID, EndpointHash: "h", Host: "push.example",
				Outcome: outcome, Status: 201, Attempts: 1, At: at(min)}
			if err := s.RecordDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		// Subscription 0: sent, failed, sent again (newest), rejected in between.
		record("", 0, "sent", 1)
		record("b1", 0, "failed", 2)
		record("b2", 0, "rejected", 4)
		record("b3", 0, "sent", 5)
		record("b4", 0, "sent", 3)
		// Subscription 1: only failures; a newer success of subscription 2.
		record("b1", 1, "unauthorized", 6)
		record("", 1, "failed", 7)
		record("b1", 2, "sent", 9)
		// A test send whose subscription is unknown (0) belongs to none.
		if err := s.RecordDelivery(ctx, Delivery{Outcome: "failed", At: at(20)}); err != nil {
			t.Fatal(err)
		}

		page, err := s.SubscriptionPage(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		show := func(p *time.Time) string {
			if p == nil {
				return "none"
			}
			if p.Location() != time.UTC {
				return "not UTC"
			}
			return fmt.Sprint(int(p.Sub(base).Minutes()))
		}
		var got []string
		for _, r := range page {
			got = append(got, show(r.LastSuccess)+"/"+show(r.LastFailure))
		}
		// Newest first: subscriptions 2, 1, 0.
		if want := []string{"9/none", "none/7", "5/4"}; !slices.Equal(got, want) {
			t.Errorf("last success/failure %v, want %v", got, want)
		}
	})
}

func TestDeleteSubscription(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		subs := addSubs(t, s, 2, func(i int, x *Subscription) { x.Tags = []string{"news"} })
		tests := []struct {
			name string
			id   int64
			want bool
		}{
			{"known", subs[0].ID, true},
			{"already deleted", subs[0].ID, false},
			{"never known", subs[1].ID + 100, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				deleted, err := s.DeleteSubscription(ctx, tt.id)
				if err != nil || deleted != tt.want {
					t.Errorf("DeleteSubscription(%d) = %v, %v; want %v", tt.id, deleted, err, tt.want)
				}
			})
		}
		if _, err := s.Get(ctx, subs[0].Endpoint); err == nil {
			t.Error("the deleted subscription is still there")
		}
		mustGet(t, s, subs[1].Endpoint)
		st, err := s.SubscriptionStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != 1 || fmt.Sprint(st.ByTag) != "[{news 1}]" {
			t.Errorf("after delete: %+v; want 1 subscription and its one tag", st)
		}
	})
}

func TestFindDeliveries(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newTest(t, b)
		// Recorded in this order, so IDs grow down the list; Attempts
		// names each row.
		rows := []struct {
			bid, host, outcome string
		}{
			{"b1", "fcm.googleapis.com", "sent"},                // 1
			{"b1", "updates.push.services.mozilla.com", "sent"}, // 2
			{"b1", "web.push.apple.com", "gone"},                // 3
			{"b2", "fcm.googleapis.com", "failed"},              // 4
			{"b2", "wns2-by3p.notify.windows.com", "sent"},      // 5
			{"", "push.example:8443", "rejected"},               // 6
			{"", "fcm.googleapis.com", "sent"},                  // 7
			{"b2", "api.push.apple.com", "sent"},                // 8
			{"b3", "push.services.mozilla.com", "unauthorized"}, // 9
			{"b3", "notify.windows.com.evil.example", "sent"},   // 10
		}
		for i, r := range rows {
			d := Delivery{BroadcastID: r.bid, SubscriptionID: int64(i + 1), EndpointHash: "h", Host: r.host,
				Outcome: r.outcome, Status: 201, Attempts: i + 1}
			if err := s.RecordDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		all, err := s.FindDeliveries(ctx, DeliveryFilter{})
		if err != nil {
			t.Fatal(err)
		}
		idOf := map[int]int64{} // Attempts -> ID
		for _, d := range all {
			idOf[d.Attempts] = d.ID
		}
		known := DeliveryFilter{
			Hosts:           []string{"fcm.googleapis.com", "push.services.mozilla.com"},
			HostSuffixes:    []string{".push.services.mozilla.com", ".push.apple.com", ".notify.windows.com"},
			ExcludeHosts:    []string{"fcm.googleapis.com", "push.services.mozilla.com"},
			ExcludeSuffixes: []string{".push.services.mozilla.com", ".push.apple.com", ".notify.windows.com"},
		}
		tests := []struct {
			name string
			f    DeliveryFilter
			want string // the rows' Attempts
		}{
			{"everything, newest first", DeliveryFilter{}, "[10 9 8 7 6 5 4 3 2 1]"},
			{"limit", DeliveryFilter{Limit: 3}, "[10 9 8]"},
			{"limit above MaxPage", DeliveryFilter{Limit: MaxPage + 1}, "[10 9 8 7 6 5 4 3 2 1]"},
			{"before", DeliveryFilter{Before: idOf[8], Limit: 2}, "[7 6]"},
			{"broadcast", DeliveryFilter{BroadcastID: "b2"}, "[8 5 4]"},
			{"unknown broadcast", DeliveryFilter{BroadcastID: "nope"}, "[]"},
			{"outcome", DeliveryFilter{Outcome: "sent"}, "[10 8 7 5 2 1]"},
			{"host", DeliveryFilter{Hosts: []string{"fcm.googleapis.com"}}, "[7 4 1]"},
			{"hosts in another case", DeliveryFilter{Hosts: []string{"FCM.googleapis.com", "push.example:8443"}}, "[7 6 4 1]"},
			{"suffix", DeliveryFilter{HostSuffixes: []string{".push.apple.com"}}, "[8 3]"},
			{"suffix in another case", DeliveryFilter{HostSuffixes: []string{".NOTIFY.windows.com"}}, "[5]"},
			{"host or suffix", DeliveryFilter{Hosts: known.Hosts[1:], HostSuffixes: known.HostSuffixes[:1]}, "[9 2]"},
			{"wildcards are literal", DeliveryFilter{HostSuffixes: []string{"%", "_"}}, "[]"},
			{"the others", DeliveryFilter{ExcludeHosts: known.ExcludeHosts, ExcludeSuffixes: known.ExcludeSuffixes}, "[10 6]"},
			{"combined", DeliveryFilter{BroadcastID: "b1", Outcome: "sent", HostSuffixes: known.HostSuffixes[:1]}, "[2]"},
			{"combined, paged", DeliveryFilter{Outcome: "sent", Hosts: known.Hosts, HostSuffixes: known.HostSuffixes,
				Before: idOf[7], Limit: 2}, "[5 2]"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ds, err := s.FindDeliveries(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				got := []int{}
				for _, d := range ds {
					got = append(got, d.Attempts)
				}
				if fmt.Sprint(got) != tt.want {
					t.Errorf("rows %v, want %s", got, tt.want)
				}
			})
		}

		ds, err := s.FindDeliveries(ctx, DeliveryFilter{BroadcastID: "b1", Limit: 1})
		if err != nil || len(ds) != 1 {
			t.Fatalf("%v, %v", ds, err)
		}
		if d := ds[0]; d.BroadcastID != "b1" || d.SubscriptionID != 3 || d.Host != "web.push.apple.com" || d.Outcome != "gone" ||
			d.EndpointHash != "h" || d.Status != 201 || d.At.Location() != time.UTC || d.At.IsZero() {
			t.Errorf("row %+v, want every column of the third", d)
		}

		many := make([]string, maxFilterHosts+1)
		for i := range many {
			many[i] = strings.Repeat("h", i+1)
		}
		if _, err := s.FindDeliveries(ctx, DeliveryFilter{Hosts: many}); err == nil {
			t.Errorf("a filter of %d hosts was accepted", len(many))
		}
	})
}
