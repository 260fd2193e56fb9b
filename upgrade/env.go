package upgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/milvus-gitops/milvusgen/model"
)

// Phase is an environment's upgrade in this commit.
type Phase struct {
	Plan *Plan
	// N is the phase, 1 to len(Plan.Steps).
	N int
	// FromTag and ToTag are the image tags of the source and the target.
	FromTag, ToTag string
	// From is the source release.
	From Version
	// FromChart and ToChart are the chart versions of the source and the
	// target (the same within a line).
	FromChart, ToChart string
}

// Pinned are the components the chart renders in this phase that are held
// on FromTag: the streaming nodes are not rendered before the streaming
// service starts.
func (p *Phase) Pinned() []string {
	var out []string
	for _, c := range p.Plan.Pinned(p.N) {
		if p.renders(c) {
			out = append(out, c)
		}
	}
	return out
}

// renders reports whether the chart renders component c in this phase:
// the streaming nodes only once the streaming service runs.
func (p *Phase) renders(c string) bool { return c != "streamingNode" || p.Streaming() }

// Streaming reports whether the chart runs the streaming service in this
// phase.
func (p *Phase) Streaming() bool { return p.Plan.Streaming(p.N) }

// Last reports whether the phase moves the last components: it renders as
// the environment without an upgrade.
func (p *Phase) Last() bool { return p.N == len(p.Plan.Steps) }

// Describe is the phase for a reviewer.
func (p *Phase) Describe() string {
	return p.Plan.Describe(p.N, p.FromTag, p.ToTag, p.FromChart, p.ToChart)
}

// Of is env's upgrade phase, nil without one. Its errors are Check's.
func Of(env *model.Environment) (*Phase, error) {
	ph, v := resolve(env)
	if v != nil {
		return nil, fmt.Errorf("%s: %s", v.Field, v.Msg)
	}
	return ph, nil
}

// resolve reads env's upgrade into its phase, or the violation that
// refuses it (nil, nil without an upgrade).
func resolve(env *model.Environment) (*Phase, *Violation) {
	u := env.Milvus.Upgrade
	if u == nil {
		return nil, nil
	}
	from, err := ParseVersion(u.From)
	if err != nil {
		return nil, &Violation{"milvus.upgrade.from", err.Error()}
	}
	to, err := ParseVersion(env.Milvus.Version)
	if err != nil {
		return nil, &Violation{"milvus.version", err.Error()}
	}
	plan, err := For(from, to, env.Milvus.Coordinators, env.ComponentNames())
	if err != nil {
		return nil, &Violation{"milvus.upgrade.from", err.Error()}
	}
	if n := len(plan.Steps); u.Phase > n {
		return nil, &Violation{"milvus.upgrade.phase", fmt.Sprintf("the %s plan from %s to %s has %d phases (%s)", plan.Transition, from, to, n, plan.Source)}
	}
	// A component the target does not run stays in the spec, with its
	// replicas and resources, until the phase that stops it, and is gone
	// from that phase on (so that the last phase is the target as it is).
	for _, c := range plan.Pinned(u.Phase) {
		if _, ok := env.Components[c]; !ok && slices.Contains(plan.Removed(len(plan.Steps)), c) {
			return nil, &Violation{"components." + c, fmt.Sprintf("the %s upgrade keeps the %s running until phase %d, which stops it: keep components.%s (as it was on %s) until then", plan.Transition, c, removedIn(plan, c), c, from)}
		}
	}
	for _, c := range plan.Removed(u.Phase) {
		if _, ok := env.Components[c]; ok {
			return nil, &Violation{"components." + c, fmt.Sprintf("phase %d of the %s upgrade stops the %s (Milvus %s does not run it): remove components.%s", removedIn(plan, c), plan.Transition, c, to.Line(), c)}
		}
	}
	return &Phase{Plan: plan, N: u.Phase, From: from, FromTag: SourceTag(env.Milvus.Image.Tag, env.Milvus.Version, from), ToTag: env.Milvus.Image.Tag,
		FromChart: Chart(from), ToChart: env.Milvus.Chart.Version}, nil
}

// removedIn is the phase that stops c.
func removedIn(p *Plan, c string) int {
	for i, s := range p.Steps {
		if slices.Contains(s.Remove, c) {
			return i + 1
		}
	}
	return 0
}

// charts are the Milvus chart versions per line, as the schema pins them
// (schema/environment.cue _charts; compiler's tests hold the two equal).
var charts = map[string]string{"2.6": "5.0.19", "2.5": "4.2.58"}

// Chart is the chart version a release of v's line renders with.
func Chart(v Version) string { return charts[v.Line()] }

// SourceTag is the image tag of the source version: the target's tag with
// its version replaced, so that a variant (v2.6.15-gpu) stays a variant
// (v2.6.14-gpu); a tag that does not name the version is "v" + from.
func SourceTag(tag, version string, from Version) string {
	for _, prefix := range []string{"v" + version, version} {
		if rest, ok := strings.CutPrefix(tag, prefix); ok {
			return strings.TrimSuffix(prefix, version) + from.String() + rest
		}
	}
	return "v" + from.String()
}

// Violation is a refused upgrade step, at a field under milvus.
type Violation struct {
	Field, Msg string
}

// Check refuses an upgrade step that is not safe: a transition without a
// plan (a release candidate as the source, a downgrade, 2.6 from below
// 2.5.16), and a phase the plan does not have. The fields are relative to
// the environment.
func Check(env *model.Environment) []Violation {
	if _, v := resolve(env); v != nil {
		return []Violation{*v}
	}
	return nil
}

// Tags is the image tag each Milvus component the chart renders for env
// runs in this commit (component key -> tag): the version's, or in an
// upgrade phase the source's for the components held back; the streaming
// nodes are left out before the phase that starts them.
func Tags(env *model.Environment) (map[string]string, error) {
	ph, err := Of(env)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, key := range Running(env) {
		out[key] = env.Milvus.Image.Tag
	}
	if ph != nil {
		for _, key := range ph.Pinned() {
			out[key] = ph.FromTag
		}
	}
	return out, nil
}

// Running are the components the chart renders for env in this commit,
// sorted: the spec's, without the streaming nodes before the phase that
// starts them.
func Running(env *model.Environment) []string {
	ph, err := Of(env)
	var out []string
	for _, key := range env.ComponentNames() {
		if err == nil && ph != nil && !ph.renders(key) {
			continue
		}
		out = append(out, key)
	}
	return out
}

// MetricsLine is the version line whose metrics the monitoring of env
// watches in this commit: the target's, except during an upgrade from
// another line until its last phase, while the source's components still
// carry the write path (the 2.5 proxies write to the queue themselves
// until they move).
func MetricsLine(env *model.Environment) string {
	if ph, err := Of(env); err == nil && ph != nil && !ph.Last() && ph.From.Line() != env.Milvus.Line {
		return ph.From.Line()
	}
	return env.Milvus.Line
}
