// Package testserve runs a server for the length of one test: the kit's
// server, the local push service, or one of its parts.
package testserve

import (
	"testing"
	"time"
)

// stopWithin is how long a stopped server may take to return.
const stopWithin = 15 * time.Second

// Start runs serve in its own goroutine until the test ends. Then it calls
// stop, which must make serve return (cancel its context, close its
// listener), and waits for serve: an error from either, or a serve still
// running after 15 s, fails the test. It returns a channel that receives
// serve's result if serve returns before the test ends, so a test can tell
// a server that failed to start.
func Start(t testing.TB, serve func() error, stop func() error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	early := make(chan error, 1)
	go func() {
		err := serve()
		early <- err
		done <- err
	}()
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping the server: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the server returned %v, want nil once stopped", err)
			}
		case <-time.After(stopWithin):
			t.Errorf("the server was still running %v after it was stopped", stopWithin)
		}
	})
	return early
}
