package vapid

import (
	"strings"
	"testing"
)

func TestSubject(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "mailto:ops@example.com", want: "ops@example.com"},
		{in: "MAILTO:ops@example.com", want: "ops@example.com"},
		{in: "  mailto:ops@example.com\n", want: "ops@example.com"},
		{in: "mailto:first.last+push@mail.example.org", want: "first.last+push@mail.example.org"},
		{in: "https://example.com", want: "https://example.com"},
		{in: "https://example.com/contact?x=1", want: "https://example.com/contact?x=1"},
		{in: "HTTPS://example.com/contact", want: "https://example.com/contact"},
		{in: "", wantErr: true},
		{in: "ops@example.com", wantErr: true},
		{in: "http://example.com", wantErr: true},
		{in: "ftp://example.com", wantErr: true},
		{in: "mailto:", wantErr: true},
		{in: "mailto:ops", wantErr: true},
		{in: "mailto:ops@", wantErr: true},
		{in: "mailto:@example.com", wantErr: true},
		{in: "mailto:mailto:ops@example.com", wantErr: true},
		{in: "mailto:Ops <ops@example.com>", wantErr: true},
		{in: "mailto:ops@example.com?subject=hi", wantErr: true},
		{in: "mailto:a@b.com, c@d.com", wantErr: true},
		{in: "https:", wantErr: true},
		{in: "https://", wantErr: true},
		{in: "https:example.com", wantErr: true},
		{in: "https://exa mple.com", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Subject(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Subject(%q) = %q, want an error", tt.in, got)
				}
				if !strings.Contains(err.Error(), "VAPID_SUBJECT") {
					t.Errorf("error %q does not name VAPID_SUBJECT", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Subject(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
