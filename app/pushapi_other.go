//go:build !wasm

package app

import (
	"context"

	"pushstart/api"
)

// The native build serves the page but has no browser: every Push API call
// fails with ErrUnsupported, so the package compiles for both targets.

func notInBrowser(op string) error {
	return &PushError{Kind: ErrUnsupported, Op: op, Message: "the Push API is unsupported outside the browser"}
}

// Support reports no feature at all outside the browser.
func Support() Features { return Features{} }

// Permission is PermissionUnsupported outside the browser.
func Permission() PermissionState { return PermissionUnsupported }

// RequestPermission fails outside the browser.
func RequestPermission(context.Context) (PermissionState, error) {
	return PermissionUnsupported, notInBrowser("Notification.requestPermission")
}

// Ready fails outside the browser.
func Ready(context.Context) (WorkerInfo, error) {
	return WorkerInfo{}, notInBrowser("navigator.serviceWorker.ready")
}

// Subscription is a PushSubscription of the browser; there is none natively.
type Subscription struct{}

// GetSubscription fails outside the browser.
func GetSubscription(context.Context) (*Subscription, error) {
	return nil, notInBrowser("pushManager.getSubscription")
}

// Subscribe fails outside the browser.
func Subscribe(context.Context, string) (*Subscription, error) {
	return nil, notInBrowser("pushManager.subscribe")
}

// Endpoint is empty outside the browser.
func (s *Subscription) Endpoint() string { return "" }

// JSON fails outside the browser.
func (s *Subscription) JSON() (api.Subscription, error) {
	return api.Subscription{}, notInBrowser("PushSubscription.toJSON")
}

// ApplicationServerKey is empty outside the browser.
func (s *Subscription) ApplicationServerKey() string { return "" }

// Unsubscribe fails outside the browser.
func (s *Subscription) Unsubscribe(context.Context) error {
	return notInBrowser("PushSubscription.unsubscribe")
}
