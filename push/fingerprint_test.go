package push

import (
	"regexp"
	"testing"
)

func TestFingerprint(t *testing.T) {
	h := Fingerprint("https://push.example/abc")
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(h) {
		t.Fatalf("Fingerprint = %q, want 12 lowercase hex characters", h)
	}
	if h != Fingerprint("https://push.example/abc") {
		t.Error("Fingerprint is not stable")
	}
	if h == Fingerprint("https://push.example/abd") {
		t.Error("different secrets hash alike")
	}
	// sha256("") = e3b0c44298fc1c14...
	if got := Fingerprint(""); got != "e3b0c44298fc" {
		t.Errorf(`Fingerprint("") = %q, want "e3b0c44298fc"`, got)
	}
}
