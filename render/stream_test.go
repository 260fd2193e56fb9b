package render_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/milvus-gitops/milvusgen/render"
)

// TestStreamIsKustomizeBuild: for every committed overlay, the stream gen
// prints without kustomize is byte for byte what krusty builds, and the
// fast path is the one taken (the stock kustomize CLI is held to gen's
// output in integration/).
func TestStreamIsKustomizeBuild(t *testing.T) {
	envs, err := os.ReadDir("../out")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range envs {
		if !e.IsDir() {
			continue
		}
		fs, err := render.ReadDir(filepath.Join("../out", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		want, err := render.Build(fs)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := render.FastStream(fs)
		if err != nil || !ok {
			t.Errorf("%s: the fast path was not taken (%v)", e.Name(), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the stream differs from kustomize build's:\n%s", e.Name(), firstDiff(got, want))
		}
		n++
	}
	if n == 0 {
		t.Fatal("no committed overlay")
	}
}

// TestStreamFallsBackToKustomize: an overlay with a kustomize feature gen
// does not write (a patch here) is built by kustomize.
func TestStreamFallsBackToKustomize(t *testing.T) {
	fs, err := render.ReadDir("../out/dev")
	if err != nil {
		t.Fatal(err)
	}
	fs["kustomization.yaml"] = append(fs["kustomization.yaml"], []byte("commonLabels:\n  team: search\n")...)
	if _, ok, _ := render.FastStream(fs); ok {
		t.Fatal("an overlay with commonLabels took the fast path")
	}
	got, err := render.Stream(fs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("team: search")) {
		t.Error("the fallback did not build the labels")
	}
}

func firstDiff(a, b []byte) string {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(al) && i < len(bl); i++ {
		if !bytes.Equal(al[i], bl[i]) {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, al[i], bl[i])
		}
	}
	return "lengths differ"
}
