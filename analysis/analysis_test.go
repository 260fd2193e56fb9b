package analysis_test

import (
	"bytes"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/analysis"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/spec"
)

func loadEnv(t *testing.T, name string) *model.Environment {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	set, err := spec.Load(filepath.Join(filepath.Dir(file), "..", "overlays"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := set.Environment(name)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func result(t *testing.T, env *model.Environment, name string) analysis.Result {
	t.Helper()
	for _, r := range analysis.Analyse(env) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no workload %q", name)
	return analysis.Result{}
}

func TestLayoutRoundRobin(t *testing.T) {
	env := &model.Environment{Topology: model.Topology{Nodes: 7, Zones: []string{"a", "b", "c"}}}
	l := analysis.LayoutOf(env)
	if got := l.PerZone; len(got) != 3 || got[0] != 3 || got[1] != 2 || got[2] != 2 {
		t.Fatalf("per zone = %v, want [3 2 2]", got)
	}
	if l.ZoneOf(3) != "a" || l.ZoneOf(5) != "c" {
		t.Fatalf("zone of node 3 = %s, of node 5 = %s", l.ZoneOf(3), l.ZoneOf(5))
	}
}

func TestProdGuarantees(t *testing.T) {
	env := loadEnv(t, "prod")
	if v := analysis.Check(env); len(v) != 0 {
		t.Fatalf("prod breaks rules: %v", v)
	}
	cases := []struct {
		name                     string
		perNode, perZone, nodeOK int
		survivesZone             bool
		settled                  int
	}{
		// Hard anti-affinity, 2 nodes per zone, ScheduleAnyway: two may
		// share a zone; stateless pods come back on the 4 nodes left.
		{"queryNode", 1, 2, 4, true, 4},
		{"mixCoordinator", 1, 2, 1, false, 2},
		{"proxy", 1, 2, 2, true, 3},
		// Members keep zonal volumes: a lost zone's members stay lost.
		{"etcd", 1, 2, 2, false, 1},
		{"minio", 1, 2, 3, false, 2},
		{"pulsar bookkeeper", 1, 2, 2, false, 1},
	}
	for _, c := range cases {
		r := result(t, env, c.name)
		if r.MaxPerNode != c.perNode || r.MaxPerZone != c.perZone || r.NodeLoss != c.nodeOK || r.SurvivesZone != c.survivesZone {
			t.Errorf("%s: per node %d, per zone %d, after node loss %d, survives zone %v; want %d %d %d %v",
				c.name, r.MaxPerNode, r.MaxPerZone, r.NodeLoss, r.SurvivesZone, c.perNode, c.perZone, c.nodeOK, c.survivesZone)
		}
		for _, z := range r.Zones {
			if z.Settled != c.settled {
				t.Errorf("%s: settled after losing %s = %d, want %d", c.name, z.Zone, z.Settled, c.settled)
			}
		}
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*model.Environment)
		field string
		msg   string
	}{
		{"preferred anti-affinity can stack a component on one node", func(e *model.Environment) {
			c := e.Components["mixCoordinator"]
			c.AntiAffinity = "preferred"
			e.Components["mixCoordinator"] = c
		}, "components.mixCoordinator.antiAffinity", "losing one node can leave 0 of 2 pods"},
		{"zone tolerance needs members spread over zones", func(e *model.Environment) {
			e.Topology.Tolerate = "zone"
		}, "dependencies.etcd.managed.replicas", "losing zone us-east-1a can leave 1 of 3 pods"},
		{"zone tolerance: a stateless component spread DoNotSchedule passes, etcd does not", func(e *model.Environment) {
			e.Topology.Tolerate = "zone"
			e.Topology.ZoneSpread = "DoNotSchedule"
		}, "dependencies.etcd.managed.replicas", "below its quorum of 2"},
		{"requests that do not fit the nodes", func(e *model.Environment) {
			e.Topology.NodeSize = &model.Quantities{CPU: 8, Memory: 32 << 30}
		}, "topology.nodeSize", "requests do not fit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := loadEnv(t, "prod")
			c.edit(env)
			var found []string
			for _, v := range analysis.Check(env) {
				found = append(found, v.Field+": "+v.Msg)
				if v.Field == c.field && strings.Contains(v.Msg, c.msg) {
					return
				}
			}
			t.Fatalf("no violation at %s containing %q; got:\n%s", c.field, c.msg, strings.Join(found, "\n"))
		})
	}
}

func TestDoNotScheduleBoundsZones(t *testing.T) {
	env := loadEnv(t, "prod")
	env.Topology.ZoneSpread = "DoNotSchedule"
	r := result(t, env, "mixCoordinator")
	if r.MaxPerZone != 1 || !r.SurvivesZone {
		t.Fatalf("mixCoordinator with DoNotSchedule: per zone %d, survives zone %v; want 1, true", r.MaxPerZone, r.SurvivesZone)
	}
}

func TestCapacityFits(t *testing.T) {
	env := loadEnv(t, "prod")
	env.Topology.NodeSize = &model.Quantities{CPU: 32, Memory: 128 << 30}
	c := analysis.CapacityOf(env, analysis.Analyse(env))
	if !c.Judged || !c.Fits() {
		t.Fatalf("prod on 32 CPU / 128Gi nodes: %+v", c)
	}
	// Every workload's largest share on one node: one pod of each.
	want := 2 + 4 + 2 + 2 + 1 + 1 + 1 + 0.1 + 0.2 + 0.2 + 0.2
	if d := c.WorstNodeCPU - want; d > 1e-9 || d < -1e-9 {
		t.Fatalf("worst node CPU = %v, want %v", c.WorstNodeCPU, want)
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := analysis.WriteTable(&b, loadEnv(t, "prod")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"6 nodes, zones us-east-1a:2 us-east-1b:2 us-east-1c:2", "etcd ", "NO, 1 left, 1 once replaced", "capacity: not judged"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
