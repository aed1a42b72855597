package app

import (
	"context"
	"fmt"
	"sync"

	"pushstart/api"
	"pushstart/push"
)

// fakeBrowser is an in-memory browser for the flows' tests. It holds at most
// one push subscription, answers the permission prompt with prompt, refuses
// what browsers refuse (subscribing without permission, or with another key
// than the existing subscription's), and records every call that changes
// something.
type fakeBrowser struct {
	mu       sync.Mutex
	features Features
	perm     PermissionState
	prompt   PermissionState // the user's answer to RequestPermission
	sub      *fakeSubscription
	made     int   // subscriptions made so far, to number their endpoints
	subErr   error // when set, what Subscribe fails with instead of subscribing
	calls    []string
}

// newFakeBrowser is a browser that supports push, with Notification.permission
// perm, whose user grants permission when asked.
func newFakeBrowser(perm PermissionState) *fakeBrowser {
	return &fakeBrowser{
		features: Features{Browser: true, SecureContext: true, ServiceWorker: true, PushManager: true, Notification: true, UserAgent: "fake"},
		perm:     perm,
		prompt:   PermissionGranted,
	}
}

// addSubscription gives the browser a subscription made with key, as an
// earlier visit (or a late answer of the push service) would, without
// recording a call.
func (b *fakeBrowser) addSubscription(key string) *fakeSubscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.newSubscription(key)
}

func (b *fakeBrowser) newSubscription(key string) *fakeSubscription {
	b.made++
	b.sub = &fakeSubscription{
		b:        b,
		endpoint: fmt.Sprintf("https://push.example/fake/%d", b.made),
		key:      key,
		keys:     api.Keys{P256dh: keyB, Auth: fmt.Sprintf("auth-secret-%d", b.made)},
	}
	return b.sub
}

// current is the browser's subscription, nil when none.
func (b *fakeBrowser) current() *fakeSubscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sub
}

// recorded is the calls made so far: "requestPermission",
// "subscribe <key>", "unsubscribe <endpoint>".
func (b *fakeBrowser) recorded() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

func (b *fakeBrowser) Support() Features { return b.features }

func (b *fakeBrowser) Permission() PermissionState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.perm
}

func (b *fakeBrowser) RequestPermission(context.Context) (PermissionState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, "requestPermission")
	if b.perm == PermissionDefault {
		b.perm = b.prompt
	}
	return b.perm, permissionError(b.perm)
}

func (b *fakeBrowser) Ready(context.Context) (WorkerInfo, error) {
	return WorkerInfo{Scope: "https://kit.example/", ScriptURL: "https://kit.example/app-worker.js", State: "activated"}, nil
}

func (b *fakeBrowser) GetSubscription(context.Context) (subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sub == nil {
		return nil, nil
	}
	return b.sub, nil
}

func (b *fakeBrowser) Subscribe(_ context.Context, key string) (subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, "subscribe "+key)
	if _, err := decodeKey(key); err != nil {
		return nil, err
	}
	if b.subErr != nil {
		return nil, b.subErr
	}
	if b.perm != PermissionGranted {
		return nil, pushServiceError("NotAllowedError", "Registration failed - permission denied", b.perm)
	}
	if b.sub != nil {
		if !sameKey(b.sub.key, key) {
			return nil, pushServiceError("InvalidStateError", "A subscription with a different applicationServerKey already exists.", b.perm)
		}
		return b.sub, nil
	}
	return b.newSubscription(key), nil
}

// fakeSubscription is a subscription of fakeBrowser.
type fakeSubscription struct {
	b         *fakeBrowser
	endpoint  string
	key       string // the applicationServerKey it was made with
	keys      api.Keys
	keyHidden bool // the browser does not expose options.applicationServerKey
}

func (s *fakeSubscription) Endpoint() string { return s.endpoint }

func (s *fakeSubscription) JSON() (api.Subscription, error) {
	return api.Subscription{Endpoint: s.endpoint, Keys: s.keys}, nil
}

func (s *fakeSubscription) ApplicationServerKey() string {
	if s.keyHidden {
		return ""
	}
	b, err := decodeKey(s.key)
	if err != nil {
		return ""
	}
	return push.EncodeBase64URL(b) // as browsers give it: unpadded
}

func (s *fakeSubscription) Unsubscribe(context.Context) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.calls = append(s.b.calls, "unsubscribe "+s.endpoint)
	if s.b.sub != s {
		return &PushError{Kind: ErrPushService, Op: "PushSubscription.unsubscribe", Message: "the browser reported that nothing was unsubscribed"}
	}
	s.b.sub = nil
	return nil
}
