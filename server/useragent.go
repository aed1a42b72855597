//go:build !wasm

package server

import "strings"

// browserOf names the browser a User-Agent header describes, for the admin
// console's counts: "Edge", "Opera", "Samsung Internet", "Firefox",
// "Chrome", "Safari" or "Other". Most browsers' headers name several
// engines ("Chrome/... Safari/..."), so the order of the checks matters:
// the most specific product first.
func browserOf(ua string) string {
	switch {
	case strings.Contains(ua, "Edg/"), strings.Contains(ua, "EdgA/"), strings.Contains(ua, "EdgiOS/"):
		return "Edge"
	case strings.Contains(ua, "OPR/"), strings.Contains(ua, "Opera"):
		return "Opera"
	case strings.Contains(ua, "SamsungBrowser/"):
		return "Samsung Internet"
	case strings.Contains(ua, "Firefox/"), strings.Contains(ua, "FxiOS/"):
		return "Firefox"
	case strings.Contains(ua, "Chrome/"), strings.Contains(ua, "Chromium/"), strings.Contains(ua, "CriOS/"):
		return "Chrome"
	case strings.Contains(ua, "Safari/"), strings.Contains(ua, "AppleWebKit/"):
		return "Safari"
	}
	return "Other"
}
