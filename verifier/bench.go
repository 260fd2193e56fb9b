package verifier

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// searchFunc is one search of one query vector.
type searchFunc func(ctx context.Context, q []float32) error

// closedLoop runs `workers` goroutines that each issue one search at a time
// (the next starts when the previous ends), over the query vectors in turn,
// until `total` searches were made (total > 0) or ctx ends. Every call has
// its own deadline. It returns the recorder and the elapsed time.
// onDone, when set, gets each call's start time, latency and error.
func closedLoop(ctx context.Context, workers, total int, rpcTimeout time.Duration, queries [][]float32, search searchFunc, onDone func(time.Time, time.Duration, error)) (*Latencies, time.Duration) {
	lat := NewLatencies()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := NewLatencies()
			defer lat.Merge(local)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if total > 0 && i >= int64(total) {
					return
				}
				q := queries[i%int64(len(queries))]
				cctx, cancel := context.WithTimeout(ctx, rpcTimeout)
				t0 := time.Now()
				err := search(cctx, q)
				d := time.Since(t0)
				cancel()
				if ctx.Err() != nil && err != nil {
					return // the run is over, not a failure of the server
				}
				local.Record(d, err)
				if onDone != nil {
					onDone(t0, d, err)
				}
			}
		}()
	}
	wg.Wait()
	return lat, time.Since(start)
}
