package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// largeExtraOverlays is the repository's overlays with n config.extra keys
// added to prod, as a user pasting a whole milvus.yaml (and more) would.
func largeExtraOverlays(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	src, err := filepath.Glob("../overlays/*.cue")
	if err != nil || len(src) == 0 {
		b.Fatal("no overlays", err)
	}
	for _, f := range src {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var sb strings.Builder
	sb.WriteString("package overlays\n\nenvironments: prod: config: extra: {\n")
	for i := range n {
		fmt.Fprintf(&sb, "\t\"k%d\": {a: %d}\n", i, i)
	}
	sb.WriteString("}\n")
	if err := os.WriteFile(filepath.Join(dir, "large.cue"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkVetLargeExtra vets prod with 4,000 config.extra keys (just
// under the limit of one struct; `gen vet` refuses them, Milvus reads none),
// from loading the overlays to the diagnostics.
func BenchmarkVetLargeExtra(b *testing.B) {
	dir := largeExtraOverlays(b, 4000)
	for b.Loop() {
		set, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := set.Environment("prod"); err == nil {
			b.Fatal("4,000 unknown keys accepted")
		}
	}
}
