package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/milvus-gitops/milvusgen/compiler"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/internal/testrender"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

type rendered = testrender.Rendered

func renderAll(t *testing.T) map[string]rendered { return testrender.RenderAll(t) }

func decodeAll(t *testing.T, stream []byte) []*unstructured.Unstructured {
	return testrender.DecodeAll(t, stream)
}

func run(t *testing.T, name string, args ...string) []byte { return testrender.Run(t, name, args...) }

func writeTemp(t *testing.T, name string, b []byte) string { return testrender.WriteTemp(t, name, b) }

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// renderEdited renders one environment from a copy of the repository's
// overlays in which file has old replaced by new (which must be there).
func renderEdited(t *testing.T, file, old, new, env string) (*model.Environment, render.FileSet) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(testenv.RepoRoot(t), "overlays")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == file {
			if !strings.Contains(string(b), old) {
				t.Fatalf("overlays/%s no longer has the block this test replaces:\n%s", file, old)
			}
			b = []byte(strings.Replace(string(b), old, new, 1))
		}
		writeFile(t, filepath.Join(dir, e.Name()), b)
	}
	set, err := spec.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := set.Environment(env)
	if err != nil {
		t.Fatal(err)
	}
	files, err := compiler.Environment(set, env)
	if err != nil {
		t.Fatal(err)
	}
	return e, files
}
