// Package diff compares two rendered overlays semantically: per object
// (apiVersion, kind, namespace, name) and per field path, descending into
// the Helm values and the Milvus configuration they carry as a string, so
// that "queryNode.replicas: 3 -> 5" is one line. It also notes what a
// change will do: restart every Milvus pod, change versions, go below the
// HA floor, touch disruption budgets, Secret references or RBAC.
package diff

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/google/go-cmp/cmp"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Files is an overlay: relative path to content.
type Files map[string][]byte

// Status of an object.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// Report is the comparison of two overlays.
type Report struct {
	From    string         `json:"from"`
	To      string         `json:"to"`
	Objects []ObjectChange `json:"objects"`
	Notes   []Note         `json:"notes"`
}

// ObjectChange is one object that differs.
type ObjectChange struct {
	ID     string        `json:"id"`
	Status string        `json:"status"`
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one field path that differs; From or To is absent when
// the field was added or removed.
type FieldChange struct {
	Path string `json:"path"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
}

// Note is an impact a reviewer must see.
type Note struct {
	Severity string `json:"severity"` // warning or info
	Message  string `json:"message"`
}

// Empty reports whether nothing differs.
func (r *Report) Empty() bool { return len(r.Objects) == 0 }

// object is a decoded document of an overlay.
type object struct {
	id   string
	tree map[string]any
}

// Compare diffs two overlays. rename maps identifiers of the "from" side
// to the "to" side (release and namespace names when two environments are
// compared), applied to every string before comparing.
func Compare(fromName string, from Files, toName string, to Files, rename map[string]string) (*Report, error) {
	a, err := decode(from, rename)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fromName, err)
	}
	b, err := decode(to, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", toName, err)
	}
	r := &Report{From: fromName, To: toName, Objects: []ObjectChange{}}
	ids := map[string]bool{}
	for id := range a {
		ids[id] = true
	}
	for id := range b {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		x, inA := a[id]
		y, inB := b[id]
		switch {
		case !inA:
			r.Objects = append(r.Objects, ObjectChange{ID: id, Status: Added})
		case !inB:
			r.Objects = append(r.Objects, ObjectChange{ID: id, Status: Removed})
		default:
			if fields := fieldChanges(x, y); len(fields) > 0 {
				r.Objects = append(r.Objects, ObjectChange{ID: id, Status: Changed, Fields: fields})
			}
		}
	}
	r.Notes = impact(a, b, r, rename)
	return r, nil
}

// decode turns every YAML document of an overlay into an object keyed by
// apiVersion/kind/namespace/name (or by path for files without a kind),
// with the Milvus user.yaml parsed.
func decode(files Files, rename map[string]string) (map[string]object, error) {
	out := map[string]object{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(files[p]), 4096)
		for {
			var doc any
			if err := dec.Decode(&doc); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			if doc == nil {
				continue
			}
			tree, ok := doc.(map[string]any)
			if !ok {
				tree = map[string]any{"content": doc} // a list or scalar document
			}
			tree = renamed(tree, rename).(map[string]any)
			expandConfig(tree)
			asSets(tree)
			id := identity(p, tree)
			if _, dup := out[id]; dup {
				return nil, fmt.Errorf("%s: %s twice", p, id)
			}
			out[id] = object{id: id, tree: tree}
		}
	}
	return out, nil
}

// identity names an object by its API identity, the way a cluster does;
// the Helm values and configuration files by their path.
func identity(p string, tree map[string]any) string {
	kind, _ := tree["kind"].(string)
	meta, _ := tree["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if kind == "" || name == "" {
		return "file " + p
	}
	apiVersion, _ := tree["apiVersion"].(string)
	ns, _ := meta["namespace"].(string)
	if ns != "" {
		return fmt.Sprintf("%s %s %s/%s", apiVersion, kind, ns, stripHash(kind, name))
	}
	return fmt.Sprintf("%s %s %s", apiVersion, kind, stripHash(kind, name))
}

// stripHash drops the content hash kustomize or gen appends to a name
// (values ConfigMaps, the Flux verification Job), so that a content change
// reads as a change, not as a removal and an addition.
func stripHash(kind, name string) string {
	if kind != "Job" && kind != "ConfigMap" {
		return name
	}
	i := strings.LastIndex(name, "-")
	if i < 0 {
		return name
	}
	suffix := name[i+1:]
	digit := strings.ContainsAny(suffix, "0123456789")
	alnum := strings.Trim(suffix, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
	if (len(suffix) != 8 && len(suffix) != 10) || !digit || !alnum {
		return name
	}
	return name[:i] + "-<hash>"
}

// expandConfig parses the configuration files that objects carry as
// strings, so they are diffed key by key: the Milvus configuration in the
// Helm values (extraConfigFiles."user.yaml"), and the YAML and JSON files
// of ConfigMaps (prometheus.yml, alert rules, the dashboard, backup.yaml).
func expandConfig(tree map[string]any) {
	if tree["kind"] == "ConfigMap" {
		if data, ok := tree["data"].(map[string]any); ok {
			for name, v := range data {
				s, ok := v.(string)
				if !ok || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".json")) {
					continue
				}
				var parsed any
				if err := yaml.Unmarshal([]byte(s), &parsed); err == nil && parsed != nil {
					data[name] = parsed
				}
			}
		}
	}
	files, ok := tree["extraConfigFiles"].(map[string]any)
	if !ok {
		return
	}
	for name, v := range files {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var parsed map[string]any
		if err := yaml.Unmarshal([]byte(s), &parsed); err == nil && parsed != nil {
			files[name] = parsed
		}
	}
}

// asSets turns the lists whose order carries no meaning into maps, so
// that they are compared as sets, not by index: a kustomization's
// resources (one inserted in the middle would otherwise shift every later
// index), and the verification Job's arguments, keyed by flag name (a
// flag added in front would read as every flag changed).
func asSets(tree map[string]any) {
	if tree["kind"] == "Kustomization" {
		for _, k := range []string{"resources", "components"} {
			if l, ok := tree[k].([]any); ok {
				set := make(map[string]any, len(l))
				for _, e := range l {
					if s, ok := e.(string); ok {
						set[stripFileHash(s)] = s
					}
				}
				if len(set) == len(l) {
					tree[k] = set
				}
			}
		}
	}
	if tree["kind"] != "Job" {
		return
	}
	meta, _ := tree["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if n := stripHash("Job", name); !strings.HasSuffix(n, "-verify") && !strings.HasSuffix(n, "-verify-<hash>") {
		return
	}
	containers, _ := get(tree, "spec", "template", "spec", "containers").([]any)
	for _, c := range containers {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if args, ok := cm["args"].([]any); ok {
			if flags, ok := flagMap(args); ok {
				cm["args"] = flags
			}
		}
	}
}

// stripFileHash keys a resource file by its object's name without the
// content hash (job-x-verify-<hash>.yaml), as identity does for the object.
func stripFileHash(file string) string {
	base, ok := strings.CutSuffix(file, ".yaml")
	if !ok {
		return file
	}
	for _, k := range []string{"Job", "ConfigMap"} {
		if rest, ok := strings.CutPrefix(base, strings.ToLower(k)+"-"); ok {
			return strings.ToLower(k) + "-" + stripHash(k, rest) + ".yaml"
		}
	}
	return file
}

// flagMap reads --flag value, --flag=value and a lone --flag (true) into
// a map; ok is false for a list that is not all flags, or that repeats
// one (pflag appends repeated slice flags: their order would matter),
// except a map flag: a repeated flag whose values are KEY=VALUE with
// distinct keys (--wait-image NAME=IMAGE) is keyed "--flag[KEY]".
func flagMap(args []any) (map[string]any, bool) {
	out := map[string]any{}
	repeated := map[string]int{}
	for _, a := range args {
		if s, ok := a.(string); ok && strings.HasPrefix(s, "--") {
			k, _, _ := strings.Cut(s, "=")
			repeated[k]++
		}
	}
	set := func(k string, v any) bool {
		if s, ok := v.(string); ok && repeated[k] > 1 {
			if key, val, ok := strings.Cut(s, "="); ok {
				k, v = k+"["+key+"]", val
			}
		}
		if _, dup := out[k]; dup {
			return false
		}
		out[k] = v
		return true
	}
	for i := 0; i < len(args); i++ {
		a, ok := args[i].(string)
		if !ok || !strings.HasPrefix(a, "--") {
			return nil, false
		}
		k, v, hasValue := strings.Cut(a, "=")
		if !hasValue && i+1 < len(args) {
			if next, ok := args[i+1].(string); ok && !strings.HasPrefix(next, "--") {
				v, hasValue = next, true
				i++
			}
		}
		if !hasValue {
			v = "true"
		}
		if !set(k, v) {
			return nil, false
		}
	}
	return out, true
}

// get follows keys through nested maps.
func get(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// renamed applies rename to the identity fields only: object names and
// namespaces, label and selector values, namespace references, and the
// file names a kustomization lists. Everything else (a bucket, a host)
// keeps its own value, so that a real difference stays visible.
func renamed(v any, rename map[string]string) any {
	if len(rename) == 0 {
		return v
	}
	return renameIn(v, "", rename)
}

var identityKeys = map[string]bool{"name": true, "namespace": true, "releaseName": true, "targetNamespace": true, "claimName": true, "serviceAccountName": true}

func renameIn(v any, key string, rename map[string]string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		labels := key == "labels" || key == "matchLabels" || key == "selector"
		for k, e := range t {
			if labels {
				if s, ok := e.(string); ok {
					out[k] = replaceToken(s, rename)
					continue
				}
			}
			out[k] = renameIn(e, k, rename)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			if s, ok := e.(string); ok && key == "resources" {
				out[i] = replaceToken(s, rename)
				continue
			}
			out[i] = renameIn(e, key, rename)
		}
		return out
	case string:
		if identityKeys[key] {
			return replaceToken(t, rename)
		}
	}
	return v
}

// replaceToken renames whole names and their prefixes ("milvus-staging",
// "milvus-staging-backup"), never a name inside another word; in a dotted
// name each part ("<release>-verify-pods.<namespace>", a cluster-scoped
// object that names both).
func replaceToken(s string, rename map[string]string) string {
	if strings.Contains(s, ".") {
		parts := strings.Split(s, ".")
		for i, p := range parts {
			parts[i] = replacePart(p, rename)
		}
		return strings.Join(parts, ".")
	}
	return replacePart(s, rename)
}

func replacePart(s string, rename map[string]string) string {
	keys := make([]string, 0, len(rename))
	for k := range rename {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return len(keys[i]) > len(keys[j]) || len(keys[i]) == len(keys[j]) && keys[i] < keys[j]
	})
	for _, k := range keys {
		if s == k || strings.HasPrefix(s, k+"-") {
			return rename[k] + s[len(k):]
		}
		for _, prefix := range []string{"configmap-", "job-", "poddisruptionbudget-", "serviceaccount-", "role-", "rolebinding-", "cronjob-",
			"namespace-", "helmrelease-", "application-", "podmonitor-", "prometheusrule-", "validatingadmissionpolicy-",
			"validatingadmissionpolicybinding-", "networkpolicy-", "externalsecret-"} {
			if strings.HasPrefix(s, prefix+k) {
				return prefix + rename[k] + s[len(prefix)+len(k):]
			}
		}
	}
	return s
}

// fieldChanges lists the differing leaves, with go-cmp doing the
// structural comparison.
func fieldChanges(a, b object) []FieldChange {
	var rep reporter
	cmp.Equal(a.tree, b.tree, cmp.Reporter(&rep))
	sort.SliceStable(rep.changes, func(i, j int) bool { return rep.changes[i].Path < rep.changes[j].Path })
	return rep.changes
}

// reporter collects go-cmp's unequal leaves as field paths.
type reporter struct {
	path    cmp.Path
	changes []FieldChange
}

func (r *reporter) PushStep(ps cmp.PathStep) { r.path = append(r.path, ps) }
func (r *reporter) PopStep()                 { r.path = r.path[:len(r.path)-1] }

func (r *reporter) Report(rs cmp.Result) {
	if rs.Equal() {
		return
	}
	from, to := r.path.Last().Values()
	fc := FieldChange{Path: fieldPath(r.path)}
	if from.IsValid() {
		fc.From = from.Interface()
	}
	if to.IsValid() {
		fc.To = to.Interface()
	}
	r.changes = append(r.changes, fc)
}

// elementName is the name of a list element that has one (env vars,
// volumes, containers), so a path says which, whatever its index.
func elementName(s cmp.SliceIndex) string {
	x, y := s.Values()
	for _, v := range []any{value(x), value(y)} {
		if m, ok := v.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				return n
			}
		}
	}
	return ""
}

func value(v reflect.Value) any {
	if !v.IsValid() || !v.CanInterface() {
		return nil
	}
	return v.Interface()
}

// fieldPath renders a go-cmp path as a.b[0]["key.with.dots"].
func fieldPath(p cmp.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cmp.MapIndex:
			k := fmt.Sprint(s.Key().Interface())
			if strings.ContainsAny(k, "./ ") || strings.HasPrefix(k, "-") {
				fmt.Fprintf(&b, "[%q]", k)
			} else {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(k)
			}
		case cmp.SliceIndex:
			if n := elementName(s); n != "" {
				fmt.Fprintf(&b, "[name=%s]", n)
				continue
			}
			x, y := s.SplitKeys()
			switch {
			case x == y:
				fmt.Fprintf(&b, "[%d]", x)
			case x < 0:
				fmt.Fprintf(&b, "[+%d]", y)
			default:
				fmt.Fprintf(&b, "[%d]", x)
			}
		}
	}
	return b.String()
}
