package verifier

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Cleanup drops the collections a verifier created (the verifier_ prefix
// and the creation mark in their description) more than olderThan ago:
// what a run killed before its own cleanup (SIGKILL, a node lost) left
// behind. A younger collection may belong to a run in progress and is
// kept; one without the mark (made by hand, or by a verifier before v0.1.0
// recorded the time) is kept unless includeUnmarked. With dryRun nothing
// is dropped. It returns the names it dropped (or would drop), sorted.
func Cleanup(ctx context.Context, m Milvus, olderThan time.Duration, includeUnmarked, dryRun bool, now time.Time, log io.Writer) ([]string, error) {
	names, err := m.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	sort.Strings(names)
	var dropped []string
	for _, n := range names {
		if !strings.HasPrefix(n, CollectionPrefix) {
			continue
		}
		created, ok, err := m.Created(ctx, n)
		if err != nil {
			return dropped, fmt.Errorf("describe %s: %w", n, err)
		}
		switch {
		case !ok && !includeUnmarked:
			fmt.Fprintf(log, "kept    %s: no creation mark (--include-unmarked drops it)\n", n)
			continue
		case ok && now.Sub(created) < olderThan:
			fmt.Fprintf(log, "kept    %s: created %s ago, maybe a run in progress\n", n, now.Sub(created).Round(time.Second))
			continue
		}
		if dryRun {
			fmt.Fprintf(log, "would drop %s\n", n)
			dropped = append(dropped, n)
			continue
		}
		if err := m.Drop(ctx, n); err != nil {
			return dropped, fmt.Errorf("drop %s: %w", n, err)
		}
		fmt.Fprintf(log, "dropped %s\n", n)
		dropped = append(dropped, n)
	}
	return dropped, nil
}
