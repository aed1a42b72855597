package messageid

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"pushstart/push"
	"pushstart/server/store"
)

func newSigner(t *testing.T, fill byte) *Signer {
	t.Helper()
	s, err := New(bytes.Repeat([]byte{fill}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	s := newSigner(t, 1)
	tests := []struct {
		name string
		bid  string
		sub  int64
	}{
		{name: "engine id", bid: "0193f2a1b2c3d4e5f60718293a4b5c6d", sub: 7},
		{name: "first subscription", bid: "b", sub: 1},
		{name: "longest", bid: strings.Repeat("Zz-_9", store.MaxBroadcastID/5), sub: math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := s.Sign(tt.bid, tt.sub)
			bid, sub, ok := s.Verify(id)
			if !ok || bid != tt.bid || sub != tt.sub {
				t.Fatalf("Verify(%q) = %q, %d, %v; want %q, %d, true", id, bid, sub, ok, tt.bid, tt.sub)
			}
			if again := s.Sign(tt.bid, tt.sub); again != id {
				t.Errorf("Sign gave %q, then %q: an id must be the same for one push", id, again)
			}
		})
	}
}

// TestLongestIDFits: the id of the longest broadcast id and the largest
// subscription id fits the room a broadcast keeps in its payload.
func TestLongestIDFits(t *testing.T) {
	id := newSigner(t, 1).Sign(strings.Repeat("f", store.MaxBroadcastID), math.MaxInt64)
	if len(id) > push.MaxMessageID {
		t.Fatalf("the longest id is %d bytes, over push.MaxMessageID (%d)", len(id), push.MaxMessageID)
	}
	if _, err := push.WithMessageID([]byte(`{"title":"x"}`), id); err != nil {
		t.Fatalf("push.WithMessageID refuses the longest id: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	s := newSigner(t, 1)
	const bid, sub = "0193f2a1b2c3d4e5f60718293a4b5c6d", int64(12345)
	good := s.Sign(bid, sub)
	parts := strings.Split(good, ".")
	mac := parts[2]
	flip := func(c byte) string {
		if c == 'A' {
			return "B"
		}
		return "A"
	}
	tests := []struct{ name, id string }{
		{name: "empty", id: ""},
		{name: "another broadcast", id: "0193f2a1b2c3d4e5f60718293a4b5c6e." + parts[1] + "." + mac},
		{name: "another subscription", id: bid + "." + strconv.FormatInt(sub+1, 36) + "." + mac},
		{name: "MAC changed", id: bid + "." + parts[1] + "." + mac[:5] + flip(mac[5]) + mac[6:]},
		{name: "MAC last character changed", id: bid + "." + parts[1] + "." + mac[:15] + flip(mac[15])},
		{name: "MAC short", id: bid + "." + parts[1] + "." + mac[:15]},
		{name: "MAC long", id: good + "A"},
		{name: "signed with another key", id: newSigner(t, 2).Sign(bid, sub)},
		{name: "subscription upper case", id: bid + "." + strings.ToUpper(parts[1]) + "." + mac},
		{name: "subscription leading zero", id: bid + ".0" + parts[1] + "." + mac},
		{name: "subscription with sign", id: bid + ".+" + parts[1] + "." + mac},
		{name: "subscription zero", id: s.Sign(bid, 0)},
		{name: "subscription negative", id: s.Sign(bid, -5)},
		{name: "no broadcast", id: s.Sign("", sub)},
		{name: "broadcast not base64url", id: s.Sign("b/1", sub)},
		{name: "one part", id: bid},
		{name: "two parts", id: bid + "." + mac},
		{name: "four parts", id: "x." + good},
		{name: "too long", id: s.Sign(strings.Repeat("f", push.MaxMessageID), sub)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bid, sub, ok := s.Verify(tt.id); ok {
				t.Errorf("Verify(%q) = %q, %d, true; want refused", tt.id, bid, sub)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a key of %d bytes", n)
		}
	}
	if _, err := Parse("not base64url!"); err == nil {
		t.Error("Parse accepted a key that is not base64url")
	}
	k1, k2 := NewKey(), NewKey()
	if k1 == k2 {
		t.Fatal("NewKey gave the same key twice")
	}
	s1, err := Parse(k1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(k1)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Parse(k2)
	if err != nil {
		t.Fatal(err)
	}
	id := s1.Sign("b1", 9)
	if _, _, ok := again.Verify(id); !ok {
		t.Error("an instance with the same key refuses the id")
	}
	if _, _, ok := s2.Verify(id); ok {
		t.Error("an instance with another key accepts the id")
	}
}
