package push

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTags(t *testing.T) {
	if err := CheckTags("tags", []string{"news", "reminders", "a-b_9"}); err != nil {
		t.Fatalf("valid tags refused: %v", err)
	}
	if err := CheckTags("tags", nil); err != nil {
		t.Fatalf("no tags refused: %v", err)
	}
	tooMany := make([]string, MaxTags+1)
	for i := range tooMany {
		tooMany[i] = "t" + strings.Repeat("x", i)
	}
	for _, tc := range []struct {
		tags  []string
		field string
	}{
		{[]string{"news", "News"}, "to.tags[1]"},
		{[]string{""}, "to.tags[0]"},
		{[]string{strings.Repeat("a", MaxTagLen+1)}, "to.tags[0]"},
		{[]string{"news", "news"}, "to.tags[1]"},
		{[]string{"a b"}, "to.tags[0]"},
		{tooMany, "to.tags"},
	} {
		err := CheckTags("to.tags", tc.tags)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("CheckTags(%q) = %v, want a FieldError on %s", tc.tags, err, tc.field)
		}
	}
}
