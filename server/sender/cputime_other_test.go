//go:build !unix

package sender

import "time"

// processCPU is not measured on this platform; the benchmarks then report
// only sends/s.
func processCPU() time.Duration { return 0 }
