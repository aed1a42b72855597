//go:build !wasm

package app

import "time"

// browserClock is the localClock of the native build, where no page runs:
// Go's own time zone rules.
func browserClock(year int, month time.Month, day, hour, min, sec int) time.Time {
	return time.Date(year, month, day, hour, min, sec, 0, time.Local)
}
