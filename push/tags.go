package push

import "fmt"

// Limits on a subscription's tags: the topics its user picked.
const (
	MaxTags   = 16
	MaxTagLen = 32
)

// CheckTags reports, as a *FieldError naming field (such as "tags" or
// "to.tags"), why tags cannot be a subscription's topics or a broadcast's
// audience: at most MaxTags, none repeated, each 1 to MaxTagLen characters
// of a-z 0-9 - _ (lower case, so that "News" and "news" are not two topics).
func CheckTags(field string, tags []string) error {
	if len(tags) > MaxTags {
		return &FieldError{Field: field, Message: fmt.Sprintf("has %d tags; at most %d are allowed", len(tags), MaxTags)}
	}
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		f := fmt.Sprintf("%s[%d]", field, i)
		if t == "" || len(t) > MaxTagLen {
			return &FieldError{Field: f, Message: fmt.Sprintf("must be 1 to %d characters", MaxTagLen)}
		}
		for _, c := range t {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return &FieldError{Field: f, Message: fmt.Sprintf("%q may hold only a-z 0-9 - _", t)}
			}
		}
		if seen[t] {
			return &FieldError{Field: f, Message: fmt.Sprintf("%q is listed twice", t)}
		}
		seen[t] = true
	}
	return nil
}
