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
		return tr("Topics: none")
	}
	return trf("Topics: %s", strings.Join(tags, ", "))
}

// exchangeTitle is a flow log heading such as
// "POST /api/subscriptions → 201 Created".
func exchangeTitle(ex exchange) string {
	if ex.Status == 0 {
		return trf("%s %s → no answer", ex.Method, ex.Path)
	}
	return fmt.Sprintf("%s %s → %d %s", ex.Method, ex.Path, ex.Status, http.StatusText(ex.Status))
}

// exchangeDetail shows what was sent and what came back.
func exchangeDetail(ex exchange) string {
	var b strings.Builder
	if ex.Request != nil {
		b.WriteString(tr("Request body:") + "\n")
		b.WriteString(prettyJSON(ex.Request))
		b.WriteString("\n\n")
	}
	switch {
	case ex.Status == 0:
		b.WriteString(tr("No answer."))
	case len(bytes.TrimSpace(ex.Response)) == 0:
		b.WriteString(trf("Answer: %d, empty body.", ex.Status))
	default:
		b.WriteString(trf("Answer body (%d):", ex.Status) + "\n")
		b.WriteString(prettyJSON(ex.Response))
	}
	return b.String()
}

// featuresDetail lists the support check's findings, one per line.
func featuresDetail(f Features) string {
	yes := func(ok bool) string {
		if ok {
			return tr("yes")
		}
		return tr("no")
	}
	lines := []string{
		"window.isSecureContext: " + yes(f.SecureContext),
		"navigator.serviceWorker: " + yes(f.ServiceWorker),
		"window.PushManager: " + yes(f.PushManager),
		"window.Notification: " + yes(f.Notification),
		trf("iPhone/iPad: %s", yes(f.AppleMobile)),
		trf("opened from the home screen / installed: %s", yes(f.Standalone)),
		trf("user agent: %s", f.UserAgent),
	}
	return strings.Join(lines, "\n")
}

// permissionTitle is a permission state as the flow log's heading says it.
func permissionTitle(p PermissionState) string {
	switch p {
	case PermissionGranted:
		return tr("Permission: granted")
	case PermissionDenied:
		return tr("Permission: denied")
	case PermissionDefault:
		return tr("Permission: default")
	case PermissionUnsupported:
		return tr("Permission: unsupported")
	}
	return trf("Permission: %s", p)
}

// permissionDetail explains a permission state in the flow log.
func permissionDetail(p PermissionState) string {
	switch p {
	case PermissionGranted:
		return tr("Notification.permission is \"granted\": the page may subscribe without asking.")
	case PermissionDenied:
		return tr("Notification.permission is \"denied\": the browser will not ask again; the user must allow notifications in the site settings.")
	case PermissionDefault:
		return tr("Notification.permission is \"default\": the user has not decided. The page asks only when Enable notifications is clicked.")
	default:
		return tr("No Notification API.")
	}
}
