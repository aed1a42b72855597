//go:build !wasm

package server

import (
	"testing"
	"time"
)

// TestKeyedLimiterBlocked: blocked says whether a key's budget is spent
// without spending any of it, and how long the wait is; other keys, and a
// limiter without a limit, are never blocked.
func TestKeyedLimiterBlocked(t *testing.T) {
	for _, tt := range []struct {
		name      string
		perMinute int
		takes     int
		blocked   bool
	}{
		{"untouched key", 3, 0, false},
		{"budget left", 3, 2, false},
		{"budget spent", 3, 3, true},
		{"no limit", 0, 10, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newKeyedLimiter(tt.perMinute)
			for i := range tt.takes {
				if ok, _ := l.allow("a"); !ok {
					t.Fatalf("take %d refused", i+1)
				}
			}
			for range 5 { // asking takes nothing
				got, wait := l.blocked("a")
				if got != tt.blocked {
					t.Fatalf("blocked = %v, want %v", got, tt.blocked)
				}
				// A minute buys perMinute requests: one comes back in 20 s.
				if got && (wait <= 19*time.Second || wait > 20*time.Second) {
					t.Errorf("wait %v, want about 20s", wait)
				}
				if !got && wait != 0 {
					t.Errorf("wait %v while not blocked", wait)
				}
			}
			if ok, _ := l.allow("a"); ok == tt.blocked {
				t.Errorf("allow after blocked checks = %v; want the budget blocked left untouched", ok)
			}
			if got, _ := l.blocked("b"); got {
				t.Error("another key is blocked")
			}
		})
	}
}
