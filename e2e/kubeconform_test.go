package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/internal/jsonschema"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/internal/testrender"
)

// TestKubeconformPrecheck generates kubeconform's JSON schemas from this
// server's /openapi/v2 (built-in types and the loaded CRDs) into the cache
// that `make precheck` uses without a server, then checks every overlay and
// chart output with kubeconform -strict, and that it catches an unknown
// field.
func TestKubeconformPrecheck(t *testing.T) {
	s := server(t)
	kubeconform := testenv.Tool(t, "kubeconform")
	kustomize := testenv.Tool(t, "kustomize")

	raw, _, err := kubectl(s, nil, "get", "--raw", "/version")
	if err != nil {
		t.Fatal(err)
	}
	var version struct{ GitVersion string }
	if err := json.Unmarshal([]byte(raw), &version); err != nil {
		t.Fatal(err)
	}
	openapi, _, err := kubectl(s, nil, "get", "--raw", "/openapi/v2")
	if err != nil {
		t.Fatal(err)
	}
	files, err := jsonschema.Files([]byte(openapi))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apps/v1/deployment.json", "v1/v1/configmap.json", "helm.toolkit.fluxcd.io/v2/helmrelease.json", "argoproj.io/v1alpha1/application.json"} {
		if _, ok := files[want]; !ok {
			t.Fatalf("no schema %s among %d", want, len(files))
		}
	}
	dir := filepath.Join(testenv.Cache(), "schemas", version.GitVersion)
	tmp := dir + ".new"
	os.RemoveAll(tmp)
	for p, b := range files {
		target := filepath.Join(tmp, p)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Swap in with renames, so that a concurrent `make precheck` sees the
	// old tree or the new one, never half of one.
	old := dir + ".old"
	os.RemoveAll(old)
	_ = os.Rename(dir, old)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(old)
	t.Logf("%d schemas for %s in %s", len(files), version.GitVersion, dir)

	check := func(stream []byte) (string, error) {
		cmd := exec.Command(kubeconform, "-strict", "-summary", "-schema-location", jsonschema.SchemaLocation(dir), "-")
		cmd.Stdin = strings.NewReader(string(stream))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	root := testenv.RepoRoot(t)
	for name, r := range testrender.RenderAll(t) {
		for what, stream := range map[string][]byte{
			"overlay": testrender.Run(t, kustomize, "build", filepath.Join(root, "out", name)),
			"chart":   testrender.HelmTemplate(t, r),
		} {
			out, err := check(stream)
			if err != nil || !strings.Contains(out, "Invalid: 0, Errors: 0, Skipped: 0") {
				t.Errorf("%s %s: kubeconform: %v\n%s", name, what, err, out)
			}
		}
	}
	out, err := check([]byte("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailable: 1, selectr: {}}\n"))
	if err == nil || !strings.Contains(out, "selectr") {
		t.Errorf("kubeconform accepted an unknown field:\n%s", out)
	}
}
