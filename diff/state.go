package diff

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/generators"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// imagePath is the path the upgrade pins replace (generators/delivery).
const imagePath = "/spec/template/spec/containers/0/image"

// Between reads the step from one rendered overlay to another, decoding
// each once: what each runs (stateOf) and the changes that roll Milvus
// pods whatever an upgrade phase moves (restarts).
func Between(from, to Files) (a, b upgrade.State, restarts []string, err error) {
	ma, err := decode(from, nil)
	if err != nil {
		return a, b, nil, err
	}
	mb, err := decode(to, nil)
	if err != nil {
		return a, b, nil, err
	}
	if a, err = stateOf(ma); err != nil {
		return a, b, nil, err
	}
	if b, err = stateOf(mb); err != nil {
		return a, b, nil, err
	}
	return a, b, restartsBetween(ma, mb), nil
}

// stateOf reads what a decoded overlay runs: its Milvus image tag, the
// upgrade phase under way (the release's milvusgen.io/upgrade-phase
// annotation) and the tag its pins hold components on, whether it runs
// the mixCoordinator, and its message queue. An overlay without Milvus
// values has the zero State.
func stateOf(m map[string]object) (upgrade.State, error) {
	var s upgrade.State
	if id := milvusValuesID(m); id != "" {
		v := m[id].tree
		s.Tag = str(v, "image", "all", "tag")
		s.Mix = enabled(v, "mixCoordinator")
		s.Queue = mqKind(v)
	}
	for _, o := range m {
		if a := str(o.tree, "metadata", "annotations", generators.UpgradePhaseAnnotation); a != "" {
			if _, err := fmt.Sscanf(a, "phase %d of %d", &s.Phase, &s.Of); err != nil {
				return s, fmt.Errorf("%s: annotation %s: %q is not \"phase N of M ...\"", o.id, generators.UpgradePhaseAnnotation, a)
			}
		}
	}
	pins, _ := patches(m)
	for _, image := range pins {
		if i := strings.LastIndex(image, ":"); i >= 0 {
			s.PinnedTag = image[i+1:]
		}
	}
	return s, nil
}

// patches are the post-render patches of an overlay's releases (Flux
// postRenderers, an Argo CD release kustomization): the images the upgrade
// pins hold components on, and every other patch.
func patches(m map[string]object) (pins []string, other []string) {
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if p, ok := e.(string); ok && k == "patch" {
					if image := pinned(p); image != "" {
						pins = append(pins, image)
					} else {
						other = append(other, p)
					}
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		walk(m[id].tree)
	}
	sort.Strings(pins)
	sort.Strings(other)
	return pins, other
}

// pinned is the image a JSON patch sets on a Deployment's first
// container, or "".
func pinned(patch string) string {
	var ops []struct {
		Op, Path string
		Value    any
	}
	if yaml.Unmarshal([]byte(patch), &ops) != nil {
		return ""
	}
	for _, op := range ops {
		if op.Op == "replace" && op.Path == imagePath {
			s, _ := op.Value.(string)
			return s
		}
	}
	return ""
}

// restartsBetween are the changes from one overlay to the other that roll
// Milvus pods, whatever an upgrade phase moves: the values every pod
// carries (podWide: the pod templates, or the configuration whose
// checksum annotates every Deployment; of the image, what is not its
// tag), a component's values other than its replicas and rollout strategy
// ("queryNode.resources"), and the post-render patches other than the
// upgrade's image pins ("post-render patches").
func restartsBetween(a, b map[string]object) []string {
	causes := map[string]bool{}
	fromValues, toValues := milvusValuesID(a), milvusValuesID(b)
	if fromValues != "" && toValues != "" {
		fields := fieldChanges(a[fromValues], b[toValues])
		causes = restartCauses(fields)
		delete(causes, "image")
		for _, f := range fields {
			top, rest, _ := strings.Cut(f.Path, ".")
			switch {
			case top == "image" && f.Path != "image.all.tag":
				causes[f.Path] = true
			case isComponent(top) && rest != "" && rest != "replicas" && !strings.HasPrefix(rest, "strategy"):
				key, _, _ := strings.Cut(rest, ".")
				key, _, _ = strings.Cut(key, "[")
				causes[top+"."+key] = true
			case isComponent(top) && rest == "":
				// a whole component's values came or went
				causes[top] = true
			}
		}
	}
	_, before := patches(a)
	_, after := patches(b)
	if !slices.Equal(before, after) {
		causes["post-render patches"] = true
	}
	return sortedKeys(causes)
}

func isComponent(key string) bool { return slices.Contains(components, key) }

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
