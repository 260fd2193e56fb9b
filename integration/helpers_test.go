package integration

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/milvus-gitops/milvusgen/compiler"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

type rendered struct {
	env   *model.Environment
	files render.FileSet
}

// renderAll renders every environment of the repository's overlays.
func renderAll(t *testing.T) map[string]rendered {
	t.Helper()
	set, err := spec.Load(filepath.Join(testenv.RepoRoot(t), "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]rendered{}
	for _, n := range set.Names() {
		env, err := set.Environment(n)
		if err != nil {
			t.Fatal(err)
		}
		files, err := compiler.Environment(set, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = rendered{env, files}
	}
	return out
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, stderr.String())
	}
	return stdout.Bytes()
}

// decodeAll splits a YAML stream into objects.
func decodeAll(t *testing.T, stream []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatal(err)
		}
		if obj == nil {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
