package push

import "fmt"

// MaxTTL is the longest TTL, in seconds, a Message may ask for: 28 days,
// the longest push services keep an undelivered message.
const MaxTTL = 2419200

// maxTopicLen is RFC 8030 section 5.4's limit on the Topic header.
const maxTopicLen = 32

// Message is one push message and the headers it is sent with.
type Message struct {
	Payload []byte // Notification.Marshal's JSON (already validated and <= MaxPlaintext)
	TTL     int    // seconds, 0..MaxTTL (28 days)
	Urgency string // "", "very-low", "low", "normal", "high"
	Topic   string // "", or <=32 chars of the base64url alphabet
}

// Validate checks the headers' ranges and the payload's size, returning a
// *FieldError with Field "ttl", "urgency", "topic" or "notification".
func (m Message) Validate() error {
	if m.TTL < 0 || m.TTL > MaxTTL {
		return &FieldError{Field: "ttl", Message: fmt.Sprintf("must be between 0 and %d seconds", MaxTTL)}
	}
	switch m.Urgency {
	case "", "very-low", "low", "normal", "high":
	default:
		return &FieldError{Field: "urgency", Message: "must be very-low, low, normal or high"}
	}
	if len(m.Topic) > maxTopicLen || !IsBase64URL(m.Topic) {
		return &FieldError{Field: "topic", Message: fmt.Sprintf("must be at most %d characters of A-Z a-z 0-9 - _", maxTopicLen)}
	}
	if len(m.Payload) > MaxPlaintext {
		return &FieldError{Field: "notification", Message: fmt.Sprintf(
			"is %d bytes of JSON; a push message holds at most %d", len(m.Payload), MaxPlaintext)}
	}
	return nil
}
