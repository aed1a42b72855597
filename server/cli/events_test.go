package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestReadEvents(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		want   []event
	}{
		{
			name:   "named events",
			stream: "event: status\ndata: {\"a\":1}\n\nevent: status\ndata: {\"a\":2}\n\n",
			want:   []event{{"status", `{"a":1}`}, {"status", `{"a":2}`}},
		},
		{
			name:   "no name is message",
			stream: "data: x\n\n",
			want:   []event{{"message", "x"}},
		},
		{
			name:   "CRLF line ends",
			stream: "event: status\r\ndata: x\r\n\r\n",
			want:   []event{{"status", "x"}},
		},
		{
			name:   "comments, id and retry are skipped",
			stream: ": keep-alive\n\nid: 7\nretry: 1000\n: in between\nevent: status\ndata: x\n\n",
			want:   []event{{"status", "x"}},
		},
		{
			name:   "data lines join with newlines",
			stream: "data: {\"a\":\ndata: 1}\n\n",
			want:   []event{{"message", "{\"a\":\n1}"}},
		},
		{
			name:   "one space after the colon is dropped, no more",
			stream: "data:x\n\ndata:  y\n\n",
			want:   []event{{"message", "x"}, {"message", " y"}},
		},
		{
			name:   "an event without data is not dispatched, and its name is forgotten",
			stream: "event: status\n\ndata: x\n\n",
			want:   []event{{"message", "x"}},
		},
		{
			name:   "an event cut off by the end of the stream is dropped",
			stream: "data: x\n\ndata: y\n",
			want:   []event{{"message", "x"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []event
			err := readEvents(strings.NewReader(tt.stream), func(ev event) bool {
				got = append(got, ev)
				return false
			})
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestReadEventsStops(t *testing.T) {
	n := 0
	err := readEvents(strings.NewReader("data: 1\n\ndata: 2\n\ndata: 3\n\n"), func(event) bool {
		n++
		return n == 2
	})
	if err != nil || n != 2 {
		t.Errorf("read %d events, %v; want to stop after 2", n, err)
	}
}

func TestReadEventsLongLine(t *testing.T) {
	err := readEvents(strings.NewReader("data: "+strings.Repeat("x", maxEventLine)+"\n\n"), func(event) bool {
		t.Error("an event past the line limit was dispatched")
		return false
	})
	if err == nil {
		t.Error("no error for a line past the limit")
	}
}
