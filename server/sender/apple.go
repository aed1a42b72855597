package sender

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"pushstart/server/vapid"
)

// appleHost is the host of every endpoint Apple's push service hands out
// (Safari 16 and later on macOS, Home Screen web apps on iOS and iPadOS 16.4
// and later).
const appleHost = "web.push.apple.com"

// isApple reports whether endpoint is one of Apple's push service.
func isApple(endpoint string) bool {
	u, err := url.Parse(endpoint)
	return err == nil && strings.EqualFold(u.Hostname(), appleHost)
}

// AppleRefusal is an answer of Apple's push service that says why in a JSON
// body, {"reason":"BadJwtToken"}.
type AppleRefusal struct {
	Status string // "403 Forbidden"
	Reason string // Apple's reason: letters and digits only
}

// Error never names VAPID_SUBJECT's value, the operator's contact: it is
// logged and stored with every push Apple refuses (the start-up warning
// names a subject Apple would refuse, once).
func (e *AppleRefusal) Error() string {
	msg := fmt.Sprintf("Apple's push service answered %s, reason %s", e.Status, e.Reason)
	if hint := e.Hint(); hint != "" {
		msg += ": " + hint
	}
	return msg
}

// Hint says what to change for reasons that point at the server's
// configuration, "" for others; it never names the configuration itself,
// so it may reach whoever asked for the push.
func (e *AppleRefusal) Hint() string {
	if e.Reason != "BadJwtToken" {
		return ""
	}
	// Apple's "Sending web push notifications in web apps and browsers"
	// (https://developer.apple.com/documentation/usernotifications/sending-web-push-notifications-in-web-apps-and-browsers)
	// gives as causes a missing JWT, one signed with the wrong private key,
	// a subject that is not a URL or mailto:, a wrong audience and an
	// expiry more than a day ahead. webpush-go sets the last two right;
	// in practice Apple also refuses a subject that is no real contact
	// (see vapid.CheckApple).
	return "Apple refused the VAPID JWT; check that VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are one pair, and " +
		vapid.AppleFix + " if it is no real contact"
}

// maxAppleReason bounds the reason relayed; Apple's are a word each.
const maxAppleReason = 64

// answerError describes a non-2xx answer: for Apple's push service
// (apple), an *AppleRefusal when its body gives a reason, else
// statusError's text.
func (s *Sender) answerError(resp *http.Response, detail, endpoint string, apple bool) error {
	if apple {
		var body struct{ Reason string }
		if json.Unmarshal([]byte(detail), &body) == nil && plainWord(body.Reason, maxAppleReason) {
			return &AppleRefusal{Status: resp.Status, Reason: body.Reason}
		}
	}
	return statusError(resp, detail, endpoint)
}

// plainWord reports whether s is 1 to n ASCII letters and digits: text from
// the network safe to put in a message as it is.
func plainWord(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
