package push

import (
	"bytes"
	"fmt"
)

// MessageIDReserve is how many bytes of a push payload a broadcast keeps
// free for the "messageId" member the server adds to each of its pushes: a
// broadcast's notification may be at most MaxPlaintext - MessageIDReserve
// bytes of JSON.
const MessageIDReserve = 96

// MaxMessageID is the longest message id WithMessageID accepts: what fits
// MessageIDReserve with the member's name and quotes.
const MaxMessageID = MessageIDReserve - len(`,"messageId":""`)

// MaxBroadcastPayload is the largest payload (Notification.Encode) a
// broadcast may carry.
const MaxBroadcastPayload = MaxPlaintext - MessageIDReserve

// CheckBroadcastSize refuses payload, a broadcast's payload before its
// message id (Notification.Encode), when it leaves no room for the message id of MessageIDReserve bytes.
func CheckBroadcastSize(payload []byte) error {
	if len(payload) <= MaxBroadcastPayload {
		return nil
	}
	return &FieldError{Field: "notification", Message: fmt.Sprintf(
		"is %d bytes of JSON; a broadcast's notification holds at most %d (%d of a push's %d are kept for the message id)",
		len(payload), MaxBroadcastPayload, MessageIDReserve, MaxPlaintext)}
}

// WithMessageID returns payload, a JSON object (Notification.Encode), with a
// "messageId" member holding id added at the end of its top level. The service worker sends
// the id back with what became of the notification. id must be at most
// MaxMessageID bytes of the base64url alphabet and "." (nothing to escape).
func WithMessageID(payload []byte, id string) ([]byte, error) {
	if len(id) == 0 || len(id) > MaxMessageID {
		return nil, fmt.Errorf("push: message id of %d bytes; want 1 to %d", len(id), MaxMessageID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c != '.' && !isBase64URLByte(c) {
			return nil, fmt.Errorf("push: message id byte %q is not base64url or \".\"", c)
		}
	}
	body := bytes.TrimRight(payload, " \t\r\n")
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return nil, fmt.Errorf("push: payload is not a JSON object")
	}
	out := make([]byte, 0, len(body)+len(id)+len(`,"messageId":""`))
	out = append(out, body[:len(body)-1]...)
	if len(bytes.TrimSpace(body[1:len(body)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"messageId":`...)
	out = append(append(append(out, '"'), id...), '"')
	return append(out, '}'), nil
}
