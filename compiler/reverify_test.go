package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// parentObjects is what the Argo CD Application syncing the overlay
// compares and applies: the built stream without hooks (Argo CD does not
// diff hook resources), one YAML document per object.
func parentObjects(t *testing.T, fs render.FileSet, dropDigest bool) []string {
	t.Helper()
	stream, err := render.Build(fs)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, doc := range strings.Split(string(stream), "\n---\n") {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil || o == nil {
			continue
		}
		meta, _ := o["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		if _, hook := ann["argocd.argoproj.io/hook"]; hook {
			continue
		}
		if dropDigest && ann != nil {
			delete(ann, generators.ReleaseDigestAnnotation)
		}
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestValuesOnlyChangesReachArgoCD: staging is delivered by Argo CD, whose
// Milvus Application reads values.yaml from Git itself. A change that
// only touches the Helm values (a memory limit or request) changes
// no object the parent Application syncs, except through the release
// digest on the Milvus Application: with it the parent goes out of sync,
// syncs, and runs its PostSync verification hook; without it (the
// control) it would stay in sync and verify nothing.
func TestValuesOnlyChangesReachArgoCD(t *testing.T) {
	staging, err := os.ReadFile(filepath.Join(overlaysDir, "staging.cue"))
	if err != nil {
		t.Fatal(err)
	}
	render1 := func(src string) render.FileSet {
		set, err := spec.Load(copyOverlays(t, []string{"base.cue"}, map[string]string{"staging.cue": src}))
		if err != nil {
			t.Fatal(err)
		}
		fs, err := Environment(set, "staging")
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	before := render1(string(staging))
	for name, edit := range map[string][2]string{
		"proxy memory limit":   {"limits: {cpu: 2, memory: 4Gi}", "limits: {cpu: 2, memory: 5Gi}"},
		"proxy memory request": {"requests: {cpu: 1, memory: 2Gi}", "requests: {cpu: 1, memory: 3Gi}"},
	} {
		t.Run(name, func(t *testing.T) {
			src := strings.Replace(string(staging), edit[0], edit[1], 1)
			if src == string(staging) {
				t.Fatalf("staging.cue no longer has %q", edit[0])
			}
			after := render1(src)
			if string(before["values.yaml"]) == string(after["values.yaml"]) {
				t.Fatal("the edit did not change the Helm values")
			}
			if strings.Join(parentObjects(t, before, true), "---\n") != strings.Join(parentObjects(t, after, true), "---\n") {
				t.Fatal("the edit changes more than the values: choose a values-only one")
			}
			if strings.Join(parentObjects(t, before, false), "---\n") == strings.Join(parentObjects(t, after, false), "---\n") {
				t.Error("a values-only change leaves every object the parent Application syncs unchanged: its PostSync verification would not run")
			}
		})
	}
}
