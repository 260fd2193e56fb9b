package render

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/api/hasher"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/milvus-gitops/milvusgen/yamlenc"
)

// Stream is the manifest stream `kustomize build` prints for the overlays
// gen writes, produced without building them: every object of a resource
// file as it is written (canonical YAML: sorted keys, which is also what
// kustomize prints after its JSON round trip), the values ConfigMaps the
// kustomization generates with kustomize's own content hash in their
// names (package hasher), the HelmReleases' valuesFrom pointing at those
// names (the overlay's nameReference configuration), and kustomize's
// legacy order (the CLI's default: Namespaces and other kinds in its fixed
// order first, then by group, version, kind, namespace and name).
//
// An overlay that uses anything else falls back to krusty (Build), so the
// result is always kustomize's; tests hold the two byte-identical for
// every committed environment and the stock kustomize CLI to the output.
// The reason is speed: kustomize spends most of a build turning each
// object into a node tree, JSON and YAML again.
func Stream(fs FileSet) ([]byte, error) {
	if out, ok, err := stream(fs); ok || err != nil {
		return out, err
	}
	return Build(fs)
}

// doc is one object of the stream.
type doc struct {
	gvk             resid.Gvk
	namespace, name string
	body            []byte
}

// stream is Stream's fast path; ok is false when the overlay needs
// kustomize itself.
func stream(fs FileSet) ([]byte, bool, error) {
	kb, ok := fs[kustomizationFile]
	if !ok {
		return nil, false, nil
	}
	var k types.Kustomization
	if yaml.UnmarshalStrict(kb, &k) != nil || k.APIVersion != types.KustomizationVersion || k.Kind != types.KustomizationKind {
		return nil, false, nil // kustomize says what is wrong
	}
	// Only what gen writes: resources, values ConfigMaps, and the
	// nameReference of the HelmReleases' valuesFrom.
	rest := k
	rest.Resources, rest.ConfigMapGenerator, rest.Configurations = nil, nil, nil
	if !reflect.DeepEqual(rest, types.Kustomization{TypeMeta: k.TypeMeta}) {
		return nil, false, nil
	}
	if len(k.Configurations) > 0 && !(len(k.Configurations) == 1 && k.Configurations[0] == configurationFile && valuesFromOnly(fs[configurationFile])) {
		return nil, false, nil
	}
	var docs []doc
	for _, r := range k.Resources {
		b, ok := fs[r]
		if !ok {
			return nil, false, nil // a directory or a remote base
		}
		d, ok := parseDoc(b)
		if !ok || escapes(d.body) {
			return nil, false, nil
		}
		docs = append(docs, d)
	}
	// The generated ConfigMaps, named with kustomize's hash of their
	// content.
	renamed := map[string]string{} // "namespace/name" -> generated name
	var generated []doc
	for _, g := range k.ConfigMapGenerator {
		// A name, a namespace and files: nothing else.
		plain := types.ConfigMapArgs{GeneratorArgs: types.GeneratorArgs{Namespace: g.Namespace, Name: g.Name,
			KvPairSources: types.KvPairSources{FileSources: g.FileSources}}}
		if !reflect.DeepEqual(g, plain) || len(g.FileSources) == 0 || g.Namespace == "" {
			return nil, false, nil
		}
		data := map[string]any{}
		for _, f := range g.FileSources {
			b, ok := fs[f]
			if !ok || strings.ContainsAny(f, "=/") || !utf8.Valid(b) {
				return nil, false, nil // a key, a path, binaryData
			}
			data[f] = string(b)
		}
		cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": g.Name, "namespace": g.Namespace}, "data": data}
		node, err := kyaml.FromMap(cm)
		if err != nil {
			return nil, false, err
		}
		h, err := (&hasher.Hasher{}).Hash(node)
		if err != nil {
			return nil, false, err
		}
		name := g.Name + "-" + h
		cm["metadata"] = map[string]any{"name": name, "namespace": g.Namespace}
		body, err := yamlenc.Marshal(cm)
		if err != nil {
			return nil, false, err
		}
		if escapes(body) {
			return nil, false, nil
		}
		renamed[g.Namespace+"/"+g.Name] = name
		generated = append(generated, doc{gvk: resid.Gvk{Version: "v1", Kind: "ConfigMap"}, namespace: g.Namespace, name: name, body: body})
	}
	for i, d := range docs {
		if len(renamed) == 0 {
			break
		}
		if d.gvk.Group == "helm.toolkit.fluxcd.io" && d.gvk.Version == "v2" && d.gvk.Kind == "HelmRelease" {
			body, err := renameValuesFrom(d, renamed)
			if err != nil {
				return nil, false, err
			}
			docs[i].body = body
			continue
		}
		// Any other object that names a generated ConfigMap (a volume, an
		// env source) is renamed by kustomize's built-in references:
		// leave that to kustomize.
		for key := range renamed {
			_, name, _ := strings.Cut(key, "/")
			if bytes.Contains(d.body, []byte(name)) {
				return nil, false, nil
			}
		}
	}
	docs = append(docs, generated...)
	namespaces := 0
	ids := map[string]bool{}
	for _, d := range docs {
		if d.gvk.Kind == "Namespace" {
			namespaces++
		}
		if ids[sortKey(d)] {
			return nil, false, nil // kustomize refuses a duplicate
		}
		ids[sortKey(d)] = true
	}
	if namespaces > 1 {
		return nil, false, nil // kustomize orders those by a rule of their own
	}
	sort.SliceStable(docs, func(i, j int) bool {
		a, b := docs[i], docs[j]
		if !a.gvk.Equals(b.gvk) {
			return a.gvk.IsLessThan(b.gvk)
		}
		return sortKey(a) < sortKey(b)
	})
	var out bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(d.body)
	}
	return out.Bytes(), true, nil
}

// sortKey is kustomize's legacy tie-break within a kind.
func sortKey(d doc) string {
	ns, name := d.namespace, d.name
	if ns == "" {
		ns = "~X"
	}
	if name == "" {
		name = "~N"
	}
	return d.gvk.String() + "|" + ns + "|" + name
}

// valuesFromOnly reports whether a kustomize configuration holds only the
// nameReference gen writes: ConfigMaps named by HelmReleases' valuesFrom.
func valuesFromOnly(b []byte) bool {
	var c struct {
		NameReference []struct {
			Kind, Version string
			Group         string
			FieldSpecs    []types.FieldSpec `json:"fieldSpecs"`
		} `json:"nameReference"`
	}
	if err := yaml.UnmarshalStrict(b, &c); err != nil || len(c.NameReference) != 1 {
		return false
	}
	n := c.NameReference[0]
	if n.Kind != "ConfigMap" || n.Version != "v1" || n.Group != "" || len(n.FieldSpecs) != 1 {
		return false
	}
	f := n.FieldSpecs[0]
	return f.Group == "helm.toolkit.fluxcd.io" && f.Version == "v2" && f.Kind == "HelmRelease" && f.Path == "spec/valuesFrom/name" && !f.CreateIfNotPresent
}

// parseDoc reads one resource file: its leading comments dropped, one
// document, and its identity from its top-level lines (canonical YAML:
// apiVersion, kind, and metadata's name and namespace at two spaces).
func parseDoc(b []byte) (doc, bool) {
	for bytes.HasPrefix(b, []byte("#")) {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return doc{}, false
		}
		b = b[i+1:]
	}
	if bytes.HasPrefix(b, []byte("---")) || bytes.Contains(b, []byte("\n---")) || len(b) == 0 || b[len(b)-1] != '\n' {
		return doc{}, false
	}
	d := doc{body: b}
	var apiVersion, kind string
	inMeta := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "metadata:":
			inMeta = true
		case strings.HasPrefix(line, " ") || line == "":
			if !inMeta {
				continue
			}
			if v, ok := strings.CutPrefix(line, "  name: "); ok {
				d.name = scalar(v)
			} else if v, ok := strings.CutPrefix(line, "  namespace: "); ok {
				d.namespace = scalar(v)
			}
		default:
			inMeta = false
			if v, ok := strings.CutPrefix(line, "apiVersion: "); ok {
				apiVersion = scalar(v)
			} else if v, ok := strings.CutPrefix(line, "kind: "); ok {
				kind = scalar(v)
			}
		}
	}
	if apiVersion == "" || kind == "" || d.name == "" || strings.ContainsAny(d.name+d.namespace+apiVersion+kind, "'\"\\ ") {
		return doc{}, false
	}
	g, v := resid.ParseGroupVersion(apiVersion)
	d.gvk = resid.Gvk{Group: g, Version: v, Kind: kind}
	return d, true
}

// scalar unquotes a double-quoted scalar; a plain one is itself.
func scalar(v string) string {
	if strings.HasPrefix(v, `"`) {
		if s, err := strconv.Unquote(v); err == nil {
			return s
		}
	}
	return v
}

// renameValuesFrom points a HelmRelease's valuesFrom ConfigMaps at their
// generated names, as kustomize's nameReference does.
func renameValuesFrom(d doc, renamed map[string]string) ([]byte, error) {
	j, err := yaml.YAMLToJSON(d.body)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber() // integers beyond 2^53 stay exact
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	spec, _ := obj["spec"].(map[string]any)
	refs, _ := spec["valuesFrom"].([]any)
	changed := false
	for _, r := range refs {
		ref, _ := r.(map[string]any)
		if kind, _ := ref["kind"].(string); kind != "ConfigMap" {
			continue
		}
		name, _ := ref["name"].(string)
		if to, ok := renamed[d.namespace+"/"+name]; ok {
			ref["name"] = to
			changed = true
		}
	}
	if !changed {
		return d.body, nil
	}
	return yamlenc.Marshal(obj)
}

// yamlEscapes are the escapes go-yaml v2 (and so yamlenc) writes for
// characters that kustomize's YAML reader does not read back as written
// (C1 controls, NEL, non-characters) or that it may print in another form
// (the line and paragraph separators, no-break space). A body with any of
// them, even where they are not escapes, goes through kustomize.
var yamlEscapes = []string{`\N`, `\_`, `\L`, `\P`, `\x8`, `\x9`, `\uFFFE`, `\uFFFF`}

func escapes(b []byte) bool {
	for _, e := range yamlEscapes {
		if bytes.Contains(b, []byte(e)) {
			return true
		}
	}
	return false
}
