// Package sse reads Server-Sent Events (the text/event-stream format of the
// HTML standard), the same way for the admin console in the browser and the
// command line: both follow a broadcast's progress from
// GET /api/notifications/{id}/events, which a browser's EventSource cannot
// read with an Authorization header.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxLine bounds one line of a stream; a broadcast's status is a few
// hundred bytes.
const MaxLine = 64 << 10

// Event is one event of a stream.
type Event struct {
	Type string // the event: field; "message" when there was none
	Data []byte // the data: lines, joined by newlines
}

// ErrStop, returned by Read's callback, ends the reading without an error.
var ErrStop = errors.New("sse: stop")

// Read calls onEvent for each event of the stream r until the stream ends
// (nil), onEvent returns ErrStop (nil) or another error (that error), or
// reading fails. Comments (":" lines, which servers send to keep a
// connection open), id: and retry: are read and left; an event cut off by
// the end of the stream is dropped, as browsers drop it. A line longer than
// MaxLine is an error.
func Read(r io.Reader, onEvent func(Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	sc.Split(scanLines)
	var typ string
	var data []byte
	hasData := false
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			// A blank line ends an event; one without data is not
			// dispatched.
			if hasData {
				if typ == "" {
					typ = "message"
				}
				if err := onEvent(Event{Type: typ, Data: data}); err != nil {
					if err == ErrStop {
						return nil
					}
					return err
				}
			}
			typ, data, hasData = "", nil, false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			typ = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		}
	}
	return sc.Err()
}

// scanLines splits a stream into lines ended by "\r\n", "\n" or "\r", the
// three line ends of text/event-stream.
func scanLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		// A "\r" may be the first half of "\r\n": wait for the next byte
		// unless the stream has ended.
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}
