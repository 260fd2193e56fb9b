package upgrade

import (
	"fmt"
	"strings"

	"github.com/milvus-gitops/milvusgen/model"
)

// State is what an environment's committed overlay runs, read from its
// rendered files (package diff, StateOf): the state a commit starts from.
type State struct {
	// Tag is the Milvus image tag the chart renders (image.all.tag).
	Tag string
	// Phase is the upgrade phase under way, 0 without one; Of is the
	// number of phases of its plan.
	Phase, Of int
	// Mix: the coordinators run as one mixCoordinator.
	Mix bool
	// Queue is the message queue Milvus writes to ("pulsar", "kafka",
	// "woodpecker", or "" when none is configured).
	Queue string
	// PinnedTag is the tag the upgrade's post-render pins hold components
	// on ("" without pins).
	PinnedTag string
}

// Commit is the change a commit makes, for Gate: the environment as the
// commit leaves it, the message queue it configures, and the changes that
// roll Milvus pods whatever a phase moves (package diff, Restarts: a
// top-level value such as "extraConfigFiles", a component's value such as
// "queryNode.resources", "post-render patches").
type Commit struct {
	Env      *model.Environment
	Queue    string
	Restarts []string
}

// Gate refuses a commit that moves an environment from the committed
// state unsafely, at the field to change: a skipped or reversed phase, an
// upgrade whose source is not what runs, 2.6 from separate coordinators,
// a phase that also restarts every pod (unless allowed), a message-queue
// change with a version change, a 2.5 -> 2.6 jump or a downgrade without
// the phases, and an upgrade dropped before its last phase.
func Gate(prev State, s Commit) []Violation {
	env := s.Env
	var out []Violation
	add := func(field, format string, args ...any) {
		out = append(out, Violation{field, fmt.Sprintf(format, args...)})
	}
	ph, v := resolve(env)
	if v != nil {
		return nil // Check reports it
	}
	tag := env.Milvus.Image.Tag
	prevVersion, perr := ParseVersion(prev.Tag)
	version, verr := ParseVersion(env.Milvus.Version)
	versionChanges := prev.Tag != "" && prev.Tag != tag

	if ph == nil {
		switch {
		case prev.Phase > 0:
			add("milvus.version", "the committed overlay is in phase %d of %d of an upgrade: finish it (its last phase renders as the environment without milvus.upgrade), then remove milvus.upgrade", prev.Phase, prev.Of)
		case versionChanges && perr == nil && verr == nil && version.Less(prevVersion):
			add("milvus.version", "%s -> %s is a downgrade: Milvus does not support them (restore the backup taken before the upgrade instead)", prev.Tag, tag)
		case versionChanges && perr == nil && verr == nil && prevVersion.Line() != version.Line():
			add("milvus.version", "%s -> %s changes the line: upgrade in phases, milvus.upgrade: {from: %q, phase: 1} (see the README, Upgrades in phases)", prev.Tag, tag, prevVersion.String())
		}
	} else {
		u := env.Milvus.Upgrade
		// Where the committed overlay stands in this upgrade.
		at := -1
		switch {
		case prev.Tag == "":
			// A new environment: nothing runs yet.
		case prev.Phase > 0 && prev.Tag != ph.ToTag:
			// The target is the tag the chart renders in every phase.
			field := "milvus.version"
			if release(prev.Tag) == version.String() {
				field = "milvus.image.tag" // the same release, another variant
			}
			add(field, "the committed overlay is in phase %d of an upgrade to %s: finish it before changing its target (%s now)", prev.Phase, prev.Tag, ph.ToTag)
		case prev.Phase > 0 && prev.PinnedTag != "" && prev.PinnedTag != ph.FromTag:
			add("milvus.upgrade.from", "the committed overlay holds components on %s in phase %d: changing from would move them to %s outside the plan; keep from: %q", prev.PinnedTag, prev.Phase, ph.FromTag, strings.TrimPrefix(prev.PinnedTag, "v"))
		case prev.Phase > 0 && prev.Of != len(ph.Plan.Steps):
			add("milvus.upgrade.phase", "the committed overlay is in phase %d of a %d-phase plan, this commit's plan has %d: the plan cannot change mid-upgrade", prev.Phase, prev.Of, len(ph.Plan.Steps))
		case prev.Phase > 0:
			at = prev.Phase
		case prev.Tag == ph.FromTag:
			at = 0
		case prev.Tag == ph.ToTag:
			at = len(ph.Plan.Steps) // the last phase renders as the target
		default:
			field := "milvus.upgrade.from"
			if release(prev.Tag) == release(ph.FromTag) {
				field = "milvus.image.tag" // the same release, another variant
			}
			add(field, "the committed overlay runs %s, not %s: from names the release every component runs before phase 1, milvus.image.tag its variant", prev.Tag, ph.FromTag)
		}
		switch {
		case at < 0:
		case ph.N > at+1:
			add("milvus.upgrade.phase", "phase %d skips phase %d: the committed overlay is %s; advance one phase per commit, each verified before the next", ph.N, at+1, where(prev, at))
			at = -1
		case ph.N < at:
			add("milvus.upgrade.phase", "phase %d goes back from phase %d: that would move components back to %s, a downgrade Milvus does not support; to roll back, restore the backup taken before phase 1", ph.N, at, ph.FromTag)
			at = -1
		}
		if at == 0 && ph.From.Line() == "2.5" && version.Line() == "2.6" && !prev.Mix {
			add("milvus.upgrade.from", "the committed overlay runs separate coordinators: Milvus 2.6 is reached from 2.5.16 or later running the mixCoordinator; switch to coordinators \"mix\" on %s in a commit of its own first", prev.Tag)
		}
		restarts := ph.beyond(s.Restarts)
		switch {
		case at >= 0 && ph.N != at && len(restarts) > 0 && !u.AllowRestart:
			add("milvus.upgrade.phase", "this commit moves to phase %d and also changes %s, which rolls Milvus pods the phase does not move: make that a commit of its own, before or after the phase (or allow it for this commit: milvus.upgrade.allowRestart: true)", ph.N, strings.Join(restarts, ", "))
		case u.AllowRestart && (len(restarts) == 0 || at >= 0 && ph.N == at):
			// An allowance that outlives its commit would wave through
			// the next phase's.
			add("milvus.upgrade.allowRestart", "nothing in this commit needs it: remove it, so that it does not allow a later phase to roll pods it does not move")
		}
	}
	if prev.Queue != "" && s.Queue != prev.Queue && (versionChanges || ph != nil || prev.Phase > 0) {
		add("dependencies.messageQueue.type", "the message queue changes (%s -> %s) during an upgrade or with a version change: Milvus switches its queue only at 3.0 or later and by an explicit call; keep the queue through the upgrade, and change it in a commit of its own", prev.Queue, s.Queue)
	}
	return out
}

// release is the release an image tag names, without its variant:
// "v2.6.15-gpu" is "2.6.15".
func release(tag string) string {
	r, _, _ := strings.Cut(strings.TrimPrefix(tag, "v"), "-")
	return r
}

func where(prev State, at int) string {
	if at == 0 {
		return "on " + prev.Tag + " without an upgrade"
	}
	return fmt.Sprintf("in phase %d", at)
}

// beyond are the restart causes this phase does not account for itself:
// not the streaming switch of the phase that starts the service; not the
// configuration in the phase that moves the chart (which restarts every
// pod anyway, and drops the keys of components the target line does not
// have: the 2.5 index nodes then stop with their own graceful-stop
// default, cut short by the pod's grace period; that phase cannot tell a
// configuration change of the user's from the line's, and gen diff lists
// both); not a component it moves or stops, nor the streaming nodes
// before they run.
func (p *Phase) beyond(causes []string) []string {
	if p.N < 1 || p.N > len(p.Plan.Steps) {
		return causes
	}
	step := p.Plan.Steps[p.N-1]
	own := map[string]bool{}
	for _, c := range step.components() {
		own[c] = true
	}
	if !p.Streaming() {
		own["streamingNode"] = true
	}
	var out []string
	for _, r := range causes {
		component, _, _ := strings.Cut(r, ".")
		switch {
		case r == "streaming" && step.Streaming, r == "extraConfigFiles" && step.Chart, own[component]:
			continue
		}
		out = append(out, r)
	}
	return out
}
