package sse

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadEvents(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []string // "type|data"
	}{
		{name: "one event", stream: "event: status\ndata: {\"id\":\"a\"}\n\n", want: []string{`status|{"id":"a"}`}},
		{name: "data lines join with newlines", stream: "data: one\ndata: two\n\n", want: []string{"message|one\ntwo"}},
		{name: "CRLF line ends", stream: "event: status\r\ndata: x\r\n\r\nevent: status\r\ndata: y\r\n\r\n", want: []string{"status|x", "status|y"}},
		{name: "CR line ends", stream: "event: status\rdata: x\r\r", want: []string{"status|x"}},
		{name: "comments and keep-alives are skipped", stream: ": keep-alive\n\n: hello\nevent: status\ndata: x\n\n", want: []string{"status|x"}},
		{name: "only one space after the colon is dropped", stream: "data:x\n\ndata:  y\n\n", want: []string{"message|x", "message| y"}},
		{name: "a field without colon", stream: "data\n\n", want: []string{"message|"}},
		{name: "an event without data is not dispatched", stream: "event: status\n\n", want: nil},
		{name: "the type does not carry over", stream: "event: status\ndata: x\n\ndata: y\n\n", want: []string{"status|x", "message|y"}},
		{name: "id and retry lines are ignored", stream: "id: 7\nretry: 100\nevent: status\ndata: x\n\n", want: []string{"status|x"}},
		{name: "an unfinished event at the end is dropped", stream: "event: status\ndata: x\n\nevent: status\ndata: y", want: []string{"status|x"}},
		{name: "empty stream", stream: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			// One byte at a time: a "\r\n" split across reads is one line end.
			err := Read(iotest.OneByteReader(strings.NewReader(tt.stream)), func(ev Event) error {
				got = append(got, ev.Type+"|"+string(ev.Data))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("events %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("a line too long", func(t *testing.T) {
		err := Read(strings.NewReader("data: "+strings.Repeat("x", MaxLine)+"\n\n"), func(Event) error { return nil })
		if err == nil {
			t.Fatal("no error for a line longer than MaxLine")
		}
	})
	t.Run("the handler's error stops the reading", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := Read(strings.NewReader("data: 1\n\ndata: 2\n\n"), func(Event) error { n++; return stop })
		if err != stop || n != 1 {
			t.Fatalf("err %v after %d events, want stop after 1", err, n)
		}
	})
	t.Run("ErrStop stops without an error", func(t *testing.T) {
		n := 0
		err := Read(strings.NewReader("data: 1\n\ndata: 2\n\n"), func(Event) error { n++; return ErrStop })
		if err != nil || n != 1 {
			t.Fatalf("err %v after %d events, want nil after 1", err, n)
		}
	})
}
