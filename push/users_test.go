package push

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckUserID(t *testing.T) {
	tests := []struct {
		name, id string
		ok       bool
	}{
		{"plain", "u-42", true},
		{"email", "ada@example.com", true},
		{"non-ASCII", "zoë", true},
		{"longest", strings.Repeat("u", MaxUserIDLen), true},
		{"empty", "", false},
		{"too long", strings.Repeat("u", MaxUserIDLen+1), false},
		{"invalid UTF-8", "\xff", false},
		{"newline", "a\nb", false},
		{"DEL", "a\x7f", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckUserID("to.users[2]", tt.id)
			var fe *FieldError
			switch {
			case tt.ok && err != nil:
				t.Errorf("CheckUserID(%q) = %v, want nil", tt.id, err)
			case !tt.ok && (!errors.As(err, &fe) || fe.Field != "to.users[2]"):
				t.Errorf("CheckUserID(%q) = %v, want a FieldError at to.users[2]", tt.id, err)
			}
		})
	}
}
