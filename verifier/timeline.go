package verifier

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Timeline is every measured search of a run on one clock, in one-second
// buckets (successes with their latencies, failures), with the phases'
// spans and the fault's marks: what --plot draws. The loops record into
// it the same calls they count, timed the same way (the open loop from
// each search's intended start).
type Timeline struct {
	mu      sync.Mutex
	start   time.Time
	buckets []bucket
	spans   []Span
	marks   []Mark
}

type bucket struct {
	ok, failed int64
	ms         []float32 // latencies of the successes (4 bytes each: runs reach millions)
}

// Span is a phase on the timeline, in seconds since its start.
type Span struct {
	Name     string
	From, To float64
}

// Mark is an instant on the timeline: the kill, the end of the window.
type Mark struct {
	Name string
	At   float64
}

// Second is one second of the timeline. P50Ms and P99Ms are NaN in a
// second without a success.
type Second struct {
	T            float64
	OK, Failed   int64
	P50Ms, P99Ms float64
}

// NewTimeline starts a timeline at start.
func NewTimeline(start time.Time) *Timeline { return &Timeline{start: start} }

// Record adds one call that started at `at` and took d.
func (t *Timeline) Record(at time.Time, d time.Duration, err error) {
	if t == nil {
		return
	}
	i := int(at.Sub(t.start) / time.Second)
	if i < 0 {
		i = 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.buckets) <= i {
		t.buckets = append(t.buckets, bucket{})
	}
	b := &t.buckets[i]
	if err != nil {
		b.failed++
		return
	}
	b.ok++
	b.ms = append(b.ms, float32(float64(d)/float64(time.Millisecond)))
}

// Span adds a phase that ran from `from` to `to`.
func (t *Timeline) Span(name string, from, to time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spans = append(t.spans, Span{Name: name, From: from.Sub(t.start).Seconds(), To: to.Sub(t.start).Seconds()})
}

// Mark adds an instant.
func (t *Timeline) Mark(name string, at time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.marks = append(t.marks, Mark{Name: name, At: at.Sub(t.start).Seconds()})
}

// Seconds returns every second from the first with a call to the last,
// with the spans and marks.
func (t *Timeline) Seconds() ([]Second, []Span, []Mark) {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := slices.IndexFunc(t.buckets, func(b bucket) bool { return b.ok+b.failed > 0 })
	var out []Second
	for i := max(first, 0); first >= 0 && i < len(t.buckets); i++ {
		b := t.buckets[i]
		s := Second{T: float64(i), OK: b.ok, Failed: b.failed, P50Ms: math.NaN(), P99Ms: math.NaN()}
		if len(b.ms) > 0 {
			ms := make([]float64, len(b.ms))
			for j, v := range b.ms {
				ms[j] = float64(v)
			}
			slices.Sort(ms)
			s.P50Ms, s.P99Ms = quantile(ms, 0.50), quantile(ms, 0.99)
		}
		out = append(out, s)
	}
	return out, slices.Clone(t.spans), slices.Clone(t.marks)
}

// quantile of sorted values, nearest rank (as HdrHistogram reports).
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
