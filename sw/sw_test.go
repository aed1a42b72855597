package sw

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"pushstart/push"
)

// TestWorkerReadsEveryNotificationField keeps the worker and the Go payload
// contract from drifting apart: every JSON field of push.Notification is read
// by the worker, either through OPTION_FIELDS (copied as given) or by the
// code that handles it on its own, and the worker copies no field the
// contract does not have.
func TestWorkerReadsEveryNotificationField(t *testing.T) {
	m := regexp.MustCompile(`(?s)const OPTION_FIELDS = \[(.*?)\];`).FindStringSubmatch(Template)
	if m == nil {
		t.Fatal("app-worker.js has no OPTION_FIELDS array")
	}
	var copied []string
	for _, f := range regexp.MustCompile(`"([A-Za-z]+)"`).FindAllStringSubmatch(m[1], -1) {
		copied = append(copied, f[1])
	}
	// The fields the worker reads by name rather than copying.
	own := map[string]string{
		"title":   "payload.title",
		"actions": "payload.actions",
		"data":    "payload.data",
	}
	for name, use := range own {
		if !strings.Contains(Template, use) {
			t.Errorf("app-worker.js no longer reads %s (%s)", name, use)
		}
	}

	var contract []string
	typ := reflect.TypeFor[push.Notification]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		contract = append(contract, name)
		if _, ok := own[name]; !ok && !slices.Contains(copied, name) {
			t.Errorf("push.Notification has %q, which app-worker.js never reads: add it to OPTION_FIELDS", name)
		}
	}
	for _, name := range copied {
		if !slices.Contains(contract, name) {
			t.Errorf("app-worker.js copies %q, which push.Notification does not have", name)
		}
	}
}
