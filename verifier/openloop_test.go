package verifier

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// stallingSearch answers in about a millisecond, except that every call
// made while the server is stalled waits for the stall to end: what a GC
// pause, a leader election or a slow disk does to a real server.
func stallingSearch(start time.Time, from, to time.Duration, calls *atomic.Int64) searchFunc {
	return func(ctx context.Context, _ []float32) error {
		calls.Add(1)
		now := time.Since(start)
		if now >= from && now < to {
			select {
			case <-time.After(to - now):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		time.Sleep(time.Millisecond)
		return nil
	}
}

// TestOpenLoopCountsTheStall: 1000 searches a second for two seconds
// against a server that stalls for 200 ms. Open loop, timed from the
// intended start, about 200 requests are due during the stall and wait:
// p99 shows it. The closed loop with a few workers sends nothing while
// they wait, so only those few see the stall, and its p99 hides it
// (coordinated omission). The server's own service time hides it too.
func TestOpenLoopCountsTheStall(t *testing.T) {
	queries := [][]float32{{1}}
	var calls atomic.Int64
	start := time.Now()
	r := openLoop(context.Background(), 1000, 2*time.Second, 5, time.Second, queries, stallingSearch(start, 500*time.Millisecond, 700*time.Millisecond, &calls))
	if r.Latency.Count+r.Latency.Errors != 2000 || r.Unsent != 0 {
		t.Fatalf("sent %d (%d errors), unsent %d, want 2000", r.Latency.Count, r.Latency.Errors, r.Unsent)
	}
	if r.Latency.P99Ms < 100 {
		t.Errorf("open loop p99 %.1f ms: the 200 ms stall must show", r.Latency.P99Ms)
	}
	if r.Service.P99Ms > 50 {
		t.Errorf("service time p99 %.1f ms: only the requests in flight saw the stall", r.Service.P99Ms)
	}
	if r.Late < 100 {
		t.Errorf("%d requests late: those due during the stall waited for a slot", r.Late)
	}
	if r.AchievedQPS < 850 || r.AchievedQPS > 1050 {
		t.Errorf("achieved %.0f QPS, target 1000", r.AchievedQPS)
	}
	t.Logf("open: p50 %.1f p99 %.1f max %.1f ms; service p99 %.1f ms; late %d; %.0f QPS",
		r.Latency.P50Ms, r.Latency.P99Ms, r.Latency.MaxMs, r.Service.P99Ms, r.Late, r.AchievedQPS)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start = time.Now()
	closed, elapsed := closedLoop(ctx, 5, 0, time.Second, queries, stallingSearch(start, 500*time.Millisecond, 700*time.Millisecond, &calls), nil)
	s := closed.Summarize(elapsed)
	if s.MaxMs < 150 {
		t.Errorf("closed loop max %.1f ms: its workers ran into the stall too", s.MaxMs)
	}
	if s.P99Ms > 50 {
		t.Errorf("closed loop p99 %.1f ms: expected it to hide the stall (only its 5 workers' requests saw it)", s.P99Ms)
	}
	t.Logf("closed: %d requests, p99 %.1f max %.1f ms", s.Count, s.P99Ms, s.MaxMs)
}

// TestOpenLoopStopsWithTheContext: a cancelled run sends nothing more and
// counts what it did not send.
func TestOpenLoopStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var calls atomic.Int64
	r := openLoop(ctx, 100, 10*time.Second, 10, time.Second, [][]float32{{1}}, stallingSearch(time.Now(), 0, 0, &calls))
	if r.Unsent < 900 || calls.Load() > 100 {
		t.Errorf("unsent %d, calls %d: the run must stop at the context's end", r.Unsent, calls.Load())
	}
}

// TestSweepFindsTheKnee: a server that takes 2 ms per search and serves
// at most 4 at once: one client reaches about 400 QPS, four about four
// times that, eight no more than four (they queue), so the maximum is at
// 4 or 8 and the serial p99 is one search's time.
func TestSweepFindsTheKnee(t *testing.T) {
	sem := make(chan struct{}, 4)
	search := func(ctx context.Context, _ []float32) error {
		sem <- struct{}{}
		defer func() { <-sem }()
		time.Sleep(2 * time.Millisecond)
		return nil
	}
	r := sweep(context.Background(), []int{1, 4, 8}, 400*time.Millisecond, time.Second, [][]float32{{1}}, search)
	if len(r.Points) != 3 {
		t.Fatalf("points %+v", r.Points)
	}
	one, four, eight := r.Points[0], r.Points[1], r.Points[2]
	if four.QPS < 2.5*one.QPS || eight.QPS > 1.5*four.QPS {
		t.Errorf("QPS by level 1/4/8: %.0f %.0f %.0f", one.QPS, four.QPS, eight.QPS)
	}
	if r.AtLevel == 1 || r.MaxQPS < four.QPS || r.SerialP99Ms < 2 || r.SerialP99Ms != one.P99Ms {
		t.Errorf("max %.0f at %d, serial p99 %.2f ms", r.MaxQPS, r.AtLevel, r.SerialP99Ms)
	}
	if eight.P99Ms < 2*one.P50Ms {
		t.Errorf("eight clients queue behind four slots: p99 %.2f ms, serial p50 %.2f ms", eight.P99Ms, one.P50Ms)
	}
	t.Logf("%+v", r.Points)
}
