package spec

import (
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The spec fields that become Kubernetes label keys and values or
// annotation keys. The schema types them as strings; Kubernetes' own
// validation (k8s.io/apimachinery/pkg/util/validation) decides, so that
// what `gen vet` accepts is exactly what the API server accepts. "*" is
// any field or list element.
var (
	labelMaps = []string{
		"labels", "monitoring.operatorLabels", "networkPolicies.prometheusPodLabels",
		"placement.nodeSelector", "components.*.placement.nodeSelector",
	}
	annotationMaps = []string{
		"components.*.annotations", "service.annotations", "serviceAccount.annotations",
		"backup.serviceAccount.annotations",
	}
	labelKeys = []string{
		"topology.zoneLabel", "topology.hostnameLabel",
		"placement.tolerations.*.key", "components.*.placement.tolerations.*.key",
	}
	labelValues = []string{
		"topology.zones.*",
		"placement.tolerations.*.value", "components.*.placement.tolerations.*.value",
	}
)

// metadata checks the label and annotation fields of an environment.
func (s *Set) metadata(name string, v cue.Value) []Diagnostic {
	var diags []Diagnostic
	add := func(at []string, msg string) {
		diags = append(diags, s.positionedAt(name, at, msg)...)
	}
	for _, p := range labelMaps {
		eachAt(v, p, func(at []string, m cue.Value) {
			eachField(m, func(key string, val cue.Value) {
				k := append(at, key)
				if errs := validation.IsQualifiedName(key); len(errs) > 0 {
					add(k, fmt.Sprintf("label key %q: %s", key, strings.Join(errs, "; ")))
				}
				if str, err := val.String(); err == nil {
					if errs := validation.IsValidLabelValue(str); len(errs) > 0 {
						add(k, fmt.Sprintf("label value %q: %s", str, strings.Join(errs, "; ")))
					}
				}
			})
		})
	}
	for _, p := range annotationMaps {
		eachAt(v, p, func(at []string, m cue.Value) {
			size := 0
			eachField(m, func(key string, val cue.Value) {
				str, _ := val.String()
				size += len(key) + len(str)
				// The API server lowercases the key before this check
				// (apimachinery's ValidateAnnotations).
				if errs := validation.IsQualifiedName(strings.ToLower(key)); len(errs) > 0 {
					add(append(at, key), fmt.Sprintf("annotation key %q: %s", key, strings.Join(errs, "; ")))
				}
			})
			// ValidateAnnotations: all annotations together at most 256 KiB.
			if size > 256*1024 {
				add(at, fmt.Sprintf("annotations total %d bytes; Kubernetes allows %d", size, 256*1024))
			}
		})
	}
	for _, p := range labelKeys {
		eachAt(v, p, func(at []string, x cue.Value) {
			if str, err := x.String(); err == nil {
				if errs := validation.IsQualifiedName(str); len(errs) > 0 {
					add(at, fmt.Sprintf("label key %q: %s", str, strings.Join(errs, "; ")))
				}
			}
		})
	}
	for _, p := range labelValues {
		eachAt(v, p, func(at []string, x cue.Value) {
			str, err := x.String()
			if err != nil {
				return
			}
			if str == "" && strings.HasPrefix(p, "topology.zones") {
				add(at, "an empty zone: every zone is the value of the zone label on some nodes")
				return
			}
			if errs := validation.IsValidLabelValue(str); len(errs) > 0 {
				add(at, fmt.Sprintf("label value %q: %s", str, strings.Join(errs, "; ")))
			}
		})
	}
	return diags
}

// eachMatch calls fn for every value of v at pattern ("*" matches any
// field or list element), with the concrete path it found.
func eachMatch(v cue.Value, pattern, at []string, fn func(at []string, x cue.Value)) {
	if !v.Exists() {
		return
	}
	if len(pattern) == 0 {
		fn(append([]string(nil), at...), v)
		return
	}
	head, rest := pattern[0], pattern[1:]
	if head != "*" {
		eachMatch(v.LookupPath(cue.MakePath(cue.Str(head))), rest, append(at, head), fn)
		return
	}
	switch v.IncompleteKind() {
	case cue.ListKind:
		it, err := v.List()
		if err != nil {
			return
		}
		for i := 0; it.Next(); i++ {
			eachMatch(it.Value(), rest, append(at, fmt.Sprint(i)), fn)
		}
	case cue.StructKind:
		eachField(v, func(k string, x cue.Value) { eachMatch(x, rest, append(at, k), fn) })
	}
}

// eachAt is eachMatch for a dotted pattern ("components.*.annotations").
func eachAt(v cue.Value, pattern string, fn func(at []string, x cue.Value)) {
	eachMatch(v, strings.Split(pattern, "."), nil, fn)
}

// eachLeaf calls fn for every value below v that is neither a struct nor
// a list, and for every empty struct, with its path below v. A struct
// that is an error as a whole (bottom, an error below it) still has its
// fields walked.
func eachLeaf(v cue.Value, path []string, fn func(path []string, x cue.Value)) {
	sub := func(k string) []string { return append(path[:len(path):len(path)], k) }
	switch k := v.IncompleteKind(); k {
	case cue.StructKind, cue.BottomKind:
		n := 0
		eachField(v, func(key string, x cue.Value) { n++; eachLeaf(x, sub(key), fn) })
		if n == 0 && k == cue.StructKind {
			fn(path, v)
		}
	case cue.ListKind:
		it, err := v.List()
		if err != nil {
			return
		}
		for i := 0; it.Next(); i++ {
			eachLeaf(it.Value(), sub(strconv.Itoa(i)), fn)
		}
	default:
		fn(path, v)
	}
}

// eachField calls fn for every regular field of a struct, in order.
func eachField(v cue.Value, fn func(key string, x cue.Value)) {
	it, err := v.Fields()
	if err != nil {
		return
	}
	for it.Next() {
		if sel := it.Selector(); sel.LabelType() == cue.StringLabel {
			fn(sel.Unquoted(), it.Value())
		}
	}
}
