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
		// Members spread over zones (DoNotSchedule) and keep zonal
		// volumes: a zone's loss takes one of three, and the member waits
		// for its zone.
		{"etcd", 1, 1, 2, true, 2},
		{"pulsar bookkeeper", 1, 1, 2, true, 2},
		// Five MinIO servers in three zones: one zone holds two, and the
		// three left are the write quorum of five drives (parity 2).
		{"minio", 1, 2, 4, true, 3},
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
		{"production quorums survive a zone: four MinIO servers in three zones", func(e *model.Environment) {
			e.Dependencies.ObjectStorage.Managed.Replicas = 4
		}, "dependencies.objectStorage.managed.replicas", "losing zone us-east-1a can leave 2 of 4 pods (up to 2 share a zone), below its quorum of 3 (write quorum of its erasure set); in production a managed dependency must survive one zone's loss when zones are declared"},
		{"outside production the zone rule is topology.tolerate's", func(e *model.Environment) {
			e.Production = false
			e.Topology.Tolerate = "zone"
			e.Dependencies.ObjectStorage.Managed.Replicas = 4
		}, "dependencies.objectStorage.managed.replicas", `below its quorum of 3 (write quorum of its erasure set); topology.tolerate is "zone"`},
		{"zone tolerance: two etcd members, one zone holds the quorum", func(e *model.Environment) {
			e.Topology.Tolerate = "zone"
			e.Production = false
			e.Dependencies.Etcd.Managed.Replicas = 2
		}, "dependencies.etcd.managed.replicas", "losing zone us-east-1a can leave 1 of 2 pods"},
		{"zone tolerance: even spreading is no lasting bound per zone", func(e *model.Environment) {
			e.Topology.Tolerate = "zone"
			e.Topology.ZoneSpread = "DoNotSchedule"
		}, "components.mixCoordinator.replicas", "losing zone us-east-1a can leave 0 of 2 pods"},
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
	env := loadEnv(t, "prod")
	if err := analysis.WriteTable(&b, env); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"6 nodes, zones us-east-1a:2 us-east-1b:2 us-east-1c:2", "etcd ", "yes, 2 left, 2 once replaced", "NO, 0 left, 2 once replaced",
		"capacity: fits: requests 50.1 CPU, 162.1Gi of 96 CPU, 384Gi; worst node 13.7 CPU, 41.38Gi of 16 CPU, 64Gi"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	env.Topology.NodeSize = nil
	if err := analysis.WriteTable(&b, env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "capacity: not judged (no topology.nodeSize)") {
		t.Errorf("without a node size:\n%s", b.String())
	}
}

func TestQuorums(t *testing.T) {
	env := loadEnv(t, "prod")
	minio := map[int32]int{4: 3, 6: 4, 8: 5, 12: 8, 16: 12, 32: 28, 3: 1}
	for replicas, quorum := range minio {
		env.Dependencies.ObjectStorage.Managed.Replicas = replicas
		r := result(t, env, "minio")
		if r.Quorum != quorum {
			t.Errorf("MinIO with %d servers: quorum %d, want %d", replicas, r.Quorum, quorum)
		}
		if replicas < 4 && (r.Replicas != 1 || r.Controller != "Deployment") {
			t.Errorf("standalone MinIO: %d replicas of a %s, want one Deployment pod", r.Replicas, r.Controller)
		}
	}
	// Kafka: 6 brokers, RF 3, min.insync 2: one broker may go.
	env = loadEnv(t, "prod")
	q := env.Dependencies.MessageQueue.Managed
	env.Dependencies.MessageQueue.Type = "kafka"
	q.Broker.Replicas, q.Zookeeper.Replicas, q.ReplicationFactor, q.MinInsyncReplicas = 6, 3, 3, 2
	r := result(t, env, "kafka broker")
	if r.Quorum != 5 || !r.SurvivesNode || r.SurvivesZone {
		t.Errorf("Kafka 6 brokers RF 3 minISR 2: quorum %d, survives node %v, zone %v; want 5, true, false", r.Quorum, r.SurvivesNode, r.SurvivesZone)
	}
	if zk := result(t, env, "kafka zookeeper"); zk.Quorum != 2 {
		t.Errorf("Kafka's ZooKeeper of 3: quorum %d, want 2", zk.Quorum)
	}
}

func TestUnevenLayoutAndEvenSpread(t *testing.T) {
	env := loadEnv(t, "prod")
	env.Topology.Nodes = 7 // 3 + 2 + 2
	env.Topology.ZoneSpread = "DoNotSchedule"
	r := result(t, env, "queryNode")
	// No lasting bound per zone (at most the 3 nodes of us-east-1a hold 3);
	// the nodes left take the replacements back evenly: 4 on the 2+2
	// nodes left after the 3-node zone, all 5 on the 3+2 left after another.
	if r.MaxPerZone != 3 || r.Zones[0].Immediate != 2 || r.Zones[0].Settled != 4 || r.Zones[1].Settled != 5 || r.Zones[0].Exact {
		t.Errorf("queryNode on 7 nodes, DoNotSchedule: %+v", r)
	}
}
