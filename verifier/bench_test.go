package verifier

import (
	"context"
	"testing"
	"time"
)

// BenchmarkClosedLoopOverhead measures what the load loop itself costs per
// request (deadline, timing, histogram), with a search that does nothing:
// the part of every measured latency that is not Milvus.
func BenchmarkClosedLoopOverhead(b *testing.B) {
	qs := NewDataset(8, 2, 0.1, 1).Vectors(1, 16)
	noop := func(context.Context, []float32) error { return nil }
	b.ReportAllocs()
	b.ResetTimer()
	closedLoop(context.Background(), 1, b.N, time.Second, qs, noop, nil)
}
