// Package upgrade holds the phased upgrade plans of a Milvus release: in
// which order its components move to the target image, one phase per
// reviewed commit, the others held on the source image, and the rules
// that refuse an unsafe step. Plans are data, one table per transition,
// each with the source of its order.
//
// Helm updates every Deployment of a release at once. Milvus' own
// operator updates one component at a time, each once those it depends on
// run the new image and have rolled out (zilliztech/milvus-operator
// pkg/controllers/dependency_graph.go, deployment_updater.go
// RollingUpdateImageDependencyReady, v1.3.8). Here each of its steps is a
// phase in Git: the chart renders the target tag for every component
// (image.all.tag), and the components not yet due are pinned back to the
// source tag by post-render patches; the last phase pins nothing and is a
// plain render of the target.
package upgrade

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Milvus release: 2.6.15, or a release candidate 2.6.0-rc1.
type Version struct {
	Major, Minor, Patch int
	Pre                 string
}

// ParseVersion reads "2.6.15", "v2.6.15" or "2.6.0-rc1".
func ParseVersion(s string) (Version, error) {
	core, pre, _ := strings.Cut(strings.TrimPrefix(s, "v"), "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("%q is not a Milvus version (major.minor.patch)", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("%q is not a Milvus version (major.minor.patch)", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2], pre}, nil
}

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

// Line is "2.6".
func (v Version) Line() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less orders versions; a release candidate comes before its release.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	if v.Patch != o.Patch {
		return v.Patch < o.Patch
	}
	return v.Pre != "" && (o.Pre == "" || v.Pre < o.Pre)
}

// Plan is the phases of one transition.
type Plan struct {
	// Transition names it ("2.6 patch release").
	Transition string
	// Source is where the order comes from.
	Source string
	// Steps are the components that move to the target in each phase,
	// in order; components a release does not run are skipped.
	Steps [][]string
}

// The operator's dependency graphs (milvus-operator v1.3.8,
// pkg/controllers/dependency_graph.go): a component is updated once
// everything before it runs the new image and has rolled out.
var (
	// Milvus 2.6 to a later 2.6 (MilvusComponentDependencyGraph for 2.6):
	// MixCoord, StreamingNode, QueryNode, DataNode, Proxy.
	patch26 = Plan{
		Transition: "2.6 patch release",
		Source:     "milvus-operator v1.3.8 pkg/controllers/dependency_graph.go (2.6 graph)",
		Steps:      [][]string{{"mixCoordinator"}, {"streamingNode"}, {"queryNode"}, {"dataNode"}, {"proxy"}},
	}
	// Milvus 2.5 with the mixCoordinator: IndexNode, MixCoord, QueryNode,
	// DataNode, Proxy.
	patch25Mix = Plan{
		Transition: "2.5 patch release (mixCoordinator)",
		Source:     "milvus-operator v1.3.8 pkg/controllers/dependency_graph.go (2.5 graph with mixCoord)",
		Steps:      [][]string{{"indexNode"}, {"mixCoordinator"}, {"queryNode"}, {"dataNode"}, {"proxy"}},
	}
	// Milvus 2.5 with separate coordinators: IndexNode, RootCoord,
	// DataCoord, IndexCoord, QueryCoord, QueryNode, DataNode, Proxy.
	patch25Separate = Plan{
		Transition: "2.5 patch release (separate coordinators)",
		Source:     "milvus-operator v1.3.8 pkg/controllers/dependency_graph.go (2.5 graph)",
		Steps: [][]string{{"indexNode"}, {"rootCoordinator"}, {"dataCoordinator"}, {"indexCoordinator"}, {"queryCoordinator"},
			{"queryNode"}, {"dataNode"}, {"proxy"}},
	}
)

// For is the plan from one version to another, for a release running
// the given components (keys) with coordinators "mix" or "separate"; its
// steps keep only the phases that move a component the release runs.
func For(from, to Version, coordinators string, components []string) (*Plan, error) {
	if err := refuse(from, to, coordinators); err != nil {
		return nil, err
	}
	var base Plan
	switch {
	case to.Line() == "2.6":
		base = patch26
	case coordinators == "separate":
		base = patch25Separate
	default:
		base = patch25Mix
	}
	runs := map[string]bool{}
	for _, c := range components {
		runs[c] = true
	}
	p := &Plan{Transition: base.Transition, Source: base.Source}
	for _, step := range base.Steps {
		var keep []string
		for _, c := range step {
			if runs[c] {
				keep = append(keep, c)
			}
		}
		if len(keep) > 0 {
			p.Steps = append(p.Steps, keep)
		}
	}
	// A component the graph does not name (none today) moves last.
	named := map[string]bool{}
	for _, s := range p.Steps {
		for _, c := range s {
			named[c] = true
		}
	}
	var rest []string
	for _, c := range components {
		if !named[c] {
			rest = append(rest, c)
		}
	}
	if len(rest) > 0 {
		p.Steps[len(p.Steps)-1] = append(p.Steps[len(p.Steps)-1], rest...)
	}
	return p, nil
}

// Min26Source is the oldest release Milvus 2.6 is reached from, running
// the mixCoordinator (milvus.io upgrade guide for 2.6).
var Min26Source = Version{Major: 2, Minor: 5, Patch: 16}

// refuse says why a transition has no plan, or nil.
func refuse(from, to Version, coordinators string) error {
	switch {
	case from.Pre != "":
		// milvus.io, "Upgrade Milvus Cluster with Helm" (2.6): v2.6.0-rc1
		// is not compatible with later 2.6 releases; no direct upgrade.
		// (An image variant such as -gpu belongs in image.tag, not here.)
		return fmt.Errorf("%s is a pre-release (a release candidate): Milvus supports no upgrade from one (migrate the data instead); from names the release, an image variant goes in milvus.image.tag", from)
	case !from.Less(to):
		if from == to {
			return fmt.Errorf("nothing to upgrade: the environment already runs %s (remove milvus.upgrade)", to)
		}
		return fmt.Errorf("%s -> %s is a downgrade: Milvus does not support them", from, to)
	case from.Major != 2 || to.Major != 2:
		return fmt.Errorf("%s -> %s: only Milvus 2.5 and 2.6 are planned", from, to)
	case from.Line() == "2.5" && to.Line() == "2.6":
		// coordinators is the target's, which 2.6 forces to mix: the
		// source's is in the committed overlay.
		if from.Less(Min26Source) || coordinators != "mix" {
			return fmt.Errorf("%s -> %s: Milvus 2.6 is reached only from 2.5.16 or later running the mixCoordinator; upgrade to 2.5.16 first (a 2.5 patch upgrade, coordinators \"mix\")", from, to)
		}
		return fmt.Errorf("%s -> %s: the 2.5 -> 2.6 plan (chart 4.2 -> 5.0, streaming nodes in, index nodes out) is not available in this version of milvusgen", from, to)
	case from.Line() != to.Line():
		return fmt.Errorf("%s -> %s: only patch upgrades within a line, and 2.5 -> 2.6, are planned", from, to)
	}
	return nil
}

// Pinned are the components still on the source image in phase (1-based):
// those of the steps after it.
func (p *Plan) Pinned(phase int) []string {
	var out []string
	for i := phase; i < len(p.Steps); i++ {
		out = append(out, p.Steps[i]...)
	}
	return out
}

// Moved are the components on the target image in phase.
func (p *Plan) Moved(phase int) []string {
	var out []string
	for i := 0; i < phase && i < len(p.Steps); i++ {
		out = append(out, p.Steps[i]...)
	}
	return out
}

// Describe is the phase for a reviewer: "phase 2 of 5 (2.6 patch
// release): mixCoordinator, streamingNode on v2.6.15; queryNode,
// dataNode, proxy stay on v2.6.14".
func (p *Plan) Describe(phase int, fromTag, toTag string) string {
	s := fmt.Sprintf("phase %d of %d (%s): %s on %s", phase, len(p.Steps), p.Transition, strings.Join(p.Moved(phase), ", "), toTag)
	if pinned := p.Pinned(phase); len(pinned) == 1 {
		s += fmt.Sprintf("; %s stays on %s", pinned[0], fromTag)
	} else if len(pinned) > 1 {
		s += fmt.Sprintf("; %s stay on %s", strings.Join(pinned, ", "), fromTag)
	} else {
		s += "; the upgrade is complete: remove milvus.upgrade"
	}
	return s
}
