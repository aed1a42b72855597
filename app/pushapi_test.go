package app

import (
	"errors"
	"strings"
	"testing"

	"pushstart/push"
)

// Two P-256 public keys from RFC 8291 Appendix A.
const (
	keyA = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
	keyB = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)

func TestDecodeKey(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		wantErr string // "" for success
	}{
		{name: "unpadded base64url", key: keyA},
		{name: "padded, as Firefox writes it", key: keyA + "="},
		{name: "surrounding space", key: " " + keyB + "\n"},
		{name: "empty", key: "", wantErr: "empty"},
		{name: "standard base64 alphabet", key: strings.ReplaceAll(keyA, "_", "/"), wantErr: "not base64url"},
		{name: "too short", key: keyA[:40], wantErr: "want the 65-byte"},
		{name: "compressed point", key: "Ag" + keyA[2:], wantErr: "starting with 0x04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := decodeKey(tt.key)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("decodeKey: %v", err)
				}
				if len(b) != 65 || push.EncodeBase64URL(b) != strings.TrimSpace(strings.TrimRight(strings.TrimSpace(tt.key), "=")) {
					t.Fatalf("decodeKey round trip: got %d bytes, %s", len(b), push.EncodeBase64URL(b))
				}
				return
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("decodeKey error = %v, want kind %q", err, ErrInvalidKey)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("decodeKey error %q does not say %q", err, tt.wantErr)
			}
		})
	}
}

func TestSameKey(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"identical", keyA, keyA, true},
		{"padding differs", keyA, keyA + "=", true},
		{"rotated key", keyA, keyB, false},
		{"one unreadable", keyA, "not a key", false},
		{"both empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameKey(tt.a, tt.b); got != tt.want {
				t.Fatalf("sameKey = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFeaturesErr(t *testing.T) {
	all := Features{Browser: true, SecureContext: true, ServiceWorker: true, PushManager: true, Notification: true}
	iphoneTab := Features{Browser: true, SecureContext: true, ServiceWorker: true, AppleMobile: true}
	iphoneApp := iphoneTab
	iphoneApp.Standalone = true
	noPush := all
	noPush.PushManager = false
	insecure := Features{Browser: true}
	const firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	firefoxPrivate := all
	firefoxPrivate.ServiceWorker, firefoxPrivate.UserAgent = false, firefoxUA
	chromeNoWorker := firefoxPrivate
	chromeNoWorker.UserAgent = chromeUA
	firefoxNoPush := all
	firefoxNoPush.ServiceWorker, firefoxNoPush.PushManager, firefoxNoPush.UserAgent = false, false, firefoxUA

	tests := []struct {
		name     string
		f        Features
		wantKind ErrorKind // "" for no error
		wantText string
	}{
		{name: "everything present", f: all},
		{name: "not a browser", f: Features{}, wantKind: ErrUnsupported, wantText: "outside the browser"},
		{name: "plain http on a LAN address", f: insecure, wantKind: ErrInsecureContext, wantText: "https://"},
		{name: "iPhone Safari tab", f: iphoneTab, wantKind: ErrNeedsHomeScreen, wantText: "Share > Add to Home Screen, then open it from there"},
		{name: "home screen app on old iOS", f: iphoneApp, wantKind: ErrUnsupported, wantText: "16.4"},
		{name: "desktop browser without Push API", f: noPush, wantKind: ErrUnsupported, wantText: "lacks PushManager"},
		{name: "Firefox private window before service workers came to them", f: firefoxPrivate, wantKind: ErrPrivateWindow, wantText: "private window"},
		{name: "Chrome without service workers is no private window", f: chromeNoWorker, wantKind: ErrUnsupported, wantText: "lacks navigator.serviceWorker"},
		{name: "Firefox lacking push too", f: firefoxNoPush, wantKind: ErrUnsupported, wantText: "lacks navigator.serviceWorker, PushManager"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Err()
			if tt.wantKind == "" {
				if err != nil {
					t.Fatalf("Err() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantKind) {
				t.Fatalf("Err() = %v, want kind %q", err, tt.wantKind)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("Err() = %q, want it to say %q", err, tt.wantText)
			}
		})
	}
}

func TestIsAppleMobile(t *testing.T) {
	tests := []struct {
		name  string
		ua    string
		touch int
		want  bool
	}{
		{"iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", 5, true},
		{"iPadOS posing as a Mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", 5, true},
		{"real Mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", 0, false},
		{"Android Chrome", "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36", 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isAppleMobile(tt.ua, tt.touch); got != tt.want {
				t.Fatalf("isAppleMobile = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPushServiceError(t *testing.T) {
	const (
		serviceError = "Registration failed - push service error"
		denied       = "Registration failed - permission denied"
	)
	tests := []struct {
		name, domName, message string
		perm                   PermissionState
		wantKind               ErrorKind
		wantHint               string
	}{
		{"push service refused", "AbortError", serviceError, PermissionGranted, ErrPushService, "push service"},
		{"permission blocked", "NotAllowedError", denied, PermissionDenied, ErrPermissionDenied, "blocked"},
		{"permission not asked", "NotAllowedError", denied, PermissionDefault, ErrPermissionDenied, "blocked"},
		{"key refused", "InvalidAccessError", serviceError, PermissionGranted, ErrInvalidKey, "VAPID"},
		{"subscribed with another key", "InvalidStateError", serviceError, PermissionGranted, ErrPushService, "another VAPID key"},
		// Chromium's Incognito: INCOGNITO_PERMISSION_DENIED is an AbortError
		// whatever Notification.permission reads.
		{"Chrome Incognito", "AbortError", denied, PermissionGranted, ErrPrivateWindow, "normal window"},
		{"Chrome Incognito after the automatic denial", "AbortError", denied, PermissionDenied, ErrPrivateWindow, "normal window"},
		// Some versions say NotAllowedError: a denial although permission
		// is granted can only be the window's.
		{"Incognito as NotAllowedError", "NotAllowedError", denied, PermissionGranted, ErrPrivateWindow, "Incognito"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pushServiceError(tt.domName, tt.message, tt.perm)
			if !errors.Is(err, tt.wantKind) {
				t.Fatalf("kind: got %v, want %q", err, tt.wantKind)
			}
			msg := err.Error()
			for _, want := range []string{"pushManager.subscribe failed", tt.domName, tt.message, tt.wantHint} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
		})
	}
}

func TestPermissionError(t *testing.T) {
	if err := permissionError(PermissionGranted); err != nil {
		t.Fatalf("granted: %v", err)
	}
	if err := permissionError(PermissionDenied); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("denied: %v", err)
	}
	if err := permissionError(PermissionDefault); !errors.Is(err, ErrPermissionDismissed) || !strings.Contains(err.Error(), "ask again") {
		t.Fatalf("default: %v", err)
	}
}
