package compiler

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/milvus-gitops/milvusgen/naming"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// FuzzLoad replaces one file of the committed overlays with the fuzzer's
// bytes (seeded with each file as it is) and loads, validates and renders
// every environment: nothing may panic, every refusal is a positioned
// diagnostic, and whatever is accepted renders into a stream that passes
// the checks the committed environments pass (one object per file, no
// secret value, kustomize builds it, every object's name is one
// Kubernetes accepts, no number in exponent notation). `make test` runs it
// for a bounded time; a crasher it finds goes into testdata/fuzz as a
// regression seed.
func FuzzLoad(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(overlaysDir, "*.cue"))
	if err != nil || len(files) == 0 {
		f.Fatal("no overlays", err)
	}
	srcs := make([][]byte, len(files))
	for i, p := range files {
		if srcs[i], err = os.ReadFile(p); err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), srcs[i])
	}
	f.Fuzz(func(t *testing.T, which uint8, src []byte) {
		dir := t.TempDir()
		for i, p := range files {
			b := srcs[i]
			if i == int(which)%len(files) {
				b = src
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		set, err := spec.Load(dir)
		if err != nil {
			requirePositioned(t, err)
			return
		}
		for _, name := range set.Names() {
			fs, err := Environment(set, name)
			if err != nil {
				requirePositioned(t, err)
				continue
			}
			checkRendered(t, name, fs)
			stream, err := render.Build(fs)
			if err != nil {
				t.Fatalf("%s: accepted, but kustomize cannot build it: %v", name, err)
			}
			checkStream(t, name, stream)
		}
	})
}

// requirePositioned fails unless err is a spec error whose every line
// names a file, line and column.
func requirePositioned(t *testing.T, err error) {
	t.Helper()
	var serr *spec.Error
	if !errors.As(err, &serr) {
		t.Fatalf("refused without a position: %v", err)
	}
	for _, d := range serr.Diags {
		if d.File == "" || d.Line < 1 || d.Col < 1 {
			t.Fatalf("refused without a position: %s", d)
		}
	}
}

// checkStream decodes the built stream and checks every object's name
// (checkRendered checks the files for numbers in exponent notation).
func checkStream(t *testing.T, env string, stream []byte) {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if err.Error() == "EOF" {
				return
			}
			t.Fatalf("%s: built stream does not decode: %v", env, err)
		}
		if obj == nil {
			continue
		}
		u := unstructured.Unstructured{Object: obj}
		rule := naming.RuleFor(u.GetKind())
		if errs := rule.Errors(u.GetName()); len(errs) > 0 {
			t.Fatalf("%s: %s %q is not %s: %v", env, u.GetKind(), u.GetName(), rule, errs)
		}
	}
}
