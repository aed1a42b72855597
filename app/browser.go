package app

import (
	"context"

	"pushstart/api"
)

// browser is the part of the browser's Notification and Push APIs that the
// page's flows use. It is an interface so that the flows can run against a
// fake in native tests; the page uses pageBrowser.
type browser interface {
	// Support reports what the browser offers for Web Push.
	Support() Features
	// Permission is Notification.permission, without asking.
	Permission() PermissionState
	// RequestPermission shows the browser's prompt; an answer other than
	// "granted" is an error.
	RequestPermission(ctx context.Context) (PermissionState, error)
	// Ready waits for the active service worker.
	Ready(ctx context.Context) (WorkerInfo, error)
	// GetSubscription returns the browser's push subscription, or nil
	// when there is none.
	GetSubscription(ctx context.Context) (subscription, error)
	// Subscribe subscribes with vapidPublicKey (base64url) as the
	// applicationServerKey.
	Subscribe(ctx context.Context, vapidPublicKey string) (subscription, error)
}

// subscription is one PushSubscription of the browser.
type subscription interface {
	// Endpoint is the push service URL, a secret capability.
	Endpoint() string
	// JSON is PushSubscription.toJSON(), what the server stores.
	JSON() (api.Subscription, error)
	// ApplicationServerKey is the VAPID public key the subscription was
	// made with (options.applicationServerKey), base64url, or "" when the
	// browser does not say.
	ApplicationServerKey() string
	// Unsubscribe ends the subscription at the push service.
	Unsubscribe(ctx context.Context) error
}

// pageBrowser is the browser the page runs in: the Push API wrapper of
// pushapi_wasm.go, or of pushapi_other.go natively, where every call fails.
type pageBrowser struct{}

// The methods of pageBrowser forward to the package's Push API functions.

func (pageBrowser) Support() Features           { return Support() }
func (pageBrowser) Permission() PermissionState { return Permission() }

func (pageBrowser) RequestPermission(ctx context.Context) (PermissionState, error) {
	return RequestPermission(ctx)
}

func (pageBrowser) Ready(ctx context.Context) (WorkerInfo, error) { return Ready(ctx) }

func (pageBrowser) GetSubscription(ctx context.Context) (subscription, error) {
	return asSubscription(GetSubscription(ctx))
}

func (pageBrowser) Subscribe(ctx context.Context, vapidPublicKey string) (subscription, error) {
	return asSubscription(Subscribe(ctx, vapidPublicKey))
}

// asSubscription turns a nil *Subscription into a nil interface, which a
// plain conversion would not: the flows test for "no subscription" with
// sub == nil.
func asSubscription(s *Subscription, err error) (subscription, error) {
	if s == nil {
		return nil, err
	}
	return s, err
}
