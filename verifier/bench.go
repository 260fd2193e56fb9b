package verifier

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// searchFunc is one search of one query vector.
type searchFunc func(ctx context.Context, q []float32) error

// failurePause spaces a closed-loop worker's calls after a failure: 50
// probes a second per worker, a resolution far finer than the one-second
// availability windows.
const failurePause = 20 * time.Millisecond

// ended reports whether ctx is over: cancelled, or past its deadline.
// A deadline is enforced by a timer, which on a loaded machine fires
// milliseconds late; until it does, Err is nil while gRPC already refuses
// every call with "context deadline exceeded" in microseconds, without
// reaching the server. A loop that asked only Err counted a thousand such
// failures at the end of a phase (seen in CI on two cores).
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// closedLoop runs `workers` goroutines that each issue one search at a time
// (the next starts when the previous ends), over the query vectors in turn,
// until `total` searches were made (total > 0) or ctx ends. Every call has
// its own deadline. A worker whose call failed starts its next one no
// sooner than failurePause after the failed one started: with each call
// one request, a refused connection fails in microseconds, and a worker
// that went straight on would record a million failures a second,
// outweighing every success in the per-call figures. It returns the
// recorder and the elapsed time. onDone, when set, gets each call's start
// time, latency and error.
func closedLoop(ctx context.Context, workers, total int, rpcTimeout time.Duration, queries [][]float32, search searchFunc, onDone func(time.Time, time.Duration, error)) (*Latencies, time.Duration) {
	lat := NewLatencies()
	measured := oneAttempt(ctx) // marked once, not per call
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := NewLatencies()
			defer lat.Merge(local)
			for !ended(ctx) {
				i := next.Add(1) - 1
				if total > 0 && i >= int64(total) {
					return
				}
				q := queries[i%int64(len(queries))]
				cctx, cancel := context.WithTimeout(measured, rpcTimeout)
				t0 := time.Now()
				err := search(cctx, q)
				d := time.Since(t0)
				cancel()
				if err != nil && ended(ctx) {
					return // the run is over, not a failure of the server
				}
				local.Record(d, err)
				if onDone != nil {
					onDone(t0, d, err)
				}
				if err != nil {
					if wait := time.Until(t0.Add(failurePause)); wait > 0 {
						_ = sleep(ctx, wait)
					}
				}
			}
		}()
	}
	wg.Wait()
	return lat, time.Since(start)
}

// RateResult is an open-loop run: requests sent at a constant target rate,
// each timed from the moment the schedule meant it to start, so that a
// stall counts against every request that should have been sent during it
// (coordinated omission corrected, as wrk2 and HdrHistogram's corrected
// recording do). Service is the time the server took once a request was
// sent; the difference to Latency is queueing on our side.
type RateResult struct {
	TargetQPS   float64 `json:"targetQps"`
	AchievedQPS float64 `json:"achievedQps"`
	Seconds     float64 `json:"seconds"`
	// Latency is from the intended start; Service from the actual send.
	Latency Summary `json:"latency"`
	Service Summary `json:"service"`
	// Late are the requests sent more than a millisecond after their
	// intended start (the client's in-flight cap was reached, or the
	// scheduler fell behind); Unsent those the run ended before sending.
	Late        int64 `json:"late"`
	Unsent      int64 `json:"unsent"`
	MaxInFlight int   `json:"maxInFlight"`
	// Availability is the share of the run's seconds in which the searches
	// due succeeded and none failed, as in the fault phase; the longest
	// run of other seconds is the longest outage. A server that goes away
	// mid-run shows here at a resolution of a second.
	Availability         float64 `json:"availability"`
	LongestOutageSeconds int     `json:"longestOutageSeconds"`
}

// openLoop sends searches at `rate` per second for `duration`, whatever
// the server's latency: request i is due at start + i/rate. At most
// maxInFlight are outstanding; a due request waits for a free slot, and
// that wait is part of its latency (the server did not answer the earlier
// ones in time). Every call has its own deadline. onDone (if set) gets
// each recorded search: its intended start and its latency from there.
func openLoop(ctx context.Context, rate float64, duration time.Duration, maxInFlight int, rpcTimeout time.Duration, queries [][]float32, search searchFunc, onDone func(time.Time, time.Duration, error)) *RateResult {
	latency, service := NewLatencies(), NewLatencies()
	total := int64(rate * duration.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	slots := make(chan struct{}, maxInFlight)
	measured := oneAttempt(ctx)
	// Outcomes per second of intended start.
	perSecond := int(math.Ceil(duration.Seconds()))
	oks, bads := make([]atomic.Int64, perSecond), make([]atomic.Int64, perSecond)
	var wg sync.WaitGroup
	var late, sent atomic.Int64
	start := time.Now()
	for i := int64(0); i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ended(ctx) {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ended(ctx) {
			break
		}
		sent.Add(1)
		wg.Add(1)
		go func(i int64, due time.Time) {
			defer wg.Done()
			defer func() { <-slots }()
			sendAt := time.Now()
			if sendAt.Sub(due) > time.Millisecond {
				late.Add(1)
			}
			cctx, cancel := context.WithTimeout(measured, rpcTimeout)
			err := search(cctx, queries[i%int64(len(queries))])
			cancel()
			end := time.Now()
			if err != nil && ended(ctx) {
				return // the run is over, not a failure of the server
			}
			latency.Record(end.Sub(due), err)
			service.Record(end.Sub(sendAt), err)
			if sec := int(due.Sub(start) / time.Second); sec < perSecond {
				if err != nil {
					bads[sec].Add(1)
				} else {
					oks[sec].Add(1)
				}
			}
			if onDone != nil {
				onDone(due, end.Sub(due), err)
			}
		}(i, due)
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := &RateResult{TargetQPS: rate, Seconds: elapsed.Seconds(), Late: late.Load(), Unsent: total - sent.Load(), MaxInFlight: maxInFlight}
	r.Latency = latency.Summarize(elapsed)
	r.Service = service.Summarize(0)
	r.AchievedQPS = r.Latency.QPS
	// Only the seconds in which searches were due and recorded: at a rate
	// below one a second some have none, and a cancelled run drops the
	// calls it cut off. (In the fault phase an empty second is an outage,
	// since its closed loop always has a call in flight; here the schedule
	// does not wait for answers, so a hang still fills its seconds.)
	ok, bad := make([]int, 0, perSecond), make([]int, 0, perSecond)
	for i := 0; i < perSecond; i++ {
		if o, b := int(oks[i].Load()), int(bads[i].Load()); o+b > 0 {
			ok, bad = append(ok, o), append(bad, b)
		}
	}
	r.Availability, r.LongestOutageSeconds = availability(ok, bad)
	return r
}

// SweepPoint is the closed loop at one concurrency level.
type SweepPoint struct {
	Concurrency int     `json:"concurrency"`
	QPS         float64 `json:"qps"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	Errors      int64   `json:"errors"`
}

// SweepResult is a throughput sweep: the closed loop at each level in
// turn (VectorDBBench's levels by default), the highest QPS any level
// reached, and the p99 of one client alone (serial latency).
type SweepResult struct {
	Seconds     float64      `json:"secondsPerLevel"`
	Points      []SweepPoint `json:"points"`
	MaxQPS      float64      `json:"maxQps"`
	AtLevel     int          `json:"maxQpsConcurrency"`
	SerialP99Ms float64      `json:"serialP99Ms,omitempty"`
}

// sweep runs the closed loop for `each` at every concurrency level;
// onDone as in closedLoop.
func sweep(ctx context.Context, levels []int, each, rpcTimeout time.Duration, queries [][]float32, search searchFunc, onDone func(time.Time, time.Duration, error)) *SweepResult {
	r := &SweepResult{Seconds: each.Seconds()}
	for _, c := range levels {
		lctx, cancel := context.WithTimeout(ctx, each)
		lat, elapsed := closedLoop(lctx, c, 0, rpcTimeout, queries, search, onDone)
		cancel()
		if ctx.Err() != nil {
			break
		}
		s := lat.Summarize(elapsed)
		p := SweepPoint{Concurrency: c, QPS: s.QPS, P50Ms: s.P50Ms, P99Ms: s.P99Ms, Errors: s.Errors}
		r.Points = append(r.Points, p)
		if p.QPS > r.MaxQPS {
			r.MaxQPS, r.AtLevel = p.QPS, c
		}
		if c == 1 {
			r.SerialP99Ms = p.P99Ms
		}
	}
	return r
}
