package analysis

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/milvus-gitops/milvusgen/model"
)

// WriteTable prints the failure-domain and capacity analysis as a compact
// table: per workload its replicas, quorum, the most pods one node and one
// zone may hold, and what losing one node or the worst zone leaves (ready
// at once, then once replacements are scheduled).
func WriteTable(w io.Writer, env *model.Environment) error {
	results := Analyse(env)
	l := LayoutOf(env)
	var zones []string
	for i, z := range l.Zones {
		zones = append(zones, fmt.Sprintf("%s:%d", z, l.PerZone[i]))
	}
	where := "no zones"
	if len(zones) > 0 {
		where = "zones " + strings.Join(zones, " ")
	}
	fmt.Fprintf(w, "failure domains of %s: %d nodes, %s; worst-case placement; must survive: %s\n", env.Name, l.Nodes, where, env.Topology.Tolerate)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  WORKLOAD\tREPLICAS\tQUORUM\tMAX/NODE\tMAX/ZONE\tLOSE 1 NODE\tLOSE WORST ZONE")
	for _, r := range results {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Name, r.Replicas, r.Quorum, r.MaxPerNode,
			dash(r.MaxPerZone, len(l.Zones) > 0), verdict(r.SurvivesNode, fmt.Sprintf("%d left", r.NodeLoss)), zoneCell(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	c := CapacityOf(env, results)
	switch {
	case !c.Judged:
		fmt.Fprintln(w, "  capacity: not judged (no topology.nodeSize)")
	default:
		fit := "fits"
		if !c.Fits() {
			fit = "DOES NOT FIT"
		}
		fmt.Fprintf(w, "  capacity: %s: requests %.3g CPU, %s of %.3g CPU, %s; worst node %.3g CPU, %s of %.3g CPU, %s",
			fit, c.TotalCPU, gib(c.TotalMemory), c.NodesCPU, gib(c.NodesMemory), c.WorstNodeCPU, gib(c.WorstNodeMemory), c.NodeCPU, gib(c.NodeMemory))
		if len(c.Unknown) > 0 {
			fmt.Fprintf(w, " (without %s: no requests)", strings.Join(c.Unknown, ", "))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func dash(n int, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprint(n)
}

// verdict is "yes, <what>" or "NO, <what>".
func verdict(ok bool, what string) string {
	if ok {
		return "yes, " + what
	}
	return "NO, " + what
}

// zoneCell is the worst zone's outcome: ready at once -> settled.
func zoneCell(r Result) string {
	if len(r.Zones) == 0 {
		return "-"
	}
	worst := r.Zones[0]
	for _, z := range r.Zones[1:] {
		if z.Immediate < worst.Immediate || z.Immediate == worst.Immediate && z.Settled < worst.Settled {
			worst = z
		}
	}
	return verdict(r.SurvivesZone, fmt.Sprintf("%d left, %d once replaced", worst.Immediate, worst.Settled))
}

// Summary is the analysis as data: written next to the overlay
// (failure-domains.yaml) so that a pull request shows how a change moves
// what the environment survives, and `gen diff` notes it.
type Summary struct {
	Nodes     int                      `json:"nodes"`
	Zones     map[string]int           `json:"zones,omitempty"`
	Tolerate  string                   `json:"tolerate"`
	Workloads map[string]WorkloadEntry `json:"workloads"`
	Capacity  string                   `json:"capacity"`
}

// WorkloadEntry is one workload's row.
type WorkloadEntry struct {
	Replicas     int    `json:"replicas"`
	Quorum       int    `json:"quorum"`
	QuorumRule   string `json:"quorumRule"`
	MaxPerNode   int    `json:"maxPerNode"`
	MaxPerZone   int    `json:"maxPerZone,omitempty"`
	SurvivesNode bool   `json:"survivesNode"`
	SurvivesZone bool   `json:"survivesZone"`
	// AfterZoneLoss is, per zone, "ready at once/ready once replaced".
	AfterZoneLoss map[string]string `json:"afterZoneLoss,omitempty"`
}

// Summarise is the analysis of env as a Summary.
func Summarise(env *model.Environment) Summary {
	l := LayoutOf(env)
	s := Summary{Nodes: l.Nodes, Tolerate: env.Topology.Tolerate, Workloads: map[string]WorkloadEntry{}}
	for i, z := range l.Zones {
		if s.Zones == nil {
			s.Zones = map[string]int{}
		}
		s.Zones[z] = l.PerZone[i]
	}
	results := Analyse(env)
	for _, r := range results {
		e := WorkloadEntry{Replicas: r.Replicas, Quorum: r.Quorum, QuorumRule: r.QuorumRule, MaxPerNode: r.MaxPerNode,
			MaxPerZone: r.MaxPerZone, SurvivesNode: r.SurvivesNode, SurvivesZone: r.SurvivesZone}
		for _, z := range r.Zones {
			if e.AfterZoneLoss == nil {
				e.AfterZoneLoss = map[string]string{}
			}
			e.AfterZoneLoss[z.Zone] = fmt.Sprintf("%d/%d", z.Immediate, z.Settled)
		}
		s.Workloads[r.Name] = e
	}
	c := CapacityOf(env, results)
	switch {
	case !c.Judged:
		s.Capacity = "not judged"
	case c.Fits():
		s.Capacity = "fits"
	default:
		s.Capacity = "does not fit"
	}
	if c.Judged && len(c.Unknown) > 0 {
		s.Capacity += " (without requests, not counted: " + strings.Join(c.Unknown, ", ") + ")"
	}
	return s
}
