package verifier

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/milvus-io/milvus/pkg/v2/util/merr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Latencies records successful call latencies in an HdrHistogram
// (microsecond resolution, up to 10 minutes, 3 significant digits) and
// counts failures by gRPC code. Failed calls are counted, never mixed into
// the latencies. Safe for concurrent use.
type Latencies struct {
	mu     sync.Mutex
	h      *hdrhistogram.Histogram
	errors map[string]int64
	// samples keeps one message of each code (the first a worker
	// recorded; merged workers keep the one merged first): a count says
	// that calls failed, the message says why (a server-side timeout and
	// our own deadline share a code).
	samples map[string]string
}

// NewLatencies returns an empty recorder.
func NewLatencies() *Latencies {
	return &Latencies{h: hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3), errors: map[string]int64{}, samples: map[string]string{}}
}

// maxSample bounds an error message kept in the report.
const maxSample = 300

// Record adds one call: its latency when err is nil, else its error code.
func (l *Latencies) Record(d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		c := Code(err)
		l.errors[c]++
		if _, ok := l.samples[c]; !ok {
			l.samples[c] = sample(err)
		}
		return
	}
	us := d.Microseconds()
	if us < 1 {
		us = 1
	}
	_ = l.h.RecordValue(us) // values above the maximum are clamped by the caller's deadline
}

// Merge adds another recorder's data.
func (l *Latencies) Merge(o *Latencies) {
	o.mu.Lock()
	defer o.mu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.h.Merge(o.h)
	for k, v := range o.errors {
		l.errors[k] += v
	}
	for k, v := range o.samples {
		if _, ok := l.samples[k]; !ok {
			l.samples[k] = v
		}
	}
}

// Summary is a recorder's statistics.
type Summary struct {
	Count  int64            `json:"count"`
	Errors int64            `json:"errors"`
	ByCode map[string]int64 `json:"errorsByCode,omitempty"`
	// Samples is an error message of each code (one of the first seen).
	Samples map[string]string `json:"errorSamples,omitempty"`
	MeanMs  float64           `json:"meanMs"`
	P50Ms   float64           `json:"p50Ms"`
	P95Ms   float64           `json:"p95Ms"`
	P99Ms   float64           `json:"p99Ms"`
	MaxMs   float64           `json:"maxMs"`
	Seconds float64           `json:"seconds,omitempty"`
	QPS     float64           `json:"qps,omitempty"`
}

// Summarize computes the statistics; elapsed (when non-zero) gives QPS of
// the successful calls.
func (l *Latencies) Summarize(elapsed time.Duration) Summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := func(us int64) float64 { return float64(us) / 1000 }
	s := Summary{
		Count:  l.h.TotalCount(),
		MeanMs: l.h.Mean() / 1000,
		P50Ms:  ms(l.h.ValueAtQuantile(50)),
		P95Ms:  ms(l.h.ValueAtQuantile(95)),
		P99Ms:  ms(l.h.ValueAtQuantile(99)),
		MaxMs:  ms(l.h.Max()),
	}
	if len(l.errors) > 0 {
		s.ByCode, s.Samples = map[string]int64{}, map[string]string{}
		for k, v := range l.errors {
			s.ByCode[k] = v
			s.Errors += v
			s.Samples[k] = l.samples[k]
		}
	}
	if elapsed > 0 {
		s.Seconds = elapsed.Seconds()
		s.QPS = float64(s.Count) / elapsed.Seconds()
	}
	return s
}

// Code names an error by its gRPC status code ("Unavailable", ...), or
// "DeadlineExceeded" / "Canceled" for context errors, "Unknown" otherwise.
func Code(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded.String()
	case errors.Is(err, context.Canceled):
		return codes.Canceled.String()
	}
	if s, ok := status.FromError(err); ok {
		return s.Code().String()
	}
	// Milvus reports most failures in its own status, not as gRPC codes.
	if c := merr.Code(err); c != merr.Code(errors.New("")) {
		return fmt.Sprintf("Milvus(%d)", c)
	}
	return codes.Unknown.String()
}

// sample is an error's message cut to maxSample bytes (on a rune
// boundary), for the report.
func sample(err error) string {
	m := err.Error()
	if len(m) <= maxSample {
		return m
	}
	cut := maxSample
	for cut > 0 && !utf8.RuneStart(m[cut]) {
		cut--
	}
	return m[:cut] + "…"
}

// sortedCodes lists error codes, most frequent first.
func sortedCodes(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if m[out[i]] != m[out[j]] {
			return m[out[i]] > m[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}
