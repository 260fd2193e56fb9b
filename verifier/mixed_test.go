package verifier

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// outageMilvus refuses writes for a while (an upgrade restarting the
// streaming nodes) while searches keep working.
type outageMilvus struct {
	*fakeMilvus
	mu      sync.Mutex
	inserts int
	failing func(n int) bool
}

func (o *outageMilvus) Insert(ctx context.Context, n string, ids []int64, v [][]float32) error {
	o.mu.Lock()
	o.inserts++
	fail := o.failing(o.inserts)
	o.mu.Unlock()
	if fail {
		return status.Error(codes.Unavailable, "streaming node restarting")
	}
	return o.fakeMilvus.Insert(ctx, n, ids, v)
}

// TestMixedWritesCountTheirOwnErrors: writes that fail during an outage
// are counted as insert errors, searches go on unaffected, deletes follow
// two batches behind, flushes come at their interval, and the writer keeps
// its rate.
func TestMixedWritesCountTheirOwnErrors(t *testing.T) {
	f := &fakeMilvus{collections: map[string][][]float32{"verifier_m": {{0, 0}, {1, 1}}}}
	m := &outageMilvus{fakeMilvus: f, failing: func(n int) bool { return n >= 3 && n <= 5 }}
	search := func(ctx context.Context, q []float32) error {
		_, err := m.Search(ctx, "verifier_m", [][]float32{q}, 1, SearchSpec{})
		return err
	}
	r := mixedWrites(context.Background(), m, "verifier_m", time.Second, 2, 1000, 100, 300*time.Millisecond, time.Second,
		1000, [][]float32{{2, 2}, {3, 3}}, [][]float32{{0, 0}}, search, nil)
	if r.Insert.Errors != 3 || r.Insert.ByCode["Unavailable"] != 3 {
		t.Errorf("insert errors %d (%v), want the 3 refused", r.Insert.Errors, r.Insert.ByCode)
	}
	if m := r.Insert.Samples["Unavailable"]; !strings.Contains(m, "streaming node restarting") {
		t.Errorf("error sample %q, want the server's message", m)
	}
	if r.Insert.Count < 6 || r.RowsInserted != r.Insert.Count*100 {
		t.Errorf("%d inserts, %d rows: the writer must keep its rate of 10 batches a second", r.Insert.Count, r.RowsInserted)
	}
	if r.Delete.Count < r.Insert.Count-3 || r.RowsDeleted != int64(f.deleted) {
		t.Errorf("%d deletes for %d inserts, %d rows deleted (fake saw %d)", r.Delete.Count, r.Insert.Count, r.RowsDeleted, f.deleted)
	}
	if r.Flush.Count < 2 || r.Flush.Count > 4 {
		t.Errorf("%d flushes in 1 s every 300 ms", r.Flush.Count)
	}
	if r.Search.Count < 10 || r.Search.Errors != 0 {
		t.Errorf("searches during the writes: %+v", r.Search)
	}
	var b strings.Builder
	(&Report{Mixed: r}).WriteSummary(&b)
	if !strings.Contains(b.String(), "insert") || !strings.Contains(b.String(), "Unavailable: 3") {
		t.Errorf("summary:\n%s", b.String())
	}
}
