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
}

// Commit is the change a commit makes, for Gate: the environment as the
// commit leaves it, the message queue it configures, and the settings it
// changes that restart every Milvus pod (package diff reads them off the
// rendered overlays, the image tag left out).
type Commit struct {
	Env      *model.Environment
	Queue    string
	Restarts []string
	// AllowRestart lets a phase carry a change that restarts every pod.
	AllowRestart bool
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
		// Where the committed overlay stands in this upgrade.
		at := -1
		switch {
		case prev.Tag == "":
			// A new environment: nothing runs yet.
		case prev.Phase > 0:
			at = prev.Phase
		case prev.Tag == ph.FromTag:
			at = 0
		case prev.Tag == ph.ToTag:
			at = len(ph.Plan.Steps) // the last phase renders as the target
		default:
			add("milvus.upgrade.from", "the committed overlay runs %s, not %s: from names what every component runs before phase 1", prev.Tag, ph.FromTag)
		}
		switch {
		case at < 0:
		case ph.N > at+1:
			add("milvus.upgrade.phase", "phase %d skips phase %d: the committed overlay is %s; advance one phase per commit, each verified before the next", ph.N, at+1, where(prev, at))
		case ph.N < at:
			add("milvus.upgrade.phase", "phase %d goes back from phase %d: that would move components back to %s, a downgrade Milvus does not support; to roll back, restore the backup taken before phase 1", ph.N, at, ph.FromTag)
		}
		if at == 0 && ph.From.Line() == "2.5" && version.Line() == "2.6" && !prev.Mix {
			add("milvus.upgrade.from", "the committed overlay runs separate coordinators: Milvus 2.6 is reached from 2.5.16 or later running the mixCoordinator; switch to coordinators \"mix\" on %s in a commit of its own first", prev.Tag)
		}
		// What the phase changes itself is not "something else": the
		// streaming switch in the phase that starts the service, and in
		// the phase that moves the chart (which restarts every pod anyway)
		// the configuration of the target line, which drops the keys of
		// components it does not have (the 2.5 index nodes then stop with
		// their own graceful-stop default, cut short by the pod's grace
		// period). That phase cannot tell a configuration change of the
		// user's from the line's: gen diff lists both.
		var restarts []string
		for _, r := range s.Restarts {
			if ph.N > 0 {
				step := ph.Plan.Steps[ph.N-1]
				if r == "streaming" && step.Streaming || r == "extraConfigFiles" && step.Chart {
					continue
				}
			}
			restarts = append(restarts, r)
		}
		if at >= 0 && ph.N != at && len(restarts) > 0 && !s.AllowRestart {
			add("milvus.upgrade.phase", "this commit moves to phase %d and also changes %s, which restarts every Milvus pod: make that a commit of its own, before or after the phase (or pass --allow-restart)", ph.N, strings.Join(restarts, ", "))
		}
	}
	if prev.Queue != "" && s.Queue != prev.Queue && (versionChanges || ph != nil || prev.Phase > 0) {
		add("dependencies.messageQueue.type", "the message queue changes (%s -> %s) in the same commit as the Milvus version: Milvus switches its queue only at 3.0 or later and by an explicit call; keep the queue through the upgrade", prev.Queue, s.Queue)
	}
	return out
}

func where(prev State, at int) string {
	if at == 0 {
		return "on " + prev.Tag + " without an upgrade"
	}
	return fmt.Sprintf("in phase %d", at)
}
