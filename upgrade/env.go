package upgrade

import (
	"fmt"
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
}

// Pinned are the components held on FromTag in this phase.
func (p *Phase) Pinned() []string { return p.Plan.Pinned(p.N) }

// Last reports whether the phase moves the last components: it renders as
// the environment without an upgrade.
func (p *Phase) Last() bool { return p.N == len(p.Plan.Steps) }

// Describe is the phase for a reviewer.
func (p *Phase) Describe() string { return p.Plan.Describe(p.N, p.FromTag, p.ToTag) }

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
	return &Phase{Plan: plan, N: u.Phase, FromTag: SourceTag(env.Milvus.Image.Tag, env.Milvus.Version, from), ToTag: env.Milvus.Image.Tag}, nil
}

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
