package verifier

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"
)

func TestParseCreated(t *testing.T) {
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	if got, ok := parseCreated(createdMark + at.Format(time.RFC3339)); !ok || !got.Equal(at) {
		t.Errorf("parsed %v %v", got, ok)
	}
	for _, d := range []string{"", "milvusgen verifier: safe to drop", createdMark + "yesterday"} {
		if _, ok := parseCreated(d); ok {
			t.Errorf("%q has no creation time", d)
		}
	}
}

// TestCleanupDropsOnlyWhatKilledRunsLeft: old verifier collections go;
// young ones (a run in progress), unmarked ones and everybody else's stay.
func TestCleanupDropsOnlyWhatKilledRunsLeft(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	fake := func() *fakeMilvus {
		return &fakeMilvus{
			collections: map[string][][]float32{"verifier_old": nil, "verifier_young": nil, "verifier_unmarked": nil, "products": nil},
			created:     map[string]time.Time{"verifier_old": now.Add(-3 * time.Hour), "verifier_young": now.Add(-10 * time.Minute)},
		}
	}
	var log bytes.Buffer
	f := fake()
	dropped, err := Cleanup(context.Background(), f, time.Hour, false, false, now, &log)
	if err != nil || !slices.Equal(dropped, []string{"verifier_old"}) || !slices.Equal(f.dropped, dropped) {
		t.Errorf("dropped %v (%v), fake dropped %v\n%s", dropped, err, f.dropped, log.String())
	}
	f = fake()
	dropped, _ = Cleanup(context.Background(), f, time.Hour, true, false, now, &log)
	if !slices.Equal(dropped, []string{"verifier_old", "verifier_unmarked"}) {
		t.Errorf("with unmarked: dropped %v", dropped)
	}
	f = fake()
	dropped, _ = Cleanup(context.Background(), f, time.Hour, true, true, now, &log)
	if len(dropped) != 2 || len(f.dropped) != 0 {
		t.Errorf("dry run dropped %v", f.dropped)
	}
}
