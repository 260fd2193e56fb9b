package sim

import (
	"fmt"
	"sort"
)

// Check holds what the simulation observed to the static analysis
// (package analysis), which assumes the worst placement: the simulation may
// do better, never worse. Each returned line is one broken promise.
func (r *Report) Check() []string {
	var out []string
	fail := func(f string, a ...any) { out = append(out, fmt.Sprintf(f, a...)) }
	zoneOf := map[string]string{}
	for _, n := range r.Nodes {
		zoneOf[n.Name] = n.Zone
	}
	for _, a := range r.Analysis {
		perZone := map[string]int{}
		placed := 0
		for node, pods := range r.Placement {
			onNode := 0
			for _, p := range pods {
				if p == a.Name {
					onNode++
				}
			}
			placed += onNode
			perZone[zoneOf[node]] += onNode
			if onNode > a.MaxPerNode {
				fail("%s: %d pods on %s, the analysis allows at most %d per node", a.Name, onNode, node, a.MaxPerNode)
			}
		}
		if placed != a.Replicas {
			fail("%s: %d pods placed, the spec asks for %d", a.Name, placed, a.Replicas)
		}
		for z, n := range perZone {
			if z != "" && n > a.MaxPerZone {
				fail("%s: %d pods in zone %s, the analysis allows at most %d per zone", a.Name, n, z, a.MaxPerZone)
			}
		}
	}
	if r.Drains != nil {
		if len(r.Drains) != len(r.Nodes) {
			fail("%d of %d nodes drained", len(r.Drains), len(r.Nodes))
		}
		for _, d := range r.Drains {
			if d.Blocked != "" {
				fail("drain of %s blocked: %s", d.Node, d.Blocked)
			}
			for _, v := range d.Violations {
				fail("drain of %s: %s", d.Node, v)
			}
			for _, a := range r.Analysis {
				if a.SurvivesNode && d.MinReady[a.Name] < a.Quorum {
					fail("drain of %s: %s fell to %d ready, below its quorum of %d that one node's loss keeps", d.Node, a.Name, d.MinReady[a.Name], a.Quorum)
				}
			}
		}
	}
	if r.ZoneLoss != nil {
		zones := map[string]ZoneResult{}
		for _, z := range r.ZoneLoss {
			zones[z.Zone] = z
		}
		for _, a := range r.Analysis {
			for _, p := range a.Zones {
				z, ok := zones[p.Zone]
				if !ok {
					fail("zone %s was not lost in the drill", p.Zone)
					continue
				}
				got, settled := z.Immediate[a.Name], z.Settled[a.Name]
				if got < p.Immediate {
					fail("zone %s lost: %s kept %d ready, the analysis guarantees %d", z.Zone, a.Name, got, p.Immediate)
				}
				if p.Exact && settled != p.Settled || !p.Exact && settled < p.Settled {
					fail("zone %s lost: %s settled at %d ready, the analysis predicts %d (exact: %v)%s", z.Zone, a.Name, settled, p.Settled, p.Exact, z.Pending)
				}
				if p.QuorumHeld && got < a.Quorum {
					fail("zone %s lost: %s fell below its quorum of %d, which the analysis says holds", z.Zone, a.Name, a.Quorum)
				}
			}
		}
	}
	for _, d := range r.Ungraced {
		fail("Deployment %s runs without the spec's terminationGracePeriodSeconds", d)
	}
	for _, d := range r.Misimaged {
		fail("image: %s", d)
	}
	for _, st := range r.Steps {
		for _, d := range st.Misimaged {
			fail("%s: image: %s", st.Name, d)
		}
	}
	for _, w := range r.Unspread {
		fail("%s: the analysis counts it as spread over zones, its live pod template has no zone spread constraint selecting its pods", w)
	}
	if ro := r.Rollout; ro != nil {
		out = append(out, ro.Violations...)
	}
	sort.Strings(out)
	return out
}
