package sim_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/milvus-gitops/milvusgen/compiler"
	"github.com/milvus-gitops/milvusgen/internal/kubeapi"
	"github.com/milvus-gitops/milvusgen/internal/sim"
	"github.com/milvus-gitops/milvusgen/internal/simcluster"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/internal/testrender"
	"github.com/milvus-gitops/milvusgen/internal/testspecs"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

func options(t *testing.T, name string) sim.Options {
	t.Helper()
	bin := simcluster.Binaries{
		Binaries: kubeapi.Binaries{
			Etcd:          testenv.Tool(t, "etcd"),
			KubeAPIServer: testenv.Tool(t, "kube-apiserver"),
			Kubectl:       testenv.Tool(t, "kubectl"),
		},
		ControllerManager: testenv.Tool(t, "kube-controller-manager"),
		Scheduler:         testenv.Tool(t, "kube-scheduler"),
		Kwok:              testenv.Tool(t, "kwok"),
		KwokStages:        testenv.Tool(t, "kwok-stages"),
	}
	kustomize := testenv.Tool(t, "kustomize")
	root := testenv.RepoRoot(t)
	r := testrender.RenderAll(t)[name]
	dir, err := os.MkdirTemp("", "milvusgen-sim-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("simulated cluster state and logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return sim.Options{
		Env:    r.Env,
		Stream: testrender.Run(t, kustomize, "build", filepath.Join(root, "out", name)),
		Tools: sim.Tools{Helm: testenv.Tool(t, "helm"), Kustomize: kustomize,
			Charts: filepath.Join(testenv.Shared(t), "charts"), CRDs: filepath.Join(testenv.Shared(t), "crds"), Repo: root},
		Bin: bin, Dir: dir,
		Log: func(f string, a ...any) { t.Logf(f, a...) },
	}
}

// simulate runs o, logs its report, fails the test if it does not
// converge, and reports every observation that breaks the analysis.
func simulate(t *testing.T, o sim.Options, title string, timeout time.Duration) *sim.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	rep, err := sim.Run(ctx, o)
	if rep != nil {
		var b bytes.Buffer
		rep.Write(&b)
		t.Logf("%s in %s:\n%s", title, time.Since(start).Round(time.Second), b.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Check() {
		t.Error(v)
	}
	return rep
}

// TestSimulation deploys every committed environment onto the cluster its
// spec describes, then drains every node, loses every zone, rolls the
// Milvus image and runs the verifier's fault phase, holding each
// observation to the static analysis (package analysis): the simulation
// may do better than the worst case the analysis assumes, never worse.
func TestSimulation(t *testing.T) {
	for name := range testrender.RenderAll(t) {
		t.Run(name, func(t *testing.T) {
			o := options(t, name)
			o.Drain, o.Zones, o.Rollout, o.Fault = true, true, true, true
			rep := simulate(t, o, "simulation of "+name, 20*time.Minute)
			if rep.Rollout == nil {
				t.Error("no rolling update")
			}
			if o.Env.Verification.Enabled && o.Env.Verification.Fault.Enabled && (rep.Fault == nil || len(rep.Fault.Killed) == 0) {
				t.Error("the verification Job has a fault phase, the drill killed nothing")
			}
		})
	}
}

// TestSimulationEvenZoneSpread holds prod with zoneSpread "DoNotSchedule"
// (rendered in memory) to the analysis through the loss of each zone: the
// spread constraints honour the lost zone's tainted nodes, so replacements
// still find a place in the zones left.
func TestSimulationEvenZoneSpread(t *testing.T) {
	o := options(t, "prod")
	env := *o.Env
	env.Topology.ZoneSpread = "DoNotSchedule"
	files, err := render.Environment(&env)
	if err != nil {
		t.Fatal(err)
	}
	if o.Stream, err = render.Build(files); err != nil {
		t.Fatal(err)
	}
	o.Env, o.Zones = &env, true
	simulate(t, o, "prod with DoNotSchedule", 10*time.Minute)
}

// TestSimulationBites proves the harness fails where the cluster cannot
// keep the promise: a cluster with fewer nodes than required anti-affinity
// needs does not converge and says why in the scheduler's words, and a
// disruption budget that allows no eviction blocks the drain.
func TestSimulationBites(t *testing.T) {
	t.Run("anti-affinity that the nodes cannot satisfy", func(t *testing.T) {
		o := options(t, "staging")
		// The spec says 3 nodes; the cluster has 2.
		env := *o.Env
		env.Topology.Nodes = 2
		o.Env = &env
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		_, err := sim.Run(ctx, o)
		if err == nil {
			t.Fatal("staging converged on 2 nodes with 3 query nodes under required anti-affinity")
		}
		t.Logf("as expected: %v", err)
		for _, want := range []string{"does not converge", "querynode", "didn't match pod anti-affinity rules"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	})
	t.Run("a disruption budget that blocks the drain", func(t *testing.T) {
		o := options(t, "dev")
		// The proxy's budget, edited to allow no disruption at all.
		docs := strings.Split(string(o.Stream), "\n---\n")
		edited := false
		for i, d := range docs {
			if strings.Contains(d, "kind: PodDisruptionBudget") && strings.Contains(d, "name: milvus-dev-proxy") {
				docs[i], edited = strings.Replace(d, "maxUnavailable: 1", "maxUnavailable: 0", 1), true
			}
		}
		if !edited {
			t.Fatal("no proxy PodDisruptionBudget in out/dev")
		}
		o.Stream = []byte(strings.Join(docs, "\n---\n"))
		o.Drain = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		rep, err := sim.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Drains) == 0 || !strings.Contains(rep.Drains[0].Blocked, "refused") || !strings.Contains(rep.Drains[0].Blocked, "proxy") {
			t.Fatalf("drain not blocked by the budget: %+v", rep.Drains)
		}
	})
}

// TestUpgradePhaseOnTheSimulatedCluster: prod in phase 1 and then phase 2
// of a patch upgrade from 2.6.14 (the operator's order: mixCoordinator,
// then streaming nodes), installed as Flux would: helm renders the target
// tag for every component and the HelmRelease's post-render patches, run
// through kustomize, hold the others on v2.6.14. The live Deployments
// carry exactly those images, the release converges, and the
// verification Job's own identity can read what it waits for: the
// Deployments, and in phase 1 the backup CronJob, which has never run
// here, so phase 1's verification would fail until a backup succeeds.
func TestUpgradePhaseOnTheSimulatedCluster(t *testing.T) {
	o := options(t, "prod")
	root := testenv.RepoRoot(t)
	read := func(f string) []byte {
		b, err := os.ReadFile(filepath.Join(root, "overlays", f))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	base, prod := read("base.cue"), read("prod.cue")
	state := func(phase int) sim.Step {
		up := fmt.Sprintf("package overlays\n\nenvironments: prod: milvus: upgrade: {from: \"2.6.14\", phase: %d}\n", phase)
		return renderState(t, o, "prod", fmt.Sprintf("phase %d", phase), map[string][]byte{"base.cue": base, "prod.cue": prod, "upgrade.cue": []byte(up)})
	}
	first := state(1)
	o.Env, o.Stream = first.Env, first.Stream
	o.Then = []sim.Step{state(2)}
	rep := simulate(t, o, "prod in phases 1 and 2 of 2.6.14 -> 2.6.15", 10*time.Minute)
	want := []map[string]string{
		{"mixcoord": "v2.6.15", "streamingnode": "v2.6.14", "querynode": "v2.6.14", "datanode": "v2.6.14", "proxy": "v2.6.14"},
		{"mixcoord": "v2.6.15", "streamingnode": "v2.6.15", "querynode": "v2.6.14", "datanode": "v2.6.14", "proxy": "v2.6.14"},
	}
	if len(rep.Steps) != 2 {
		t.Fatalf("%d states, want 2", len(rep.Steps))
	}
	for i, st := range rep.Steps {
		for c, tag := range want[i] {
			if !strings.HasSuffix(st.Images[c], ":"+tag) {
				t.Errorf("%s: %s runs %q, want tag %s", st.Name, c, st.Images[c], tag)
			}
		}
		if st.Wait == nil || st.Wait.Deployments != 5 {
			t.Errorf("%s: the verification Job's wait saw %+v, want 5 Deployments", st.Name, st.Wait)
		}
	}
	if b := rep.Steps[0].Wait.Backup; !strings.Contains(b, "has never succeeded") {
		t.Errorf("phase 1's backup check: %q", b)
	}
	if b := rep.Steps[1].Wait.Backup; b != "" {
		t.Errorf("phase 2 checks no backup: %q", b)
	}
}

// TestUpgrade25To26OnTheSimulatedCluster walks dev from 2.5.16 to 2.6.15
// on one simulated cluster, one commit per state as Flux would sync it:
// the preparatory commit (2.5.16 with the mixCoordinator, chart 4.2.58),
// then every phase (chart 5.0.19 on 2.5.16, streaming nodes and
// mixCoordinator, query nodes, data nodes, proxies with the index nodes
// stopped), each rendered by gen, built by the real kustomize and
// installed by the real helm with the post-render patches: each converges
// with exactly the images its phase says, before the next is applied.
func TestUpgrade25To26OnTheSimulatedCluster(t *testing.T) {
	o := options(t, "dev")
	root := testenv.RepoRoot(t)
	base, err := os.ReadFile(filepath.Join(root, "overlays", "base.cue"))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := os.ReadFile(filepath.Join(root, "overlays", "dev.cue"))
	if err != nil {
		t.Fatal(err)
	}
	state := func(phase int) sim.Step {
		src, err := testspecs.DevAt(string(dev), phase, false)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("phase %d", phase)
		if phase == 0 {
			name = "2.5.16 with the mixCoordinator"
		}
		return renderState(t, o, "dev", name, map[string][]byte{"base.cue": base, "dev.cue": []byte(src)})
	}
	first := state(0)
	o.Env, o.Stream = first.Env, first.Stream
	for phase := 1; phase <= 5; phase++ {
		o.Then = append(o.Then, state(phase))
	}
	rep := simulate(t, o, "dev from 2.5.16 to 2.6.15", 15*time.Minute)
	old, new := "v2.5.16", "v2.6.15"
	want := []map[string]string{
		{"mixcoord": old, "querynode": old, "datanode": old, "proxy": old, "indexnode": old},
		{"mixcoord": old, "querynode": old, "datanode": old, "proxy": old, "indexnode": old},
		{"streamingnode": new, "mixcoord": new, "querynode": old, "datanode": old, "proxy": old, "indexnode": old},
		{"streamingnode": new, "mixcoord": new, "querynode": new, "datanode": old, "proxy": old, "indexnode": old},
		{"streamingnode": new, "mixcoord": new, "querynode": new, "datanode": new, "proxy": old, "indexnode": old},
		{"streamingnode": new, "mixcoord": new, "querynode": new, "datanode": new, "proxy": new},
	}
	if len(rep.Steps) != len(want) {
		t.Fatalf("%d states converged, want %d", len(rep.Steps), len(want))
	}
	for i, st := range rep.Steps {
		if len(st.Images) != len(want[i]) {
			t.Errorf("%s: Deployments %v, want %v", st.Name, st.Images, want[i])
		}
		for c, tag := range want[i] {
			if !strings.HasSuffix(st.Images[c], ":"+tag) {
				t.Errorf("%s: %s runs %q, want tag %s", st.Name, c, st.Images[c], tag)
			}
		}
	}
}

// renderState renders environment env of the overlay files (name ->
// source) into a temporary out/ and builds it with the real kustomize: a
// state for Options.Then, named name.
func renderState(t *testing.T, o sim.Options, env, name string, files map[string][]byte) sim.Step {
	t.Helper()
	overlays := t.TempDir()
	for f, b := range files {
		if err := os.WriteFile(filepath.Join(overlays, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := spec.Load(overlays)
	if err != nil {
		t.Fatal(err)
	}
	e, err := set.Environment(env)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := compiler.Environment(set, env)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), env)
	if err := render.Write(out, fs); err != nil {
		t.Fatal(err)
	}
	return sim.Step{Name: name, Env: e, Stream: testrender.Run(t, o.Tools.Kustomize, "build", out)}
}
