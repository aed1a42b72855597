package push

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestWithMessageID(t *testing.T) {
	tests := []struct {
		name, payload, id, want string
		wantErr                 bool
	}{
		{name: "added last", payload: `{"title":"Hi"}`, id: "b1.7.mac", want: `{"title":"Hi","messageId":"b1.7.mac"}`},
		{name: "empty object", payload: `{}`, id: "x", want: `{"messageId":"x"}`},
		{name: "trailing newline", payload: "{\"title\":\"Hi\"}\n", id: "x", want: `{"title":"Hi","messageId":"x"}`},
		{name: "not an object", payload: `["title"]`, id: "x", wantErr: true},
		{name: "empty id", payload: `{}`, id: "", wantErr: true},
		{name: "quote in id", payload: `{}`, id: `a"b`, wantErr: true},
		{name: "id too long", payload: `{}`, id: strings.Repeat("a", MaxMessageID+1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WithMessageID([]byte(tt.payload), tt.id)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("WithMessageID(%q, %q) = %s, want an error", tt.payload, tt.id, got)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("WithMessageID(%q, %q) = %s, %v; want %s", tt.payload, tt.id, got, err, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("%s is not JSON", got)
			}
		})
	}
}

func TestMessageIDFitsTheReserve(t *testing.T) {
	n := Notification{Title: strings.Repeat("t", 200), Body: strings.Repeat("b", 1000)}
	body, err := n.Marshal(mustOrigin(t, "https://push.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := WithMessageID(body, strings.Repeat("i", MaxMessageID))
	if err != nil {
		t.Fatal(err)
	}
	if grew := len(got) - len(body); grew != MessageIDReserve {
		t.Errorf("the longest id added %d bytes, want MessageIDReserve (%d)", grew, MessageIDReserve)
	}
}

func TestCheckBroadcastSize(t *testing.T) {
	if err := CheckBroadcastSize(make([]byte, MaxBroadcastPayload)); err != nil {
		t.Errorf("exactly MaxBroadcastPayload: %v", err)
	}
	var fe *FieldError
	if err := CheckBroadcastSize(make([]byte, MaxBroadcastPayload+1)); !errors.As(err, &fe) || fe.Field != "notification" {
		t.Errorf("one byte over: %v, want a FieldError at notification", err)
	}
}
