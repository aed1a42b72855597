package push

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidateNamesTheField(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     Notification
		field string
	}{
		{"ok", Notification{Title: "Hi", Data: json.RawMessage(`{"url":"/inbox","actionUrls":{"open":"/a"}}`)}, ""},
		{"no title", Notification{Body: "x"}, "notification.title"},
		{"blank title", Notification{Title: "  "}, "notification.title"},
		{"renotify without tag", Notification{Title: "x", Renotify: true}, "notification.renotify"},
		{"bad dir", Notification{Title: "x", Dir: "up"}, "notification.dir"},
		{"vibrate out of range", Notification{Title: "x", Vibrate: []int{-1}}, "notification.vibrate"},
		{"too many actions", Notification{Title: "x", Actions: make([]Action, 5)}, "notification.actions"},
		{"action without title", Notification{Title: "x", Actions: []Action{{Action: "a"}}}, "notification.actions[0].title"},
		{"data not JSON", Notification{Title: "x", Data: json.RawMessage(`{`)}, "notification.data"},
		{"url to another origin", Notification{Title: "x", Data: json.RawMessage(`{"url":"//evil.example/"}`)}, "notification.data.url"},
		{"absolute url", Notification{Title: "x", Data: json.RawMessage(`{"url":"https://evil.example/"}`)}, "notification.data.url"},
		{"backslash url", Notification{Title: "x", Data: json.RawMessage(`{"url":"/\\evil.example"}`)}, "notification.data.url"},
		{"action url elsewhere", Notification{Title: "x", Data: json.RawMessage(`{"actionUrls":{"go":"javascript:alert(1)"}}`)}, "notification.data.actionUrls.go"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.Validate("notification")
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("error %v, want one naming %s", err, tt.field)
			}
		})
	}
}

func TestMarshalRefusesWhatDoesNotFitOneRecord(t *testing.T) {
	n := Notification{Title: "t"}
	empty, err := n.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Fill data so the JSON is exactly MaxPlaintext bytes, then one more.
	pad := MaxPlaintext - len(empty) - len(`,"data":""`)
	n.Data = json.RawMessage(`"` + strings.Repeat("x", pad) + `"`)
	b, err := n.Marshal()
	if err != nil || len(b) != MaxPlaintext {
		t.Fatalf("%d bytes, err %v: want exactly %d accepted", len(b), err, MaxPlaintext)
	}
	n.Data = json.RawMessage(`"` + strings.Repeat("x", pad+1) + `"`)
	_, err = n.Marshal()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "notification" || !strings.Contains(fe.Message, "3993") {
		t.Fatalf("error %v, want one naming notification and the limit", err)
	}
}

func TestDataPassesThroughUntouched(t *testing.T) {
	n := Notification{Title: "t", Data: json.RawMessage(`{"url":"/x","nested":{"a":[1,2]}}`)}
	b, err := n.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"data":{"url":"/x","nested":{"a":[1,2]}}`) {
		t.Fatalf("data changed on the way: %s", b)
	}
}
