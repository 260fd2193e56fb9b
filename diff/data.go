package diff

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// dataImpact warns about the changes that lose data or strand it: Milvus
// finds its catalog in etcd under a root path, its segments in a bucket
// under a root path, and its unflushed writes in message-queue channels
// named from a prefix; change any of them and it starts as if new, with
// the old data still there and unreachable. A dependency's volumes are
// StatefulSet volumeClaimTemplates, which Kubernetes does not let an
// update change, so a smaller size or another storage class leaves the
// release failing its upgrade.
// rename maps the first environment's identity to the second's when two
// environments are compared: a root path derived from the name is then
// not a change.
func dataImpact(a, b map[string]object, rename map[string]string, warn func(string, ...any)) {
	var from, to map[string]any
	if id := milvusValuesID(a); id != "" {
		from = a[id].tree
	}
	if id := milvusValuesID(b); id != "" {
		to = b[id].tree
	}
	if from != nil && to != nil {
		if f, t := mqKind(from), mqKind(to); f != "" && t != "" && f != t {
			warn("message queue %s -> %s: Milvus reads its channels and checkpoints from the queue it wrote them to; writes not yet flushed stay in the old one, and a running cluster cannot switch queues by configuration", f, t)
		}
		for _, c := range []struct {
			what string
			path []string
			why  string
		}{
			{"etcd root path", []string{"extraConfigFiles", "user.yaml", "etcd", "rootPath"}, "Milvus keeps its catalog under it: with a new one it comes up with no collections, the old catalog stranded in etcd"},
			{"channel name prefix", []string{"extraConfigFiles", "user.yaml", "msgChannel", "chanNamePrefix", "cluster"}, "the collections' channels are named from it: writes not yet flushed stay in the old channels"},
			{"bucket", []string{"externalS3", "bucketName"}, "the catalog points at segment files that are not in the new bucket"},
			{"bucket root path", []string{"externalS3", "rootPath"}, "the catalog points at segment files that are not under the new root path"},
			{"bucket", []string{"minio", "bucketName"}, "the catalog points at segment files that are not in the new bucket"},
			{"bucket root path", []string{"minio", "rootPath"}, "the catalog points at segment files that are not under the new root path"},
		} {
			f, t := str(from, c.path...), str(to, c.path...)
			if f != "" && t != "" && replaceToken(f, rename) != t {
				warn("%s %q -> %q (%s): %s", c.what, f, t, strings.Join(c.path, "."), c.why)
			}
		}
	}

	// The dependencies' values (values-etcd.yaml, ..., at the root or in
	// the release's directory), paired by file name: volume sizes and
	// storage classes.
	depValues := func(m map[string]object) map[string]object {
		out := map[string]object{}
		for id, o := range m {
			if base := path.Base(strings.TrimPrefix(id, "file ")); strings.HasPrefix(id, "file ") && strings.HasPrefix(base, "values-") {
				out[base] = o
			}
		}
		return out
	}
	da, db := depValues(a), depValues(b)
	names := make([]string, 0, len(db))
	for n := range db {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if old, ok := da[n]; ok {
			volumeChanges(n, "", old.tree, db[n].tree, warn)
		}
	}

	// A managed dependency removed while Milvus' values still name it.
	if to != nil {
		var removed []string
		for id, o := range a {
			if _, ok := b[id]; ok {
				continue
			}
			kind, _ := o.tree["kind"].(string)
			if kind != "HelmRelease" && kind != "Application" {
				continue
			}
			meta, _ := o.tree["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			if isMilvusRelease(o.tree) {
				continue
			}
			// Where Milvus' values name its dependencies' hosts, as a
			// whole host label (the release, its pods -0.., its
			// -headless or -proxy Services).
			used := false
			for _, k := range []string{"externalEtcd", "externalS3", "externalPulsar", "externalKafka"} {
				if e, _ := get(to, k, "enabled").(bool); e && mentions(to[k], name) {
					used = true
				}
			}
			if name == "" || !used {
				continue
			}
			removed = append(removed, name)
		}
		sort.Strings(removed)
		for _, n := range removed {
			warn("%s removed while Milvus' values still point at it: Milvus loses that dependency, and the data it held goes with the release unless its volumes are retained", n)
		}
	}
}

// mqKind is the message queue the Milvus values select.
func mqKind(v map[string]any) string {
	if t := str(v, "extraConfigFiles", "user.yaml", "mq", "type"); t != "" && t != "default" {
		return strings.ToLower(t)
	}
	on := func(k string) bool { e, _ := get(v, k, "enabled").(bool); return e }
	switch {
	case on("pulsar") || on("pulsarv3") || on("externalPulsar"):
		return "pulsar"
	case on("kafka") || on("externalKafka"):
		return "kafka"
	case on("woodpecker"):
		return "woodpecker"
	}
	return ""
}

// isMilvusRelease reports whether a HelmRelease or Application installs
// the Milvus chart itself.
func isMilvusRelease(tree map[string]any) bool {
	if str(tree, "spec", "chart", "spec", "chart") == "milvus" || str(tree, "spec", "source", "chart") == "milvus" {
		return true
	}
	sources, _ := get(tree, "spec", "sources").([]any)
	for _, s := range sources {
		if m, ok := s.(map[string]any); ok && m["chart"] == "milvus" {
			return true
		}
	}
	return false
}

// mentions reports whether a host anywhere in v (a string, an endpoint
// list) has a label that is s or s followed by "-" and more (a pod's
// ordinal, a Service's suffix).
func mentions(v any, s string) bool {
	switch t := v.(type) {
	case string:
		for _, label := range strings.FieldsFunc(t, func(r rune) bool { return r == '.' || r == ':' || r == '/' || r == ',' || r == ' ' }) {
			if label == s || strings.HasPrefix(label, s+"-") {
				return true
			}
		}
		return false
	case map[string]any:
		for _, e := range t {
			if mentions(e, s) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if mentions(e, s) {
				return true
			}
		}
	}
	return false
}

// volumeChanges walks two value trees for persistent volume settings: a
// "size" that shrinks or a "storageClass" that changes, under a key that
// names persistence or volumes.
func volumeChanges(file, path string, a, b any, warn func(string, ...any)) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return
	}
	keys := make([]string, 0, len(bm))
	for k := range bm {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := k
		if path != "" {
			p = path + "." + k
		}
		av, bv := am[k], bm[k]
		volumeish := strings.Contains(strings.ToLower(path), "persistence") || strings.Contains(strings.ToLower(path), "volume")
		switch {
		case volumeish && k == "size":
			as, bs := fmt.Sprint(av), fmt.Sprint(bv)
			aq, aerr := resource.ParseQuantity(as)
			bq, berr := resource.ParseQuantity(bs)
			if av != nil && aerr == nil && berr == nil && bq.Cmp(aq) < 0 {
				warn("%s: %s %s -> %s: a StatefulSet's volume claims cannot shrink; the chart's update fails and the release is stuck", file, p, as, bs)
			}
		case volumeish && (k == "storageClass" || k == "storageClassName"):
			if av != nil && fmt.Sprint(av) != fmt.Sprint(bv) {
				warn("%s: %s %q -> %q: a StatefulSet's volume claims cannot change class; the chart's update fails and the release is stuck", file, p, fmt.Sprint(av), fmt.Sprint(bv))
			}
		default:
			volumeChanges(file, p, av, bv, warn)
		}
	}
}
