package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRecordOutcomes records a broadcast's outcomes in batches of
// several sizes, as the delivery engine does, and reports outcomes a second.
func BenchmarkRecordOutcomes(b *testing.B) {
	for _, be := range allBackends() {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b, be.fresh(b))
			createBroadcast(b, s, "bench", Audience{})
			next := int64(0)
			for _, size := range []int{1, 16, 64, 256} {
				b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
					ctx := context.Background()
					outs := make([]Outcome, size)
					start := time.Now()
					for b.Loop() {
						for i := range outs {
							next++
							outs[i] = outcome("bench", next, "sent", time.Time{})
						}
						if err := s.RecordOutcomes(ctx, outs); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "outcomes/s")
				})
			}
		})
	}
}
