package sim_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/milvus-gitops/milvusgen/analysis"
	"github.com/milvus-gitops/milvusgen/internal/kubeapi"
	"github.com/milvus-gitops/milvusgen/internal/sim"
	"github.com/milvus-gitops/milvusgen/internal/simcluster"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/internal/testrender"
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
		Tools: sim.Tools{Helm: testenv.Tool(t, "helm"), Kustomize: kustomize, Kubectl: bin.Kubectl,
			Charts: filepath.Join(testenv.Shared(t), "charts"), CRDs: filepath.Join(testenv.Shared(t), "crds"), Repo: root},
		Bin: bin, Dir: dir,
		Log: func(f string, a ...any) { t.Logf(f, a...) },
	}
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
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			start := time.Now()
			rep, err := sim.Run(ctx, o)
			if rep != nil {
				var b bytes.Buffer
				rep.Write(&b)
				t.Logf("simulation of %s in %s:\n%s", name, time.Since(start).Round(time.Second), b.String())
			}
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstAnalysis(t, rep)
		})
	}
}

func checkAgainstAnalysis(t *testing.T, rep *sim.Report) {
	t.Helper()
	byName := map[string]analysis.Result{}
	for _, a := range rep.Analysis {
		byName[a.Name] = a
		placed := 0
		for _, pods := range rep.Placement {
			for _, p := range pods {
				if p == a.Name {
					placed++
				}
			}
		}
		if placed != a.Replicas {
			t.Errorf("%s: %d pods placed, the spec asks for %d", a.Name, placed, a.Replicas)
		}
	}
	if len(rep.Drains) != len(rep.Nodes) {
		t.Errorf("%d of %d nodes drained", len(rep.Drains), len(rep.Nodes))
	}
	for _, d := range rep.Drains {
		if d.Blocked != "" {
			t.Errorf("drain of %s blocked: %s", d.Node, d.Blocked)
		}
		for _, v := range d.Violations {
			t.Errorf("drain of %s: %s", d.Node, v)
		}
		for name, a := range byName {
			if a.SurvivesNode && d.MinReady[name] < a.Quorum {
				t.Errorf("drain of %s: %s fell to %d ready, below its quorum %d that the analysis says one node's loss keeps", d.Node, name, d.MinReady[name], a.Quorum)
			}
		}
	}
	for i, z := range rep.ZoneLoss {
		for name, a := range byName {
			p := a.Zones[i]
			got, settled := z.Immediate[name], z.Settled[name]
			if got < p.Immediate {
				t.Errorf("zone %s lost: %s kept %d ready, the analysis guarantees %d", z.Zone, name, got, p.Immediate)
			}
			if p.Exact && settled != p.Settled || !p.Exact && settled < p.Settled {
				t.Errorf("zone %s lost: %s settled at %d ready, the analysis predicts %d (exact: %v)%s", z.Zone, name, settled, p.Settled, p.Exact, z.Pending)
			}
			if p.QuorumHeld && got < a.Quorum {
				t.Errorf("zone %s lost: %s lost its quorum of %d, the analysis says it holds", z.Zone, name, a.Quorum)
			}
		}
	}
	if rep.Rollout == nil {
		t.Error("no rolling update")
	} else {
		for _, v := range rep.Rollout.Violations {
			t.Errorf("rolling update: %s", v)
		}
	}
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
