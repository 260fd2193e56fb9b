// Package testrender renders the repository's environments for tests and
// runs the tools on them (helm template, ...).
package testrender

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/milvus-gitops/milvusgen/compiler"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// Rendered is one environment: its model and its overlay files.
type Rendered struct {
	Env   *model.Environment
	Files render.FileSet
}

// RenderAll renders every environment of the repository's overlays.
func RenderAll(t testing.TB) map[string]Rendered {
	t.Helper()
	set, err := spec.Load(filepath.Join(testenv.RepoRoot(t), "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Rendered{}
	for _, n := range set.Names() {
		env, err := set.Environment(n)
		if err != nil {
			t.Fatal(err)
		}
		files, err := compiler.Environment(set, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = Rendered{env, files}
	}
	return out
}

// DecodeAll splits a YAML stream into objects.
func DecodeAll(t testing.TB, stream []byte) []*unstructured.Unstructured {
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

// Run runs a tool and returns its stdout; a failure fails the test with
// the tool's stderr.
func Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, stderr.String())
	}
	return stdout.Bytes()
}

// WriteTemp writes b to a file in a test temp dir.
func WriteTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// HelmTemplate renders the pinned Milvus chart from ../shared/charts with
// an environment's values.
func HelmTemplate(t testing.TB, r Rendered) []byte {
	t.Helper()
	chart := filepath.Join(testenv.Shared(t), "charts", fmt.Sprintf("milvus-%s.tgz", r.Env.Milvus.Chart.Version))
	return Run(t, testenv.Tool(t, "helm"), "template", r.Env.Release, chart, "--namespace", r.Env.Namespace,
		"--kube-version", "v1.37.2", "--values", WriteTemp(t, "values.yaml", r.Values("values.yaml")))
}

// Values is a values file of the overlay by name: at the root, or in the
// directory of a release that Argo CD renders through a kustomization.
// Missing, it is nil.
func (r Rendered) Values(name string) []byte {
	for _, p := range r.Files.Paths() {
		if p == name || (strings.HasSuffix(p, "/"+name) && !strings.HasPrefix(p, "restore/")) {
			return r.Files[p]
		}
	}
	return nil
}
