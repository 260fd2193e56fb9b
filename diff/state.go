package diff

import (
	"fmt"
	"sort"
	"strings"

	"github.com/milvus-gitops/milvusgen/upgrade"
)

// StateOf reads what a rendered overlay runs: its Milvus image tag, the
// upgrade phase under way (the release's milvusgen.io/upgrade-phase
// annotation), whether it runs the mixCoordinator, and its message queue.
// An overlay without Milvus values has the zero State.
func StateOf(files Files) (upgrade.State, error) {
	m, err := decode(files, nil)
	if err != nil {
		return upgrade.State{}, err
	}
	var s upgrade.State
	if id := milvusValuesID(m); id != "" {
		v := m[id].tree
		s.Tag = str(v, "image", "all", "tag")
		s.Mix = enabled(v, "mixCoordinator")
		s.Queue = mqKind(v)
	}
	for _, o := range m {
		if a := str(o.tree, "metadata", "annotations", phaseAnnotation); a != "" {
			if _, err := fmt.Sscanf(a, "phase %d of %d", &s.Phase, &s.Of); err != nil {
				return s, fmt.Errorf("%s: annotation %s: %q is not \"phase N of M ...\"", o.id, phaseAnnotation, a)
			}
		}
	}
	return s, nil
}

// Restarts are the Milvus values that change from one overlay to the
// other and restart every Milvus pod (in the pod templates or in the
// configuration whose checksum annotates every Deployment), the image
// left out: an upgrade phase changes it for the components it moves.
func Restarts(from, to Files) ([]string, error) {
	a, err := decode(from, nil)
	if err != nil {
		return nil, err
	}
	b, err := decode(to, nil)
	if err != nil {
		return nil, err
	}
	fromValues, toValues := milvusValuesID(a), milvusValuesID(b)
	if fromValues == "" || toValues == "" {
		return nil, nil
	}
	causes := restartCauses(fieldChanges(a[fromValues], b[toValues]))
	delete(causes, "image")
	return sortedKeys(causes), nil
}

// restartCauses are the top-level values among changed fields that every
// Milvus pod carries (podWide), and the coordinators' activeStandby,
// which is in the configuration checksum.
func restartCauses(fields []FieldChange) map[string]bool {
	causes := map[string]bool{}
	for _, f := range fields {
		top := f.Path
		if i := strings.IndexAny(top, ".["); i >= 0 {
			top = top[:i]
		}
		for _, p := range podWide {
			if top == p {
				causes[p] = true
			}
		}
		for _, c := range components {
			if top == c && strings.HasPrefix(strings.TrimPrefix(f.Path, c+"."), "activeStandby") {
				causes["activeStandby"] = true
			}
		}
	}
	return causes
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
