package analysis

import (
	"fmt"

	"github.com/milvus-gitops/milvusgen/model"
)

// Layout is the cluster the spec describes: topology.nodes nodes dealt
// round-robin over topology.zones (the simulated cluster builds the same).
type Layout struct {
	Nodes int
	Zones []string
	// PerZone is the number of nodes in each zone, in Zones order.
	PerZone []int
}

// LayoutOf is the environment's node layout.
func LayoutOf(env *model.Environment) Layout {
	l := Layout{Nodes: env.Topology.Nodes, Zones: env.Topology.Zones}
	for i := range l.Zones {
		n := l.Nodes / len(l.Zones)
		if i < l.Nodes%len(l.Zones) {
			n++
		}
		l.PerZone = append(l.PerZone, n)
	}
	return l
}

// ZoneOf is the zone of node i (0-based) in the round-robin layout.
func (l Layout) ZoneOf(i int) string {
	if len(l.Zones) == 0 {
		return ""
	}
	return l.Zones[i%len(l.Zones)]
}

// Result is what one workload guarantees.
type Result struct {
	Workload
	// MaxPerNode and MaxPerZone are the most pods the scheduler may put on
	// one node or into one zone (MaxPerZone is 0 without zones).
	MaxPerNode int `json:"maxPerNode"`
	MaxPerZone int `json:"maxPerZone"`
	// NodeLoss is the fewest ready pods right after any one node is lost;
	// SurvivesNode says whether that keeps the quorum.
	NodeLoss     int  `json:"nodeLoss"`
	SurvivesNode bool `json:"survivesNode"`
	// Zones holds, per zone in spec order, what losing that zone leaves.
	Zones []ZoneLoss `json:"zones,omitempty"`
	// SurvivesZone: the quorum holds whichever zone is lost (false without
	// zones).
	SurvivesZone bool `json:"survivesZone"`
}

// ZoneLoss is the guaranteed outcome of losing one zone.
type ZoneLoss struct {
	Zone string `json:"zone"`
	// Immediate is the fewest ready pods right after the loss.
	Immediate int `json:"immediate"`
	// Settled is the fewest ready pods once the controllers have replaced
	// what they can on the remaining nodes (stateless pods move; members
	// with zonal volumes cannot).
	Settled int `json:"settled"`
	// Exact is true when Settled does not depend on where the scheduler
	// put the pods before the loss (stateless pods without even zone
	// spreading).
	Exact bool `json:"exact"`
	// QuorumHeld: Immediate is at least the quorum.
	QuorumHeld bool `json:"quorumHeld"`
}

// Analyse computes every workload's guarantees.
func Analyse(env *model.Environment) []Result {
	l := LayoutOf(env)
	var out []Result
	for _, w := range Workloads(env) {
		out = append(out, analyse(w, l))
	}
	return out
}

func analyse(w Workload, l Layout) Result {
	r := Result{Workload: w, MaxPerNode: w.Replicas}
	if w.HardHostSpread {
		r.MaxPerNode = 1
	}
	// DoNotSchedule keeps zones within one pod of each other only while
	// pods are placed: after a zone's loss its replacements crowd the
	// zones left and stay there when it returns (Kubernetes does not
	// rebalance), so the next loss can take more. The simulated cluster
	// showed it (two of three proxies in one zone after the first loss);
	// no bound per zone or node is counted on, only the replacements.
	even := w.ZoneSpread == "DoNotSchedule" && len(l.Zones) > 1
	// Except for members with zonal volumes: each returns to its own zone,
	// so the even share they were placed with lasts.
	lasting := even && w.Stateful
	if lasting {
		r.MaxPerNode = min(r.MaxPerNode, ceilDiv(w.Replicas, len(l.Zones)))
	}
	r.NodeLoss = w.Replicas - r.MaxPerNode
	r.SurvivesNode = r.NodeLoss >= w.Quorum
	if len(l.Zones) == 0 {
		return r
	}
	r.SurvivesZone = true
	for i, z := range l.Zones {
		maxIn := min(w.Replicas, l.PerZone[i]*r.MaxPerNode)
		if lasting {
			maxIn = min(maxIn, ceilDiv(w.Replicas, len(l.Zones)))
		}
		r.MaxPerZone = max(r.MaxPerZone, maxIn)
		zl := ZoneLoss{Zone: z, Immediate: w.Replicas - maxIn}
		zl.QuorumHeld = zl.Immediate >= w.Quorum
		left := l.Nodes - l.PerZone[i]
		switch {
		case w.Stateful:
			// Members keep their zonal volumes: the lost ones wait for
			// their zone, and which they are depends on placement.
			zl.Settled = zl.Immediate
		case even:
			// Replacements keep the skew over the zones left (the lost
			// zone's tainted nodes are no domain): how many fit depends on
			// where the survivors are, so only the survivors are certain.
			zl.Settled = max(zl.Immediate, evenFill(w, l, i))
		case w.HardHostSpread:
			// Replacements go anywhere left, one per node.
			zl.Settled, zl.Exact = min(w.Replicas, left), true
		default:
			zl.Settled, zl.Exact = w.Replicas, true
		}
		if !zl.QuorumHeld {
			r.SurvivesZone = false
		}
		r.Zones = append(r.Zones, zl)
	}
	return r
}

// evenFill is how many pods fit over the zones other than lost when each
// placement must keep the zones within one pod of each other and a node
// holds at most MaxPerNode: the pods the scheduler can place starting from
// an empty, even layout.
func evenFill(w Workload, l Layout, lost int) int {
	var caps, counts []int
	for i := range l.Zones {
		if i == lost {
			continue
		}
		c := w.Replicas
		if w.HardHostSpread {
			c = l.PerZone[i]
		}
		caps, counts = append(caps, c), append(counts, 0)
	}
	placed := 0
	for placed < w.Replicas {
		lo := counts[0]
		for _, c := range counts {
			lo = min(lo, c)
		}
		next := -1
		for j, c := range counts {
			if c == lo && c < caps[j] {
				next = j
				break
			}
		}
		if next < 0 {
			break
		}
		counts[next]++
		placed++
	}
	return placed
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// Capacity is whether the pods' requests fit the declared node size.
type Capacity struct {
	// Judged is false without topology.nodeSize.
	Judged bool `json:"judged"`
	// Total requests of every pod against all nodes.
	TotalCPU, NodesCPU       float64
	TotalMemory, NodesMemory int64
	// WorstNodeCPU and WorstNodeMemory are the requests on one node when
	// every workload puts the most pods it may there.
	WorstNodeCPU    float64
	WorstNodeMemory int64
	NodeCPU         float64
	NodeMemory      int64
	// Unknown lists workloads whose requests are not known (the chart's
	// defaults are empty): they are counted as zero.
	Unknown []string
}

// Fits: the total fits and so does the worst-case node.
func (c Capacity) Fits() bool {
	return !c.Judged || c.TotalCPU <= c.NodesCPU && c.TotalMemory <= c.NodesMemory &&
		c.WorstNodeCPU <= c.NodeCPU && c.WorstNodeMemory <= c.NodeMemory
}

// CapacityOf sums requests against the node size.
func CapacityOf(env *model.Environment, results []Result) Capacity {
	size := env.Topology.NodeSize
	if size == nil {
		return Capacity{}
	}
	c := Capacity{Judged: true, NodeCPU: size.CPU, NodeMemory: size.Memory,
		NodesCPU: size.CPU * float64(env.Topology.Nodes), NodesMemory: size.Memory * int64(env.Topology.Nodes)}
	for _, r := range results {
		if r.Requests == (model.Quantities{}) {
			c.Unknown = append(c.Unknown, r.Name)
			continue
		}
		c.TotalCPU += r.Requests.CPU * float64(r.Replicas)
		c.TotalMemory += r.Requests.Memory * int64(r.Replicas)
		c.WorstNodeCPU += r.Requests.CPU * float64(r.MaxPerNode)
		c.WorstNodeMemory += r.Requests.Memory * int64(r.MaxPerNode)
	}
	return c
}

// Violation is a failure-domain rule the environment breaks, with the spec
// field that must change.
type Violation struct {
	Field string
	Msg   string
}

// Check applies the rules: an environment tolerates the loss of what
// topology.tolerate names ("node" by default in production, "zone" on
// request), production's managed dependencies survive a zone when zones
// are declared, and its requests fit topology.nodeSize when that is given.
func Check(env *model.Environment) []Violation {
	results := Analyse(env)
	var out []Violation
	tol := env.Topology.Tolerate
	for _, r := range results {
		if (tol == "node" || tol == "zone") && !r.SurvivesNode {
			out = append(out, Violation{Field: r.fixField(), Msg: fmt.Sprintf(
				"%s: losing one node can leave %d of %d pods, below its quorum of %d (%s); %s",
				r.Name, r.NodeLoss, r.Replicas, r.Quorum, r.QuorumRule, r.nodeAdvice())})
		}
		// A managed dependency's quorum outlives any zone in production
		// when zones are declared, whatever topology.tolerate says for the
		// stateless Milvus components: its members keep their zonal
		// volumes, so a lost zone is not made good by rescheduling, and
		// without its quorum all of Milvus stops.
		quorumRule := env.Production && len(env.Topology.Zones) >= 2 && r.Dependency != ""
		if (tol == "zone" || quorumRule) && !r.SurvivesZone {
			why := "topology.tolerate is \"zone\""
			if tol != "zone" {
				why = "in production a managed dependency must survive one zone's loss when zones are declared"
			}
			worst := r.Zones[0]
			for _, z := range r.Zones {
				if z.Immediate < worst.Immediate {
					worst = z
				}
			}
			out = append(out, Violation{Field: r.replicasField(), Msg: fmt.Sprintf(
				"%s: losing zone %s can leave %d of %d pods (up to %d share a zone), below its quorum of %d (%s); %s",
				r.Name, worst.Zone, worst.Immediate, r.Replicas, r.MaxPerZone, r.Quorum, r.QuorumRule, why)})
		}
	}
	if c := CapacityOf(env, results); !c.Fits() {
		out = append(out, Violation{Field: "topology.nodeSize", Msg: fmt.Sprintf(
			"requests do not fit: %.3g CPU and %s in total on %d nodes of %.3g CPU and %s, and up to %.3g CPU and %s on one node",
			c.TotalCPU, gib(c.TotalMemory), env.Topology.Nodes, c.NodeCPU, gib(c.NodeMemory), c.WorstNodeCPU, gib(c.WorstNodeMemory))})
	}
	return out
}

// fixField is where a node-loss violation is fixed: the anti-affinity of
// a Milvus component that has replicas enough, else the replica count.
func (r Result) fixField() string {
	if r.Dependency == "" && !r.HardHostSpread && r.Replicas > r.Quorum {
		return r.Field + ".antiAffinity"
	}
	return r.replicasField()
}

// replicasField is the spec field of the replica count.
func (r Result) replicasField() string {
	if r.Dependency == "" {
		return r.Field + ".replicas"
	}
	return r.Field
}

// nodeAdvice says what makes the workload survive a node's loss.
func (r Result) nodeAdvice() string {
	switch {
	case r.Dependency == "" && !r.HardHostSpread && r.Replicas > r.Quorum:
		return "set antiAffinity: \"required\" so that no two share a node"
	case r.Dependency == "":
		return fmt.Sprintf("run at least %d replicas with antiAffinity: \"required\"", r.Quorum+1)
	case !r.HardHostSpread:
		// generators/dependencies: members spread over nodes (required
		// anti-affinity) in production only.
		return "managed dependencies spread their members over nodes only with production: true"
	default:
		return "add replicas"
	}
}

func gib(b int64) string { return fmt.Sprintf("%.4gGi", float64(b)/(1<<30)) }
