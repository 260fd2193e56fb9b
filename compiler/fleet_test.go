package compiler

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/spec"
)

// fleetOverlays is an overlays directory of n production-sized
// environments: base.cue and n copies of prod.cue under other names, as a
// platform team running Milvus per tenant or region keeps them.
func fleetOverlays(tb testing.TB, n int) string {
	tb.Helper()
	prod, err := os.ReadFile(filepath.Join(overlaysDir, "prod.cue"))
	if err != nil {
		tb.Fatal(err)
	}
	envs := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("tenant-%03d", i)
		src := strings.Replace(string(prod), "environments: prod: ", "environments: \""+name+"\": ", 1)
		if src == string(prod) {
			tb.Fatal("prod.cue no longer starts its environment with `environments: prod: `")
		}
		envs[name+".cue"] = src
	}
	return copyOverlays(tb, []string{"base.cue"}, envs)
}

// BenchmarkRenderAll100 is `gen render --all` without the writing: load
// 100 production-sized environments, validate and generate every one.
func BenchmarkRenderAll100(b *testing.B) {
	dir := fleetOverlays(b, 100)
	b.ReportAllocs()
	for b.Loop() {
		set, err := spec.Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		all, err := All(set)
		if err != nil {
			b.Fatal(err)
		}
		if len(all) != 100 {
			b.Fatalf("rendered %d environments", len(all))
		}
	}
}

// TestConcurrentRenderIsDeterministic: All gives the same file sets, and
// the same joined errors in name order, whatever the number of workers.
func TestConcurrentRenderIsDeterministic(t *testing.T) {
	dir := fleetOverlays(t, 6)
	render := func(procs int, dir string) (map[string][]byte, string) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		set, err := spec.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		all, err := All(set)
		flat := map[string][]byte{}
		for env, fs := range all {
			for p, b := range fs {
				flat[env+"/"+p] = b
			}
		}
		if err != nil {
			return flat, err.Error()
		}
		return flat, ""
	}
	one, errOne := render(1, dir)
	four, errFour := render(4, dir)
	if errOne != "" || errFour != "" || len(one) == 0 {
		t.Fatalf("render failed: %q %q", errOne, errFour)
	}
	if len(one) != len(four) {
		t.Fatalf("%d files with one worker, %d with four", len(one), len(four))
	}
	for p, b := range one {
		if !bytes.Equal(b, four[p]) {
			t.Errorf("%s differs between one worker and four", p)
		}
	}
	// Two invalid environments: both reported, in name order, nothing rendered.
	for _, n := range []string{"tenant-001", "tenant-004"} {
		p := filepath.Join(dir, n+".cue")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Replace(b, []byte("replicas: 3"), []byte("replicas: 0"), 1), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, e1 := render(1, dir)
	_, e4 := render(4, dir)
	if len(files) != 0 || e1 == "" || e1 != e4 {
		t.Fatalf("invalid environments: %d files; errors differ or are missing:\n%s\n---\n%s", len(files), e1, e4)
	}
	if i, j := strings.Index(e1, "tenant-001"), strings.Index(e1, "tenant-004"); i < 0 || j < i {
		t.Errorf("errors not in name order:\n%s", e1)
	}
}
