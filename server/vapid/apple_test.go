package vapid

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckApple(t *testing.T) {
	const fix = "; set VAPID_SUBJECT to mailto:you@your-domain.com or https://your-domain.com"
	good := []string{
		"mailto:you@your-domain.com",
		"MAILTO:ops@push.acme.io",
		" mailto:first.last+push@mail.example.co.uk\n",
		"mailto:admin@localhost-tools.com",
		"mailto:ops@examples.com",
		"mailto:ops@test.example.co",
		"mailto:ops@bücher.de",
		"https://your-site.com",
		"https://push.acme.io:8443/contact?via=push",
		"HTTPS://local.acme.io/",
	}
	for _, s := range good {
		t.Run("accepts "+s, func(t *testing.T) {
			if err := CheckApple(s); err != nil {
				t.Errorf("CheckApple(%q) = %v, want nil", s, err)
			}
		})
	}

	bad := []struct{ subject, want string }{
		// The kit's default.
		{"mailto:webpush@localhost.localdomain", "Apple's push service refuses a contact at localhost (403 BadJwtToken)" + fix},
		{"mailto:admin@localhost", "Apple's push service refuses a contact at localhost (403 BadJwtToken)" + fix},
		{"https://LocalHost./", "refuses a contact at localhost"},
		{"mailto:admin@push.localhost", "refuses a contact at localhost"},
		{"https://localhost:8000/contact", "Apple's push service refuses a contact at localhost (403 BadJwtToken)" + fix},
		{"mailto:me@macbook.local", "Apple's push service refuses a contact at a .local domain, reserved for local networks, tests and examples (403 BadJwtToken)" + fix},
		{"mailto:me@box.localdomain", "refuses a contact at a .localdomain domain"},
		{"mailto:ops@corp.internal", "refuses a contact at a .internal domain"},
		{"mailto:ops@push.test", "refuses a contact at a .test domain"},
		{"mailto:ops@nowhere.invalid", "refuses a contact at a .invalid domain"},
		{"https://shop.example/contact", "refuses a contact at a .example domain"},
		{"mailto:ops@example.com", "Apple's push service refuses a contact at example.com, a domain reserved for examples (403 BadJwtToken)" + fix},
		{"mailto:ops@mail.example.net", "refuses a contact at example.net, a domain reserved for examples"},
		{"https://EXAMPLE.ORG", "refuses a contact at example.org, a domain reserved for examples"},
		{"mailto:ops@intranet", "Apple's push service refuses a contact at a domain without a dot (403 BadJwtToken)" + fix},
		{"https://pushbox/", "refuses a contact at a domain without a dot"},
		{"mailto:ops@192.0.2.7", "Apple's push service refuses a contact at an IP address rather than a domain (403 BadJwtToken)" + fix},
		{"mailto:ops@[192.0.2.7]", "refuses a contact at an IP address"},
		{"https://203.0.113.9:8443/", "refuses a contact at an IP address"},
		{"https://[2001:db8::1]/contact", "refuses a contact at an IP address"},
		{"https://[::1]:8000", "refuses a contact at an IP address"},
	}
	for _, tt := range bad {
		t.Run("refuses "+tt.subject, func(t *testing.T) {
			err := CheckApple(tt.subject)
			var ae *AppleSubjectError
			if !errors.As(err, &ae) {
				t.Fatalf("CheckApple(%q) = %v, want an *AppleSubjectError", tt.subject, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckApple(%q) = %q, want it to contain %q", tt.subject, err, tt.want)
			}
			if !strings.HasSuffix(err.Error(), fix) {
				t.Errorf("CheckApple(%q) = %q, does not end saying what to set", tt.subject, err)
			}
			// The error is logged and stored with every push to Apple,
			// and the advice goes where the configuration must not: the
			// subject, the operator's contact, is in neither, only in
			// the field the start-up warning names it from.
			if strings.Contains(err.Error(), strings.TrimSpace(tt.subject)) {
				t.Errorf("CheckApple(%q) = %q: names the subject", tt.subject, err)
			}
			if strings.Contains(ae.Advice(), strings.TrimSpace(tt.subject)) || !strings.HasSuffix(ae.Advice(), fix) {
				t.Errorf("Advice() = %q: want what to set, without the subject", ae.Advice())
			}
			if ae.Subject != strings.TrimSpace(tt.subject) {
				t.Errorf("Subject = %q, want %q", ae.Subject, strings.TrimSpace(tt.subject))
			}
		})
	}
}

// TestCheckAppleSyntax: a subject that is not a mailto: or https: URI at all,
// or the doubled "mailto:mailto:" an older mistake would put in the JWT,
// gets Subject's error, not Apple's.
func TestCheckAppleSyntax(t *testing.T) {
	for _, s := range []string{"", "ops@acme.io", "http://acme.io", "mailto:mailto:ops@acme.io"} {
		err := CheckApple(s)
		var ae *AppleSubjectError
		if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "VAPID_SUBJECT") {
			t.Errorf("CheckApple(%q) = %v, want Subject's error naming VAPID_SUBJECT", s, err)
		}
	}
}
