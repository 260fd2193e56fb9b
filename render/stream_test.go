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

// TestStreamFallsBackToKustomize: an overlay with anything gen does not
// write is built by kustomize (or refused as kustomize refuses it), never
// guessed: a kustomize feature, an unknown field, a generator source gen
// does not use, a resource listed twice, a string go-yaml escapes in a
// way kustomize does not read back.
func TestStreamFallsBackToKustomize(t *testing.T) {
	base, err := render.ReadDir("../out/dev")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(fs render.FileSet)) render.FileSet {
		fs := render.FileSet{}
		for p, b := range base {
			fs[p] = append([]byte(nil), b...)
		}
		f(fs)
		return fs
	}
	appendTo := func(file, text string) func(render.FileSet) {
		return func(fs render.FileSet) { fs[file] = append(fs[file], []byte(text)...) }
	}
	for name, fs := range map[string]render.FileSet{
		"commonLabels":     edit(appendTo("kustomization.yaml", "commonLabels:\n  team: search\n")),
		"an unknown field": edit(appendTo("kustomization.yaml", "nonsense: true\n")),
		"an env source": edit(func(fs render.FileSet) {
			replace(t, fs, "kustomization.yaml", "  name: milvus-dev-values\n", "  env: values.yaml\n  name: milvus-dev-values\n")
		}),
		"a duplicate": edit(func(fs render.FileSet) {
			replace(t, fs, "kustomization.yaml", "resources:\n", "resources:\n- namespace-milvus-dev.yaml\n")
		}),
		"a C1 control": edit(func(fs render.FileSet) {
			replace(t, fs, "namespace-milvus-dev.yaml", "  name: milvus-dev\n", "  annotations:\n    note: \"a\\x80b\"\n  name: milvus-dev\n")
		}),
		"a missing manifest": edit(func(fs render.FileSet) { delete(fs, "kustomization.yaml") }),
	} {
		if _, ok, _ := render.FastStream(fs); ok {
			t.Errorf("%s: the fast path was taken", name)
		}
	}
	got, err := render.Stream(edit(appendTo("kustomization.yaml", "commonLabels:\n  team: search\n")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("team: search")) {
		t.Error("the fallback did not build the labels")
	}
}

func replace(t *testing.T, fs render.FileSet, file, old, new string) {
	t.Helper()
	if !bytes.Contains(fs[file], []byte(old)) {
		t.Fatalf("%s has no %q", file, old)
	}
	fs[file] = bytes.Replace(fs[file], []byte(old), []byte(new), 1)
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
