// Package jsonschema turns an API server's OpenAPI v2 document (built-in
// types and every loaded CRD) into the standalone JSON schema files that
// kubeconform reads, one per kind, so that manifests can be checked without
// a server. Files are laid out as <group>/<version>/<kind>.json (the core
// group as v1/v1), matching kubeconform's template
// "{{.Group}}/{{.ResourceAPIVersion}}/{{.ResourceKind}}.json".
//
// Strict: every object schema with properties and no additionalProperties
// gets additionalProperties: false, so unknown fields are errors, as with
// the API server's strict field validation. Like the API server, a null
// value is accepted where a field is optional.
package jsonschema

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
)

// SchemaLocation is the kubeconform -schema-location template for a
// directory written from Files.
func SchemaLocation(dir string) string {
	return dir + "/{{ .Group }}/{{ .ResourceAPIVersion }}/{{ .ResourceKind }}.json"
}

type gvk struct {
	Group, Version, Kind string
}

// Files converts an OpenAPI v2 document into schema files (path -> JSON).
func Files(openapi []byte) (map[string][]byte, error) {
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(openapi, &doc); err != nil {
		return nil, fmt.Errorf("openapi v2: %w", err)
	}
	if len(doc.Definitions) == 0 {
		return nil, fmt.Errorf("openapi v2: no definitions")
	}
	defs := map[string]any{}
	for name, d := range doc.Definitions {
		defs[name] = strict(d, false)
		// The API server accepts numbers for quantities too (cpu: 2).
		if strings.HasSuffix(name, ".api.resource.Quantity") {
			defs[name] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
		}
	}
	out := map[string][]byte{}
	names := make([]string, 0, len(doc.Definitions))
	for n := range doc.Definitions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, k := range gvks(doc.Definitions[name]) {
			reach := map[string]any{}
			collect(defs, defs[name], reach)
			schema := map[string]any{
				"$ref":        "#/definitions/" + name,
				"definitions": reach,
			}
			reach[name] = defs[name]
			b, err := json.Marshal(schema)
			if err != nil {
				return nil, err
			}
			group := k.Group
			if group == "" {
				group = k.Version // kubeconform's .Group for "v1" is "v1"
			}
			out[path.Join(group, k.Version, strings.ToLower(k.Kind)+".json")] = b
		}
	}
	return out, nil
}

func gvks(def map[string]any) []gvk {
	list, _ := def["x-kubernetes-group-version-kind"].([]any)
	var out []gvk
	for _, e := range list {
		m, _ := e.(map[string]any)
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		if v != "" && k != "" && !strings.HasSuffix(k, "List") {
			out = append(out, gvk{g, v, k})
		}
	}
	return out
}

// collect adds every definition reachable from node to reach.
func collect(defs map[string]any, node any, reach map[string]any) {
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if _, seen := reach[name]; !seen {
				reach[name] = defs[name]
				collect(defs, defs[name], reach)
			}
		}
		for _, v := range n {
			collect(defs, v, reach)
		}
	case []any:
		for _, v := range n {
			collect(defs, v, reach)
		}
	}
}

// strict rewrites a schema: int-or-string values accept both types, and
// closed objects reject unknown fields.
// nullable: the node is an optional property, where the API server treats
// an explicit null like an absent field (charts render `annotations:` with
// nothing after it); a required one stays non-null.
func strict(node any, nullable bool) any {
	switch n := node.(type) {
	case map[string]any:
		if n["format"] == "int-or-string" || n["x-kubernetes-int-or-string"] == true {
			alts := []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
			if nullable {
				alts = append(alts, map[string]any{"type": "null"})
			}
			return map[string]any{"oneOf": alts}
		}
		required := map[string]bool{}
		if req, ok := n["required"].([]any); ok {
			for _, r := range req {
				if s, ok := r.(string); ok {
					required[s] = true
				}
			}
		}
		out := make(map[string]any, len(n)+1)
		for k, v := range n {
			if k == "properties" {
				props := map[string]any{}
				for pk, pv := range v.(map[string]any) {
					props[pk] = strict(pv, !required[pk])
				}
				out[k] = props
				continue
			}
			out[k] = strict(v, false)
		}
		if t, ok := n["type"].(string); ok && nullable {
			out["type"] = []any{t, "null"}
		}
		// A $ref cannot carry a sibling type: allow null beside it.
		if ref, ok := n["$ref"]; ok && nullable && len(n) == 1 {
			return map[string]any{"anyOf": []any{map[string]any{"$ref": ref}, map[string]any{"type": "null"}}}
		}
		_, hasProps := n["properties"]
		_, hasAdditional := n["additionalProperties"]
		if hasProps && !hasAdditional && n["x-kubernetes-preserve-unknown-fields"] != true {
			out["additionalProperties"] = false
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			out[i] = strict(v, false)
		}
		return out
	}
	return node
}
