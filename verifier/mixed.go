package verifier

import (
	"context"
	"sync"
	"time"
)

// MixedResult is the mixed phase: searches (the closed loop) while rows
// are inserted at a steady rate, deleted two batches later, and flushed
// at intervals, each kind of call with its own latency and errors. An
// upgrade or a failure hurts writes first: they need the message queue,
// the streaming or data nodes and the object storage, which searches of
// loaded data do not.
type MixedResult struct {
	Seconds      float64 `json:"seconds"`
	Search       Summary `json:"search"`
	Insert       Summary `json:"insert"`
	Delete       Summary `json:"delete"`
	Flush        Summary `json:"flush"`
	RowsInserted int64   `json:"rowsInserted"`
	RowsDeleted  int64   `json:"rowsDeleted"`
}

// mixedWrites writes for `duration` while search runs `workers` closed
// loops: a batch of `batch` rows every batch/rate seconds (ids from
// firstID on, vectors cycled from pool), a delete of the batch inserted
// two before, and, on a goroutine of its own (a flush waits until the
// data is persisted, seconds), a flush every flushEvery. A failed write is
// recorded and the next one goes on. onDone gets each recorded search,
// as in closedLoop.
func mixedWrites(ctx context.Context, m Milvus, name string, duration time.Duration, workers int, rate float64, batch int, flushEvery, rpcTimeout time.Duration,
	firstID int64, pool, queries [][]float32, search searchFunc, onDone func(time.Time, time.Duration, error)) *MixedResult {
	mctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	r := &MixedResult{}
	var searches *Latencies
	var elapsed time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		searches, elapsed = closedLoop(mctx, workers, 0, rpcTimeout, queries, search, onDone)
	}()
	inserts, deletes, flushes := NewLatencies(), NewLatencies(), NewLatencies()
	measured := oneAttempt(mctx)
	timed := func(l *Latencies, call func(context.Context) error) bool {
		c, done := context.WithTimeout(measured, rpcTimeout)
		t0 := time.Now()
		err := call(c)
		d := time.Since(t0)
		done()
		// Cut off by the end of the phase: not a failure of the server.
		if err != nil && ended(mctx) {
			return false
		}
		l.Record(d, err)
		return err == nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		// On a schedule (start + k*flushEvery); a slow flush skips the
		// times it missed, as a ticker does.
		due := time.Now()
		for {
			for due = due.Add(flushEvery); time.Until(due) <= 0; due = due.Add(flushEvery) {
			}
			if sleep(mctx, time.Until(due)) != nil {
				return
			}
			timed(flushes, func(c context.Context) error { return m.Flush(c, name) })
		}
	}()
	interval := time.Duration(float64(batch) / rate * float64(time.Second))
	start := time.Now()
	var written [][]int64 // ids of the batches inserted, oldest first
	next := firstID
	for n := 0; !ended(mctx); n++ {
		ids := make([]int64, batch)
		vs := make([][]float32, batch)
		for i := range ids {
			ids[i] = next
			vs[i] = pool[int(next-firstID)%len(pool)]
			next++
		}
		if timed(inserts, func(c context.Context) error { return m.Insert(c, name, ids, vs) }) {
			r.RowsInserted += int64(batch)
			written = append(written, ids)
		}
		if len(written) > 2 {
			old := written[0]
			if timed(deletes, func(c context.Context) error { return m.Delete(c, name, old) }) {
				r.RowsDeleted += int64(len(old))
				written = written[1:]
			}
		}
		if d := time.Until(start.Add(time.Duration(n+1) * interval)); d > 0 {
			if sleep(mctx, d) != nil {
				break
			}
		}
	}
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	r.Search = searches.Summarize(elapsed)
	r.Insert, r.Delete, r.Flush = inserts.Summarize(0), deletes.Summarize(0), flushes.Summarize(0)
	return r
}
