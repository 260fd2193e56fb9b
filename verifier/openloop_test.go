package verifier

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	tl := NewTimeline(start)
	r := openLoop(context.Background(), 1000, 2*time.Second, 5, time.Second, queries, stallingSearch(start, 500*time.Millisecond, 700*time.Millisecond, &calls), tl.Record)
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
	// The timeline puts the stall in its second: the first second's p99
	// shows it (due at 0.5-0.7 s, answered at 0.7 s), the second's does not.
	secs, _, _ := tl.Seconds()
	if len(secs) != 2 || secs[0].OK+secs[0].Failed+secs[1].OK+secs[1].Failed != 2000 || secs[0].P99Ms < 100 || secs[1].P99Ms > 50 {
		t.Errorf("timeline %+v", secs)
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

// TestOpenLoopMeasuresAnOutage: the server refuses every search sent
// from 1.2 s to 1.8 s of a 4 s run (inside a second, so that a send a few
// milliseconds late cannot move a refusal into the next one). The open
// loop keeps sending (an outage does not slow the schedule), counts each
// refusal, and the availability is 3 of the 4 seconds, the longest outage
// one second. At half a search a second, the seconds with none due are
// not outages.
func TestOpenLoopMeasuresAnOutage(t *testing.T) {
	start := time.Now()
	search := func(ctx context.Context, _ []float32) error {
		if at := time.Since(start); at >= 1200*time.Millisecond && at < 1800*time.Millisecond {
			return status.Error(codes.Unavailable, "connection refused")
		}
		time.Sleep(time.Millisecond)
		return nil
	}
	r := openLoop(context.Background(), 200, 4*time.Second, 50, time.Second, [][]float32{{1}}, search, nil)
	if r.Latency.Count+r.Latency.Errors != 800 || r.Latency.ByCode["Unavailable"] < 110 || r.Latency.ByCode["Unavailable"] > 130 {
		t.Errorf("%d ok, %v failed; want about 120 of 800 refused", r.Latency.Count, r.Latency.ByCode)
	}
	if r.Availability != 0.75 || r.LongestOutageSeconds != 1 {
		t.Errorf("availability %.3f, longest outage %ds; want 0.75 and 1", r.Availability, r.LongestOutageSeconds)
	}
	slow := openLoop(context.Background(), 0.5, 6*time.Second, 5, time.Second, [][]float32{{1}}, func(context.Context, []float32) error { return nil }, nil)
	if slow.Latency.Count != 3 || slow.Availability != 1 || slow.LongestOutageSeconds != 0 {
		t.Errorf("at 0.5/s: %d searches, availability %.3f, longest outage %ds; want 3, 1 and 0", slow.Latency.Count, slow.Availability, slow.LongestOutageSeconds)
	}
}

// TestOpenLoopStopsWithTheContext: a cancelled run sends nothing more and
// counts what it did not send.
func TestOpenLoopStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var calls atomic.Int64
	r := openLoop(ctx, 100, 10*time.Second, 10, time.Second, [][]float32{{1}}, stallingSearch(time.Now(), 0, 0, &calls), nil)
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
	r := sweep(context.Background(), []int{1, 4, 8}, 400*time.Millisecond, time.Second, [][]float32{{1}}, search, nil)
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

// lateTimerCtx is a context whose deadline has passed while its timer has
// not fired yet: Err stays nil until `fires`. A loaded machine does this
// for milliseconds at the end of every timed phase.
type lateTimerCtx struct {
	context.Context // fires at `fires`
	deadline        time.Time
}

func (c lateTimerCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// grpcLikeSearch refuses at once, as gRPC does, a call whose context is
// past its deadline, and otherwise answers in a millisecond.
func grpcLikeSearch(calls *atomic.Int64) searchFunc {
	return func(ctx context.Context, _ []float32) error {
		calls.Add(1)
		if err := pastDeadline(ctx); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
		return nil
	}
}

// TestLoopsEndAtTheDeadlineNotAtTheTimer: between a phase's deadline and
// its timer firing (here 300 ms late), every call fails in microseconds
// without reaching the server. The loops must stop at the deadline and
// count none of those as failures; CI once counted 1158.
func TestLoopsEndAtTheDeadlineNotAtTheTimer(t *testing.T) {
	queries := [][]float32{{1}}
	late := func() (context.Context, context.CancelFunc) {
		fires, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		return lateTimerCtx{Context: fires, deadline: time.Now().Add(100 * time.Millisecond)}, cancel
	}
	t.Run("closed loop", func(t *testing.T) {
		ctx, cancel := late()
		defer cancel()
		var calls atomic.Int64
		lat, elapsed := closedLoop(ctx, 4, 0, time.Second, queries, grpcLikeSearch(&calls), nil)
		if s := lat.Summarize(elapsed); s.Errors != 0 || s.Count == 0 || elapsed > 300*time.Millisecond {
			t.Errorf("%d ok, %d failed (%v) in %v; %d calls", s.Count, s.Errors, s.ByCode, elapsed, calls.Load())
		}
	})
	t.Run("open loop", func(t *testing.T) {
		ctx, cancel := late()
		defer cancel()
		var calls atomic.Int64
		r := openLoop(ctx, 1000, time.Second, 50, time.Second, queries, grpcLikeSearch(&calls), nil)
		if r.Latency.Errors != 0 || r.Latency.Count == 0 || r.Unsent < 500 {
			t.Errorf("%d ok, %d failed (%v), %d unsent; %d calls", r.Latency.Count, r.Latency.Errors, r.Latency.ByCode, r.Unsent, calls.Load())
		}
	})
	t.Run("mixed", func(t *testing.T) {
		ctx, cancel := late()
		defer cancel()
		var calls atomic.Int64
		m := &outageMilvus{fakeMilvus: &fakeMilvus{collections: map[string][][]float32{"c": {{0}}}}, failing: func(int) bool { return false }}
		r := mixedWrites(ctx, deadlineMilvus{m}, "c", time.Minute, 2, 10000, 10, 30*time.Millisecond, time.Second, 0, queries, queries, grpcLikeSearch(&calls), nil)
		if r.Search.Errors != 0 || r.Insert.Errors != 0 || r.Delete.Errors != 0 || r.Flush.Errors != 0 || r.Search.Count == 0 || r.Insert.Count == 0 || r.Seconds > 0.3 {
			t.Errorf("%+v; %d calls", r, calls.Load())
		}
	})
}

// deadlineMilvus refuses writes past their context's deadline at once, as
// gRPC does.
type deadlineMilvus struct{ *outageMilvus }

func pastDeadline(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

func (d deadlineMilvus) Insert(ctx context.Context, n string, ids []int64, v [][]float32) error {
	if err := pastDeadline(ctx); err != nil {
		return err
	}
	return d.outageMilvus.Insert(ctx, n, ids, v)
}

func (d deadlineMilvus) Delete(ctx context.Context, n string, ids []int64) error {
	if err := pastDeadline(ctx); err != nil {
		return err
	}
	return d.outageMilvus.Delete(ctx, n, ids)
}

func (d deadlineMilvus) Flush(ctx context.Context, n string) error {
	if err := pastDeadline(ctx); err != nil {
		return err
	}
	return d.outageMilvus.Flush(ctx, n)
}

// TestClosedLoopPacesFailures: against a refused connection (each call
// fails at once), two workers for half a second probe about 50 times, not
// a million: a failed call is followed by the next no sooner than
// failurePause after it started.
func TestClosedLoopPacesFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	refused := func(context.Context, []float32) error { return status.Error(codes.Unavailable, "connection refused") }
	lat, elapsed := closedLoop(ctx, 2, 0, time.Second, [][]float32{{1}}, refused, nil)
	if s := lat.Summarize(elapsed); s.Errors < 30 || s.Errors > 60 {
		t.Errorf("%d failures in %v by 2 workers; want about 2 x 500 ms / %v", s.Errors, elapsed, failurePause)
	}
}
