//go:build unix

package delivery_test

import (
	"syscall"
	"time"
)

// processCPU returns the user and system CPU time this process has used, a
// measure of work that other programs on a shared machine do not inflate
// the way they inflate wall-clock time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
