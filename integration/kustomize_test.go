package integration

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/render"
)

// TestStockKustomizeBuildsOut runs the kustomize CLI on every committed
// out/ENV (what Flux's kustomize-controller and Argo CD do) and checks it
// yields exactly what `gen render ENV` prints (render.Stream, without
// kustomize) and what krusty builds in-process.
func TestStockKustomizeBuildsOut(t *testing.T) {
	kustomize := testenv.Tool(t, "kustomize")
	root := testenv.RepoRoot(t)
	for name, r := range renderAll(t) {
		t.Run(name, func(t *testing.T) {
			got := run(t, kustomize, "build", filepath.Join(root, "out", name))
			want, err := render.Stream(r.Files)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("kustomize build out/%s differs from gen render %s (is out/ stale?)", name, name)
			}
			krusty, err := render.Build(r.Files)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, krusty) {
				t.Errorf("kustomize build out/%s differs from krusty's build", name)
			}
			objs := decodeAll(t, got)
			if len(objs) < 3 {
				t.Errorf("kustomize build out/%s: only %d objects", name, len(objs))
			}
		})
	}
}
