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
	// put the pods before the loss.
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
	r.NodeLoss = w.Replicas - r.MaxPerNode
	r.SurvivesNode = r.NodeLoss >= w.Quorum
	if len(l.Zones) == 0 {
		return r
	}
	r.SurvivesZone = true
	for i, z := range l.Zones {
		maxIn := min(w.Replicas, l.PerZone[i]*r.MaxPerNode)
		if w.ZoneSpread == "DoNotSchedule" {
			// maxSkew 1 over every zone: no zone holds more than its even
			// share rounded up.
			maxIn = min(maxIn, ceilDiv(w.Replicas, len(l.Zones)))
		}
		r.MaxPerZone = max(r.MaxPerZone, maxIn)
		zl := ZoneLoss{Zone: z, Immediate: w.Replicas - maxIn}
		zl.QuorumHeld = zl.Immediate >= w.Quorum
		left := l.Nodes - l.PerZone[i]
		switch {
		case w.Stateful:
			// Members keep their zonal volumes: the lost ones wait for
			// their zone. Which members those are depends on placement
			// unless at most one zone can hold them all.
			zl.Settled = zl.Immediate
			zl.Exact = maxIn == 0
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
// request), and its requests fit topology.nodeSize when that is given.
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
		if tol == "zone" && !r.SurvivesZone {
			worst := r.Zones[0]
			for _, z := range r.Zones {
				if z.Immediate < worst.Immediate {
					worst = z
				}
			}
			out = append(out, Violation{Field: r.replicasField(), Msg: fmt.Sprintf(
				"%s: losing zone %s can leave %d of %d pods (up to %d share a zone), below its quorum of %d (%s); topology.tolerate is \"zone\"",
				r.Name, worst.Zone, worst.Immediate, r.Replicas, r.MaxPerZone, r.Quorum, r.QuorumRule)})
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
// a Milvus component, else the replica count.
func (r Result) fixField() string {
	if r.Dependency == "" && !r.HardHostSpread {
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

func (r Result) nodeAdvice() string {
	if r.Dependency == "" && !r.HardHostSpread {
		return "set antiAffinity: \"required\" so that no two share a node"
	}
	return "add replicas"
}

func gib(b int64) string { return fmt.Sprintf("%.4gGi", float64(b)/(1<<30)) }
