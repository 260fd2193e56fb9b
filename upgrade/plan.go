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
	// Steps are the phases, in order; components a release does not run
	// are skipped, and so is a step left with nothing to do.
	Steps []Step
}

// Step is one phase: what it changes, and what a reviewer must know
// about the window it opens.
type Step struct {
	// Move are the components that run the target image from this phase.
	Move []string
	// Remove are the components the target does not run: held on the
	// source image until this phase, which stops them.
	Remove []string
	// Chart: the phase moves the release to the target's chart with every
	// component still on the source image (the chart's configuration, and
	// so every pod's config checksum, changes: every pod restarts once, on
	// the image it runs).
	Chart bool
	// Streaming: the streaming service (streaming.enabled, the streaming
	// nodes' Deployment) starts in this phase; before it, it is off.
	Streaming bool
	// Window is what fails while this phase rolls out, or from it until a
	// later phase completes, by the source that documents it.
	Window string
}

// components are what the step touches.
func (s Step) components() []string { return append(append([]string(nil), s.Move...), s.Remove...) }

// The operator's dependency graphs (milvus-operator v1.3.8,
// pkg/controllers/dependency_graph.go): a component is updated once
// everything before it runs the new image and has rolled out.
var (
	// Milvus 2.6 to a later 2.6 (MilvusComponentDependencyGraph for 2.6):
	// MixCoord, StreamingNode, QueryNode, DataNode, Proxy.
	patch26 = Plan{
		Transition: "2.6 patch release",
		Source:     "milvus-operator v1.3.8 pkg/controllers/dependency_graph.go (2.6 graph)",
		Steps:      moves("mixCoordinator", "streamingNode", "queryNode", "dataNode", "proxy"),
	}
	// Milvus 2.5 with the mixCoordinator: IndexNode, MixCoord, QueryNode,
	// DataNode, Proxy.
	patch25Mix = Plan{
		Transition: "2.5 patch release (mixCoordinator)",
		Source:     "milvus-operator v1.3.8 pkg/controllers/dependency_graph.go (2.5 graph with mixCoord)",
		Steps:      moves("indexNode", "mixCoordinator", "queryNode", "dataNode", "proxy"),
	}
	// Milvus 2.5 with separate coordinators: IndexNode, RootCoord,
	// DataCoord, IndexCoord, QueryCoord, QueryNode, DataNode, Proxy.
	patch25Separate = Plan{
		Transition: "2.5 patch release (separate coordinators)",
		Source:     "milvus-operator v1.3.8 pkg/controllers/dependency_graph.go (2.5 graph)",
		Steps: moves("indexNode", "rootCoordinator", "dataCoordinator", "indexCoordinator", "queryCoordinator",
			"queryNode", "dataNode", "proxy"),
	}
	// Milvus 2.5 (2.5.16 or later, mixCoordinator) to 2.6, chart 4.2 to
	// 5.0. The order is the operator's upgrade graph for 2.6
	// (upgrade26ClusterDependencyGraph: StreamingNode, MixCoord,
	// QueryNode, DataNode, Proxy; used while the spec is 2.6 and the
	// running image is not, deployment_updater.go IsUpgradingTo26), which
	// the Milvus maintainers give as "sn -> mixcoord -> qn -> dn -> proxy,
	// and down all redundant indexnode" (milvus-io/milvus #42492). Three
	// departures, each for a reason:
	//   - the chart moves first, on its own, with every component on 2.5:
	//     chart 5.0's configuration differs from 4.2's, so every pod
	//     restarts once; doing it apart from any image change keeps a
	//     failure of the new chart apart from a failure of the new version;
	//   - the streaming nodes and the mixCoordinator move in one phase: a
	//     2.6 streaming node does not become ready until a 2.6 mixCoord
	//     serves the streaming coordinator (its resolver asks for
	//     mixcoord ">=2.6.0-dev"; milvus-operator #446, still open, where
	//     the operator's order stalls on exactly this, and PR #447), so a
	//     phase of streaming nodes alone would never converge;
	//   - the index nodes stop in the proxies' phase, as the operator
	//     deletes them once the proxies run 2.6 (deployments.go
	//     cleanupIndexNodeIfNeeded): a 2.5 node still registered keeps
	//     the 2.6 write-ahead log read-only (milvus-io/milvus #40532: "open
	//     a read-only wal if some nodes in cluster is not upgrading to
	//     2.6"), so a phase between the two would refuse writes until it
	//     was merged.
	// The windows are the upstream guide's (milvus.io blog "How to safely
	// upgrade from Milvus 2.5.x to Milvus 2.6.x"): flush is unavailable
	// from the data nodes' upgrade until the proxies' completes, and
	// writes fail while proxies of both versions serve.
	minor25to26 = Plan{
		Transition: "2.5 -> 2.6",
		Source: "milvus-operator v1.3.8 upgrade26ClusterDependencyGraph and cleanupIndexNodeIfNeeded; milvus-operator #446; " +
			"milvus-io/milvus #42492, #40532; milvus.io blog, how to safely upgrade from 2.5.x to 2.6.x",
		Steps: []Step{
			{Chart: true},
			{Move: []string{"streamingNode", "mixCoordinator"}, Streaming: true,
				Window: "the streaming nodes become ready once the 2.6 mixCoordinator serves"},
			{Move: []string{"queryNode"}},
			{Move: []string{"dataNode"}, Window: "flush is unavailable from this phase until the proxies' phase completes"},
			{Move: []string{"proxy"}, Remove: []string{"indexNode"},
				Window: "writes fail while proxies of both versions serve; the index nodes stop (data nodes build indexes in 2.6)"},
		},
	}
)

// moves is a plan that moves one component per phase.
func moves(components ...string) []Step {
	out := make([]Step, len(components))
	for i, c := range components {
		out[i] = Step{Move: []string{c}}
	}
	return out
}

// For is the plan from one version to another, for a release whose target
// runs the given components (keys) with coordinators "mix" or
// "separate"; its steps keep only what touches a component the release
// runs (a chart or streaming step is always kept). The components a step
// removes are kept whether or not the target names them: the source ran
// them, and the spec carries them until that step (Phase checks it).
func For(from, to Version, coordinators string, components []string) (*Plan, error) {
	if err := refuse(from, to, coordinators); err != nil {
		return nil, err
	}
	var base Plan
	switch {
	case from.Line() == "2.5" && to.Line() == "2.6":
		base = minor25to26
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
	keep := func(cs []string) []string {
		var out []string
		for _, c := range cs {
			if runs[c] {
				out = append(out, c)
			}
		}
		return out
	}
	p := &Plan{Transition: base.Transition, Source: base.Source}
	for _, step := range base.Steps {
		s := step
		s.Move = keep(step.Move)
		if len(s.Move)+len(s.Remove) > 0 || s.Chart || s.Streaming {
			p.Steps = append(p.Steps, s)
		}
	}
	// A component the plan does not name (none today) moves last.
	named := map[string]bool{}
	for _, s := range p.Steps {
		for _, c := range s.components() {
			named[c] = true
		}
	}
	for _, c := range components {
		if !named[c] {
			last := &p.Steps[len(p.Steps)-1]
			last.Move = append(last.Move, c)
		}
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
		return nil
	case from.Line() != to.Line():
		return fmt.Errorf("%s -> %s: only patch upgrades within a line, and 2.5 -> 2.6, are planned", from, to)
	}
	return nil
}

// Pinned are the components still on the source image in phase (1-based):
// those the steps after it move or remove.
func (p *Plan) Pinned(phase int) []string {
	var out []string
	for i := phase; i < len(p.Steps); i++ {
		out = append(out, p.Steps[i].components()...)
	}
	return out
}

// Moved are the components on the target image in phase.
func (p *Plan) Moved(phase int) []string {
	var out []string
	for i := 0; i < phase && i < len(p.Steps); i++ {
		out = append(out, p.Steps[i].Move...)
	}
	return out
}

// Removed are the components stopped by phase.
func (p *Plan) Removed(phase int) []string {
	var out []string
	for i := 0; i < phase && i < len(p.Steps); i++ {
		out = append(out, p.Steps[i].Remove...)
	}
	return out
}

// Streaming reports whether the streaming service runs in phase: from the
// step that starts it, or throughout when no step does (the target line
// runs it or not).
func (p *Plan) Streaming(phase int) bool {
	for i, s := range p.Steps {
		if s.Streaming {
			return i < phase
		}
	}
	return true
}

// Describe is the phase for a reviewer: "phase 2 of 5 (2.6 patch
// release): mixCoordinator, streamingNode on v2.6.15; queryNode,
// dataNode, proxy stay on v2.6.14", with what the phase does beyond
// moving images and the window it opens.
func (p *Plan) Describe(phase int, fromTag, toTag, fromChart, toChart string) string {
	s := fmt.Sprintf("phase %d of %d (%s): ", phase, len(p.Steps), p.Transition)
	if moved := p.Moved(phase); len(moved) > 0 {
		s += fmt.Sprintf("%s on %s", strings.Join(moved, ", "), toTag)
	} else {
		s += "nothing on " + toTag + " yet"
	}
	if pinned := p.Pinned(phase); len(pinned) == 1 {
		s += fmt.Sprintf("; %s stays on %s", pinned[0], fromTag)
	} else if len(pinned) > 1 {
		s += fmt.Sprintf("; %s stay on %s", strings.Join(pinned, ", "), fromTag)
	}
	if phase < 1 || phase > len(p.Steps) {
		return s
	}
	step := p.Steps[phase-1]
	if step.Chart {
		s += fmt.Sprintf("; chart %s -> %s: every pod restarts once on the image it runs", fromChart, toChart)
	}
	if step.Streaming {
		s += "; the streaming service starts"
	}
	if len(step.Remove) > 0 {
		s += fmt.Sprintf("; %s stopped", strings.Join(step.Remove, ", "))
	}
	if step.Window != "" {
		s += "; " + step.Window
	}
	if phase == len(p.Steps) {
		s += "; the upgrade is complete: remove milvus.upgrade"
	}
	return s
}
