package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// copyOverlays is a temporary overlays directory with the named files of
// overlays/ and extra files (name -> CUE source).
func copyOverlays(t testing.TB, names []string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range names {
		b, err := os.ReadFile(filepath.Join(overlaysDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for f, src := range extra {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// upgradeOverlays is base.cue and prod.cue, and, unless extra is empty,
// a file upgrade.cue with it.
func upgradeOverlays(t *testing.T, extra string) string {
	t.Helper()
	files := map[string]string{}
	if extra != "" {
		files["upgrade.cue"] = "package overlays\n\n" + extra + "\n"
	}
	return copyOverlays(t, []string{"base.cue", "prod.cue"}, files)
}

func renderProd(t *testing.T, dir string) (render.FileSet, error) {
	t.Helper()
	set, err := spec.Load(dir)
	if err != nil {
		return nil, err
	}
	return Environment(set, "prod")
}

// pins reads the Milvus HelmRelease's post-render patches that replace a
// Deployment's image: component label -> image.
func pins(t *testing.T, fs render.FileSet) (map[string]string, string) {
	t.Helper()
	var hr struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			PostRenderers []struct {
				Kustomize struct {
					Patches []struct {
						Patch  string `json:"patch"`
						Target struct {
							LabelSelector string `json:"labelSelector"`
						} `json:"target"`
					} `json:"patches"`
				} `json:"kustomize"`
			} `json:"postRenderers"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(fs["helmrelease-milvus-prod.yaml"], &hr); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, pr := range hr.Spec.PostRenderers {
		for _, p := range pr.Kustomize.Patches {
			var ops []struct {
				Op, Path string
				Value    any
			}
			if err := yaml.Unmarshal([]byte(p.Patch), &ops); err != nil {
				t.Fatal(err)
			}
			for _, op := range ops {
				if op.Op == "replace" && op.Path == "/spec/template/spec/containers/0/image" {
					_, comp, _ := strings.Cut(p.Target.LabelSelector, "component=")
					out[comp] = fmt.Sprint(op.Value)
				}
			}
		}
	}
	return out, hr.Metadata.Annotations["milvusgen.io/upgrade-phase"]
}

// TestUpgradePhases: prod (2.6.15) upgraded from 2.6.14 in the operator's
// order, one phase per commit: each phase holds the components not yet
// due on v2.6.14 through post-render patches, says so on the HelmRelease
// and to the verification Job (whose name changes with it), and the last
// phase renders byte for byte as prod without the upgrade.
func TestUpgradePhases(t *testing.T) {
	plain, err := renderProd(t, upgradeOverlays(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"mixcoord", "streamingnode", "querynode", "datanode", "proxy"}
	jobs := map[string]bool{}
	for phase := 1; phase <= len(order); phase++ {
		fs, err := renderProd(t, upgradeOverlays(t, fmt.Sprintf(`environments: prod: milvus: upgrade: {from: "2.6.14", phase: %d}`, phase)))
		if err != nil {
			t.Fatalf("phase %d: %v", phase, err)
		}
		got, note := pins(t, fs)
		var held []string
		for c, image := range got {
			if !strings.HasSuffix(image, "milvus:v2.6.14") {
				t.Errorf("phase %d: %s pinned to %s", phase, c, image)
			}
			held = append(held, c)
		}
		slices.Sort(held)
		want := slices.Clone(order[phase:])
		slices.Sort(want)
		if !slices.Equal(held, want) {
			t.Errorf("phase %d: held back %v, want %v", phase, held, want)
		}
		if phase == len(order) {
			for _, p := range plain.Paths() {
				if string(plain[p]) != string(fs[p]) {
					t.Errorf("the last phase differs from prod without the upgrade in %s", p)
				}
			}
			if len(plain) != len(fs) {
				t.Errorf("the last phase has %d files, prod %d", len(fs), len(plain))
			}
			continue
		}
		if !strings.HasPrefix(note, fmt.Sprintf("phase %d of 5 (2.6 patch release): ", phase)) || !strings.Contains(note, "on v2.6.14") {
			t.Errorf("phase %d: annotation %q", phase, note)
		}
		for p, b := range fs {
			if strings.HasPrefix(p, "job-milvus-prod-verify-") {
				jobs[p] = true
				if !strings.Contains(string(b), "--upgrade-phase") {
					t.Errorf("phase %d: the verification Job does not say which phase it verifies", phase)
				}
			}
		}
	}
	if len(jobs) != len(order)-1 {
		t.Errorf("verification Jobs %v: each phase must have its own", jobs)
	}
}

// TestUnsafeUpgradeStepsAreRefused at gen vet, positioned at the field.
func TestUnsafeUpgradeStepsAreRefused(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{`environments: prod: milvus: upgrade: {from: "2.6.14", phase: 6}`, "upgrade.cue:3:55: environments.prod.milvus.upgrade.phase: the 2.6 patch release plan from 2.6.14 to 2.6.15 has 5 phases"},
		{`environments: prod: milvus: upgrade: {from: "2.6.16", phase: 1}`, "environments.prod.milvus.upgrade.from: 2.6.16 -> 2.6.15 is a downgrade"},
		{`environments: prod: milvus: upgrade: {from: "2.6.0-rc1", phase: 1}`, "release candidate"},
		{`environments: prod: milvus: upgrade: {from: "v2.5.10", phase: 1}`, "upgrade to 2.5.16 first"},
	} {
		_, err := renderProd(t, upgradeOverlays(t, tc.spec))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %q", tc.spec, err, tc.want)
		}
	}
}
