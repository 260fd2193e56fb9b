package diff

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/milvus-gitops/milvusgen/upgrade"
)

const (
	// phaseAnnotation is generators.UpgradePhaseAnnotation, on the Milvus
	// HelmRelease or Application of an upgrade phase.
	phaseAnnotation  = "milvusgen.io/upgrade-phase"
	valuesID         = "file values.yaml"
	failureDomainsID = "file failure-domains.yaml"
)

// podWide are Helm values that every Milvus pod carries: in its template,
// or in the configuration whose checksum annotates every Deployment (the
// chart's config.tpl reads the external* sections, the subchart switches,
// streaming, log and the coordinators' activeStandby).
var podWide = []string{"image", "securityContext", "containerSecurityContext", "volumes", "volumeMounts", "labels", "annotations",
	"extraConfigFiles", "log", "livenessProbe", "readinessProbe", "serviceAccount", "externalS3", "externalEtcd", "externalPulsar",
	"externalKafka", "streaming", "cluster", "minio", "etcd", "pulsar", "pulsarv3", "kafka", "woodpecker", "customConfigMap"}

// components are the chart's per-component values keys.
var components = []string{"proxy", "rootCoordinator", "queryCoordinator", "queryNode", "indexCoordinator", "indexNode", "dataCoordinator", "dataNode", "mixCoordinator", "streamingNode"}

func impact(a, b map[string]object, r *Report, rename map[string]string) []Note {
	var notes []Note
	warn := func(f string, args ...any) { notes = append(notes, Note{"warning", fmt.Sprintf(f, args...)}) }
	info := func(f string, args ...any) { notes = append(notes, Note{"info", fmt.Sprintf(f, args...)}) }
	// In an upgrade phase the image changes for some components only:
	// the phase note says which, not "every pod restarts".
	phased := hasUpgradePhase(a) || hasUpgradePhase(b)
	// The Milvus values: at the overlay's root, or in the release's
	// directory when Argo CD renders it through a kustomization (an
	// upgrade phase moves it there and back).
	fromValues, toValues := milvusValuesID(a), milvusValuesID(b)
	if fromValues != "" && toValues != "" && fromValues != toValues {
		o := ObjectChange{ID: toValues, Status: Changed, Fields: fieldChanges(a[fromValues], b[toValues])}
		valuesImpact(o, a[fromValues].tree, b[toValues].tree, phased, warn, info)
	}

	for _, o := range r.Objects {
		kind := kindOf(o.ID)
		switch {
		case o.ID == fromValues && o.ID == toValues:
			valuesImpact(o, a[o.ID].tree, b[o.ID].tree, phased, warn, info)
		case o.ID == failureDomainsID:
			failureImpact(a[o.ID].tree, b[o.ID].tree, warn, info)
		case kind == "PodDisruptionBudget" && o.Status == Removed:
			warn("PodDisruptionBudget %s removed: drains and upgrades may take that component down", nameOf(o.ID))
		case kind == "PodDisruptionBudget":
			info("PodDisruptionBudget %s %s: what a drain or upgrade may take down changes", nameOf(o.ID), o.Status)
		case kind == "Role" || kind == "RoleBinding" || kind == "ClusterRole" || kind == "ClusterRoleBinding" || kind == "ServiceAccount":
			warn("RBAC: %s %s %s", kind, nameOf(o.ID), o.Status)
		case kind == "ValidatingAdmissionPolicy" || kind == "ValidatingAdmissionPolicyBinding":
			warn("admission: %s %s %s (what the verifier may delete or evict)", kind, nameOf(o.ID), o.Status)
		case (kind == "HelmRelease" || kind == "Application") && o.Status == Removed:
			warn("%s %s removed: the controller uninstalls what it deployed", kind, nameOf(o.ID))
		case kind == "HelmRelease" || kind == "Application":
			chartImpact(o, warn)
			for _, f := range o.Fields {
				if strings.Contains(f.Path, "milvusgen.io/release-digest") && f.From != nil && f.To != nil {
					info("what Milvus runs changed (%s's release digest): Argo CD syncs the overlay again, and its PostSync verification runs", nameOf(o.ID))
				}
			}
			// The upgrade phase, read from both trees: the annotation may
			// come or go with the whole annotations map.
			from, to := str(a[o.ID].tree, "metadata", "annotations", phaseAnnotation), str(b[o.ID].tree, "metadata", "annotations", phaseAnnotation)
			switch {
			case to != "" && to != from:
				warn("upgrade %s", to)
			case to == "" && from != "":
				warn("upgrade, last phase: every component moves to the target image (phase was: %s)", from)
			}
		case kind == "Namespace" && o.Status == Removed:
			warn("Namespace %s removed: everything in it is deleted", nameOf(o.ID))
		case kind == "Job" && strings.HasSuffix(nameOf(o.ID), "-verify-<hash>") && o.Status == Changed:
			if mentionsFlag(b[o.ID].tree, "--fault-selector") {
				info("the verification Job runs again: its fault phase deletes a query-node pod")
			} else {
				info("the verification Job runs again")
			}
		}
		// Secret references, in changed fields or in whole objects that
		// come or go.
		switch o.Status {
		case Changed:
			for _, f := range o.Fields {
				if refersToSecret(f.From) || refersToSecret(f.To) || secretPath(f.Path) {
					warn("Secret reference changed in %s: %s", nameOf(o.ID), f.Path)
				}
			}
		case Added:
			if refersToSecret(b[o.ID].tree) {
				warn("Secret references added with %s", nameOf(o.ID))
			}
		case Removed:
			if refersToSecret(a[o.ID].tree) {
				warn("Secret references removed with %s", nameOf(o.ID))
			}
		}
	}
	dataImpact(a, b, rename, warn)
	// The upgrade phase first, then warnings, then information.
	rank := func(n Note) int {
		switch {
		case strings.HasPrefix(n.Message, "upgrade "), strings.HasPrefix(n.Message, "upgrade,"):
			return 0
		case n.Severity == "warning":
			return 1
		}
		return 2
	}
	sort.SliceStable(notes, func(i, j int) bool { return rank(notes[i]) < rank(notes[j]) })
	return dedupe(notes)
}

// secretKeys name the fields through which a pod reaches a Secret.
var secretKeys = []string{"secretKeyRef", "secretName", "existingSecret", "pullSecrets", "imagePullSecrets", "secretRef"}

func secretPath(p string) bool {
	for _, k := range secretKeys {
		if strings.Contains(p, k) {
			return true
		}
	}
	return false
}

// refersToSecret reports whether a subtree references a Secret.
func refersToSecret(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			for _, s := range secretKeys {
				if k == s {
					return true
				}
			}
			if refersToSecret(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if refersToSecret(e) {
				return true
			}
		}
	}
	return false
}

// hasUpgradePhase reports whether an overlay's Milvus release is in a
// phase of an upgrade.
func hasUpgradePhase(m map[string]object) bool {
	for _, o := range m {
		if str(o.tree, "metadata", "annotations", phaseAnnotation) != "" {
			return true
		}
	}
	return false
}

// milvusValuesID is the Milvus values file of an overlay: values.yaml at
// its root, or <release>/values.yaml.
func milvusValuesID(m map[string]object) string {
	if _, ok := m[valuesID]; ok {
		return valuesID
	}
	var found []string
	for id := range m {
		if strings.HasPrefix(id, "file ") && strings.HasSuffix(id, "/values.yaml") {
			found = append(found, id)
		}
	}
	sort.Strings(found)
	if len(found) > 0 {
		return found[0]
	}
	return ""
}

func valuesImpact(o ObjectChange, from, to map[string]any, phased bool, warn, info func(string, ...any)) {
	restartAll := restartCauses(o.Fields)
	rolls := map[string]bool{}
	for _, f := range o.Fields {
		top := f.Path
		if i := strings.IndexAny(top, ".["); i >= 0 {
			top = top[:i]
		}
		for _, c := range components {
			if top != c {
				continue
			}
			rest := strings.TrimPrefix(f.Path, c+".")
			switch {
			case strings.HasPrefix(rest, "activeStandby"):
			case rest == "replicas" || strings.HasPrefix(rest, "strategy"):
				// scaling and rollout settings do not roll the pods
			default:
				rolls[c] = true
			}
		}
	}
	if phased {
		// The phase note says which components move; chart 5.0 keeps
		// streaming.enabled out of the configuration (it renders the
		// streaming nodes, and an environment variable the pins take off
		// the held-back 2.5 components).
		delete(restartAll, "image")
		delete(restartAll, "streaming")
	}
	if len(restartAll) > 0 {
		warn("every Milvus pod restarts: %s changed (the pod templates or the config checksum change)", strings.Join(sortedKeys(restartAll), ", "))
	}
	var rolling []string
	for c := range rolls {
		rolling = append(rolling, c)
	}
	sort.Strings(rolling)
	if len(rolling) > 0 && len(restartAll) == 0 {
		info("these components roll: %s", strings.Join(rolling, ", "))
	}

	fromTag, toTag := str(from, "image", "all", "tag"), str(to, "image", "all", "tag")
	if fromTag != toTag && fromTag != "" && toTag != "" {
		if !phased { // else the phase note says what runs which
			warn("Milvus image %s -> %s", fromTag, toTag)
		}
		upgradePath(fromTag, toTag, from, warn, info)
	}
	for _, c := range components {
		fr, fok := num(from, c, "replicas")
		tr, tok := num(to, c, "replicas")
		if !fok || !tok || tr == fr || !enabled(to, c) {
			continue
		}
		if tr > fr {
			info("%s scales out: %d -> %d replicas", c, fr, tr)
			continue
		}
		if tr < 2 {
			warn("%s replicas %d -> %d: below the HA floor of 2 (one pod or node failure takes it down)", c, fr, tr)
		} else {
			info("%s scales in: %d -> %d replicas", c, fr, tr)
		}
	}
}

// upgradePath checks a 2.5 -> 2.6 jump: it must start from 2.5.16 or later
// running the mixCoordinator (upgrade.Min26Source).
func upgradePath(fromTag, toTag string, from map[string]any, warn, info func(string, ...any)) {
	fa, ferr := upgrade.ParseVersion(fromTag)
	ta, terr := upgrade.ParseVersion(toTag)
	if ferr != nil || terr != nil {
		return
	}
	if fa.Line() == "2.5" && ta.Major == 2 && ta.Minor >= 6 {
		mix := enabled(from, "mixCoordinator")
		// The release, whatever image variant the tag names.
		if fa.Patch < upgrade.Min26Source.Patch || !mix {
			warn("upgrade 2.5 -> 2.6 from %s (mixCoordinator %v): go through 2.5.16 or later with the mixCoordinator enabled first", fromTag, mix)
		} else {
			info("upgrade 2.5 -> 2.6 from %s with the mixCoordinator: the supported path", fromTag)
		}
	}
	if ta.Major < fa.Major || ta.Major == fa.Major && ta.Minor < fa.Minor {
		warn("Milvus downgrade %s -> %s: not supported by Milvus", fromTag, toTag)
	}
}

func chartImpact(o ObjectChange, warn func(string, ...any)) {
	for _, f := range o.Fields {
		if strings.HasSuffix(f.Path, "chart.spec.version") || f.Path == "spec.sources[0].targetRevision" {
			warn("Milvus chart %v -> %v", f.From, f.To)
		}
	}
}

func str(m map[string]any, keys ...string) string {
	s, _ := get(m, keys...).(string)
	return s
}

func num(m map[string]any, keys ...string) (int, bool) {
	switch v := get(m, keys...).(type) {
	case float64:
		return int(v), true
	case int64:
		return int(v), true
	case int:
		return v, true
	}
	return 0, false
}

func enabled(m map[string]any, c string) bool {
	e, ok := get(m, c, "enabled").(bool)
	return !ok || e // streamingNode has no switch
}

func kindOf(id string) string {
	f := strings.Fields(id)
	if len(f) < 3 || f[0] == "file" {
		return ""
	}
	return f[1]
}

func nameOf(id string) string {
	f := strings.Fields(id)
	return f[len(f)-1]
}

func dedupe(notes []Note) []Note {
	seen := map[Note]bool{}
	var out []Note
	for _, n := range notes {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// failureImpact notes what a change does to the failure-domain analysis:
// a workload that no longer survives a node or a zone is a warning, one
// that now does, or any other change of the table, information.
func failureImpact(from, to map[string]any, warn, info func(string, ...any)) {
	fw, _ := from["workloads"].(map[string]any)
	tw, _ := to["workloads"].(map[string]any)
	for _, n := range unionKeys(fw, tw) {
		a, _ := fw[n].(map[string]any)
		b, _ := tw[n].(map[string]any)
		switch {
		case a == nil:
			if ok, _ := b["survivesNode"].(bool); !ok {
				warn("failure domains: %s is added and does not survive the loss of one node", n)
			} else {
				info("failure domains: %s is added", n)
			}
			continue
		case b == nil:
			info("failure domains: %s is removed", n)
			continue
		}
		changed := false
		for _, f := range []struct{ key, what string }{{"survivesNode", "the loss of one node"}, {"survivesZone", "the loss of a zone"}} {
			was, _ := a[f.key].(bool)
			is, _ := b[f.key].(bool)
			switch {
			case was && !is:
				warn("failure domains: %s no longer survives %s with its quorum", n, f.what)
				changed = true
			case !was && is:
				info("failure domains: %s now survives %s with its quorum", n, f.what)
				changed = true
			}
		}
		// The other numbers, unless a verdict above already says it.
		if keys := changedKeys(a, b, "survivesNode", "survivesZone"); keys != "" && !changed {
			info("failure domains of %s change: %s", n, keys)
		}
	}
	for _, k := range []string{"tolerate", "nodes", "zones"} {
		if !reflect.DeepEqual(from[k], to[k]) {
			info("failure domains: %s %v -> %v", k, flat(from[k]), flat(to[k]))
		}
	}
	if fc, tc := str(from, "capacity"), str(to, "capacity"); fc != tc {
		if strings.HasPrefix(tc, "does not fit") {
			warn("failure domains: the requests no longer fit topology.nodeSize")
		} else {
			info("failure domains: capacity %s -> %s", fc, tc)
		}
	}
}

// changedKeys lists "key a -> b" for the keys that differ, but skip.
func changedKeys(a, b map[string]any, skip ...string) string {
	var out []string
	for _, k := range unionKeys(a, b) {
		if slices.Contains(skip, k) {
			continue
		}
		if !reflect.DeepEqual(a[k], b[k]) {
			out = append(out, fmt.Sprintf("%s %v -> %v", k, flat(a[k]), flat(b[k])))
		}
	}
	return strings.Join(out, ", ")
}

// flat prints a value on one line, maps in key order.
func flat(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			return "none"
		}
		return fmt.Sprint(v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// unionKeys are the keys of a and b, sorted.
func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, dup := a[k]; !dup {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// mentionsFlag reports whether a Job's containers pass flag, in their
// arguments read as a map by flag (asSets) or as a list.
func mentionsFlag(job map[string]any, flag string) bool {
	containers, _ := get(job, "spec", "template", "spec", "containers").([]any)
	for _, c := range containers {
		cm, _ := c.(map[string]any)
		switch args := get(cm, "args").(type) {
		case map[string]any:
			if _, ok := args[flag]; ok {
				return true
			}
		case []any:
			for _, a := range args {
				if a == flag {
					return true
				}
			}
		}
	}
	return false
}
