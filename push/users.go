package push

import (
	"fmt"
	"unicode/utf8"
)

// MaxUserIDLen is the longest user id, in bytes, a subscription or a
// broadcast's audience may name.
const MaxUserIDLen = 128

// CheckUserID reports, as a *FieldError naming field (such as "to.users[0]"),
// why id cannot be a user id: 1 to MaxUserIDLen bytes of UTF-8 without
// control characters, wherever it comes from.
func CheckUserID(field, id string) error {
	if id == "" || len(id) > MaxUserIDLen || !utf8.ValidString(id) {
		return &FieldError{Field: field, Message: fmt.Sprintf("must be 1 to %d bytes of UTF-8", MaxUserIDLen)}
	}
	for _, c := range id {
		if c < 0x20 || c == 0x7f {
			return &FieldError{Field: field, Message: "must not hold control characters"}
		}
	}
	return nil
}
