package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"pushstart/api"
)

// prettyJSON indents b when it is JSON and returns it unchanged otherwise.
func prettyJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(b), "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// prettySubscription is the subscription's JSON indented for people to
// read: what the page sends, so oldEndpoint, which the page never sets, is
// left out.
func prettySubscription(s api.Subscription) string {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// topicsDetail names a subscription's topics in the flow log.
func topicsDetail(tags []string) string {
	if len(tags) == 0 {
		return "Topics: none"
	}
	return "Topics: " + strings.Join(tags, ", ")
}

// exchangeTitle is a flow log heading such as
// "POST /api/subscriptions → 201 Created".
func exchangeTitle(ex exchange) string {
	if ex.Status == 0 {
		return ex.Method + " " + ex.Path + " → no answer"
	}
	return fmt.Sprintf("%s %s → %d %s", ex.Method, ex.Path, ex.Status, http.StatusText(ex.Status))
}

// exchangeDetail shows what was sent and what came back.
func exchangeDetail(ex exchange) string {
	var b strings.Builder
	if ex.Request != nil {
		b.WriteString("Request body:\n")
		b.WriteString(prettyJSON(ex.Request))
		b.WriteString("\n\n")
	}
	switch {
	case ex.Status == 0:
		b.WriteString("No answer.")
	case len(bytes.TrimSpace(ex.Response)) == 0:
		fmt.Fprintf(&b, "Answer: %d, empty body.", ex.Status)
	default:
		fmt.Fprintf(&b, "Answer body (%d):\n", ex.Status)
		b.WriteString(prettyJSON(ex.Response))
	}
	return b.String()
}

// featuresDetail lists the support check's findings, one per line.
func featuresDetail(f Features) string {
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	lines := []string{
		"window.isSecureContext: " + yes(f.SecureContext),
		"navigator.serviceWorker: " + yes(f.ServiceWorker),
		"window.PushManager: " + yes(f.PushManager),
		"window.Notification: " + yes(f.Notification),
		"iPhone/iPad: " + yes(f.AppleMobile),
		"opened from the home screen / installed: " + yes(f.Standalone),
		"user agent: " + f.UserAgent,
	}
	return strings.Join(lines, "\n")
}

// permissionDetail explains a permission state in the flow log.
func permissionDetail(p PermissionState) string {
	switch p {
	case PermissionGranted:
		return "Notification.permission is \"granted\": the page may subscribe without asking."
	case PermissionDenied:
		return "Notification.permission is \"denied\": the browser will not ask again; the user must allow notifications in the site settings."
	case PermissionDefault:
		return "Notification.permission is \"default\": the user has not decided. The page asks only when Enable notifications is clicked."
	default:
		return "No Notification API."
	}
}
