package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/internal/testspecs"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
	"github.com/milvus-gitops/milvusgen/upgrade"
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

// devAt is testspecs.DevAt of overlays/dev.cue.
func devAt(t testing.TB, phase int, keepIndexNode bool) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(overlaysDir, "dev.cue"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := testspecs.DevAt(string(b), phase, keepIndexNode)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func renderDev(t testing.TB, phase int, keepIndexNode bool) (render.FileSet, error) {
	t.Helper()
	set, err := spec.Load(copyOverlays(t, []string{"base.cue"}, map[string]string{"dev.cue": devAt(t, phase, keepIndexNode)}))
	if err != nil {
		return nil, err
	}
	return Environment(set, "dev")
}

// TestUpgrade25To26: dev from 2.5.16 to 2.6.15, one commit per phase. The
// chart moves first with every component on 2.5.16 and the streaming
// service off; the streaming nodes and the mixCoordinator move next, then
// the query nodes, the data nodes, and the proxies with the index nodes
// stopped. The index nodes held on 2.5 run without chart 5.0's streaming
// switch, and the last phase is dev on 2.6.15 byte for byte.
func TestUpgrade25To26(t *testing.T) {
	plain, err := renderDev(t, 6, false)
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]bool{}
	order := [][]string{nil, {"streamingnode", "mixcoord"}, {"querynode"}, {"datanode"}, {"proxy"}}
	for phase := 1; phase <= 5; phase++ {
		fs, err := renderDev(t, phase, false)
		if err != nil {
			t.Fatalf("phase %d: %v", phase, err)
		}
		if phase == 5 {
			for _, p := range plain.Paths() {
				if string(plain[p]) != string(fs[p]) {
					t.Errorf("the last phase differs from dev on 2.6.15 in %s", p)
				}
			}
			if len(plain) != len(fs) {
				t.Errorf("the last phase has %d files, dev on 2.6.15 %d", len(fs), len(plain))
			}
			continue
		}
		got, note, patches := devPins(t, fs)
		var want []string
		for _, later := range order[phase:] {
			want = append(want, later...)
		}
		want = append(want, "indexnode")
		if phase == 1 {
			want = slices.DeleteFunc(want, func(c string) bool { return c == "streamingnode" }) // not rendered yet
		}
		var held []string
		for c, image := range got {
			if image != "milvusdb/milvus:v2.5.16" {
				t.Errorf("phase %d: %s pinned to %s", phase, c, image)
			}
			held = append(held, c)
		}
		slices.Sort(held)
		slices.Sort(want)
		if !slices.Equal(held, want) {
			t.Errorf("phase %d: held back %v, want %v", phase, held, want)
		}
		if !strings.HasPrefix(note, fmt.Sprintf("phase %d of 5 (2.5 -> 2.6): ", phase)) {
			t.Errorf("phase %d: annotation %q", phase, note)
		}
		streaming := strings.Contains(string(fs["values.yaml"]), "streaming:\n  enabled: true")
		if streaming != (phase >= 2) {
			t.Errorf("phase %d: streaming.enabled %v", phase, streaming)
		}
		if unset := strings.Contains(patches["indexnode"], "MILVUS_STREAMING_SERVICE_ENABLED"); unset != (phase >= 2) {
			t.Errorf("phase %d: the index nodes' streaming switch removed: %v, want %v", phase, unset, phase >= 2)
		}
		if !strings.Contains(string(fs["values.yaml"]), "indexNode:\n  affinity:") {
			t.Errorf("phase %d: the index nodes are not rendered", phase)
		}
		for p, b := range fs {
			if strings.HasPrefix(p, "job-milvus-dev-verify-") {
				jobs[p] = true
				// Writes and flushes measured, where the windows open.
				if !strings.Contains(string(b), "--mixed-duration") || !strings.Contains(string(b), "--upgrade-phase") {
					t.Errorf("phase %d: the verification runs no mixed phase or does not say its phase", phase)
				}
			}
		}
	}
	// dev runs Flux: a Job per phase, the last one dev's own.
	if len(jobs) != 4 {
		t.Errorf("verification Jobs %v: each phase must have its own", jobs)
	}
}

// devPins is pins for dev, with each pinned component's whole patch.
func devPins(t *testing.T, fs render.FileSet) (map[string]string, string, map[string]string) {
	t.Helper()
	fs2 := render.FileSet{"helmrelease-milvus-prod.yaml": fs["helmrelease-milvus-dev.yaml"]}
	got, note := pins(t, fs2)
	patches := map[string]string{}
	for _, part := range strings.Split(string(fs["helmrelease-milvus-dev.yaml"]), "- patch: |")[1:] {
		if _, comp, ok := strings.Cut(part, "component="); ok {
			comp, _, _ = strings.Cut(comp, "\n")
			patches[comp] = part
		}
	}
	return got, note, patches
}

// TestUpgrade25To26Refusals: the index nodes stay in the spec until the
// phase that stops them, and go with it.
func TestUpgrade25To26Refusals(t *testing.T) {
	_, err := renderDev(t, 5, true)
	if err == nil || !strings.Contains(err.Error(), "environments.dev.components.indexNode: phase 5 of the 2.5 -> 2.6 upgrade stops the indexNode") {
		t.Errorf("index nodes kept in the last phase: %v", err)
	}
	src := strings.Replace(devAt(t, 3, false), "\t\tindexNode: replicas:        1\n", "", 1)
	set, err := spec.Load(copyOverlays(t, []string{"base.cue"}, map[string]string{"dev.cue": src}))
	if err == nil {
		_, err = Environment(set, "dev")
	}
	if err == nil || !strings.Contains(err.Error(), "components.indexNode: the 2.5 -> 2.6 upgrade keeps the indexNode running until phase 5") {
		t.Errorf("index nodes dropped in phase 3: %v", err)
	}
	// A 2.6 environment not upgrading from 2.5 has no index nodes.
	if _, err := renderDev(t, 6, true); err == nil || !strings.Contains(err.Error(), `components.indexNode: unknown field "indexNode"`) {
		t.Errorf("index nodes in a plain 2.6 environment: %v", err)
	}
}

// TestUpgradeKnowsTheSchemasCharts: package upgrade names the source
// chart of a transition from its own table; it must be the chart the
// schema pins for that line.
func TestUpgradeKnowsTheSchemasCharts(t *testing.T) {
	set, err := spec.Load(overlaysDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, name := range set.Names() {
		env, err := set.Environment(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := upgrade.ParseVersion(env.Milvus.Version)
		if err != nil {
			t.Fatal(err)
		}
		if got := upgrade.Chart(v); got != env.Milvus.Chart.Version {
			t.Errorf("%s (Milvus %s): upgrade.Chart is %s, the schema pins %s", name, v, got, env.Milvus.Chart.Version)
		}
		seen[v.Line()] = true
	}
	if !seen["2.5"] || !seen["2.6"] {
		t.Errorf("the committed environments cover lines %v: both lines must be checked", seen)
	}
}

// TestStreamOfEveryPhaseIsKustomizeBuild: what gen render prints without
// kustomize equals krusty's build in every state of dev's upgrade and in a
// phase of an Argo CD environment (the committed ones: render/).
func TestStreamOfEveryPhaseIsKustomizeBuild(t *testing.T) {
	check := func(name string, fs render.FileSet) {
		t.Helper()
		want, err := render.Build(fs)
		if err != nil {
			t.Fatal(err)
		}
		got, err := render.Stream(fs)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s: gen's stream differs from kustomize build's", name)
		}
	}
	for phase := -1; phase <= 6; phase++ {
		fs, err := renderDev(t, phase, false)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("dev phase %d", phase), fs)
	}
	set, err := spec.Load(copyOverlays(t, []string{"base.cue", "staging.cue"}, map[string]string{
		"upgrade.cue": "package overlays\n\nenvironments: staging: milvus: upgrade: {from: \"2.6.14\", phase: 2}\n"}))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Environment(set, "staging")
	if err != nil {
		t.Fatal(err)
	}
	check("staging phase 2", fs)
}
