//go:build wasm

package app

import (
	"syscall/js"
	"time"
)

// browserClock is the page's localClock: the browser's Date, whose time
// zone rules know daylight saving time, makes the instant.
func browserClock(year int, month time.Month, day, hour, min, sec int) time.Time {
	d := js.Global().Get("Date").New(year, int(month)-1, day, hour, min, sec)
	if year < 100 {
		// Date reads the years 0 to 99 as 1900 to 1999.
		d.Call("setFullYear", year)
	}
	return time.UnixMilli(int64(d.Call("getTime").Float()))
}
