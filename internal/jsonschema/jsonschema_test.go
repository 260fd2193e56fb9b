package jsonschema

import (
	"encoding/json"
	"testing"
)

const doc = `{"definitions": {
 "io.k8s.api.policy.v1.PodDisruptionBudget": {
  "type": "object",
  "properties": {"spec": {"$ref": "#/definitions/io.k8s.api.policy.v1.PodDisruptionBudgetSpec"}},
  "x-kubernetes-group-version-kind": [{"group": "policy", "version": "v1", "kind": "PodDisruptionBudget"}]},
 "io.k8s.api.policy.v1.PodDisruptionBudgetSpec": {
  "type": "object",
  "required": ["selector"],
  "properties": {"maxUnavailable": {"type": "string", "format": "int-or-string"}, "selector": {"type": "object"}, "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}}}},
 "io.k8s.api.core.v1.ConfigMapList": {"type": "object", "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "ConfigMapList"}]},
 "io.k8s.api.core.v1.Unused": {"type": "object"}
}}`

func TestFiles(t *testing.T) {
	files, err := Files([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("want only the PDB (lists are skipped), got %v", keys(files))
	}
	var s struct {
		Ref         string                    `json:"$ref"`
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(files["policy/v1/poddisruptionbudget.json"], &s); err != nil {
		t.Fatal(err)
	}
	if s.Ref != "#/definitions/io.k8s.api.policy.v1.PodDisruptionBudget" || len(s.Definitions) != 2 {
		t.Errorf("ref %s, %d definitions (want the root and the reachable spec only)", s.Ref, len(s.Definitions))
	}
	spec := s.Definitions["io.k8s.api.policy.v1.PodDisruptionBudgetSpec"]
	if spec["additionalProperties"] != false {
		t.Error("a closed object must reject unknown fields")
	}
	props := spec["properties"].(map[string]any)
	if _, ok := props["maxUnavailable"].(map[string]any)["oneOf"]; !ok {
		t.Error("int-or-string must accept both")
	}
	if _, ok := props["extra"].(map[string]any)["additionalProperties"]; ok {
		t.Error("preserve-unknown-fields must stay open")
	}
	if ty, _ := props["extra"].(map[string]any)["type"].([]any); len(ty) != 2 || ty[1] != "null" {
		t.Errorf("optional values may be null, type is %v", props["extra"].(map[string]any)["type"])
	}
	if ty, ok := props["selector"].(map[string]any)["type"].(string); !ok || ty != "object" {
		t.Errorf("a required value may not be null, type is %v", props["selector"].(map[string]any)["type"])
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
