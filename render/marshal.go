package render

import (
	"github.com/milvus-gitops/milvusgen/yamlenc"
)

// marshal renders v as canonical YAML (package yamlenc: keys sorted), with
// the empty noise that k8s.io/api types produce for unset fields
// stripped: a top-level status (we never render state), an empty
// top-level spec, and nulls (creationTimestamp: null and the like).
func marshal(v any) ([]byte, error) {
	tree, err := yamlenc.Tree(v)
	if err != nil {
		return nil, err
	}
	if m, ok := tree.(map[string]any); ok {
		delete(m, "status")
		if s, ok := m["spec"].(map[string]any); ok && len(s) == 0 {
			delete(m, "spec")
		}
	}
	return yamlenc.Emit(dropNulls(tree))
}

func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			t[k] = dropNulls(e)
		}
	case []any:
		for i, e := range t {
			t[i] = dropNulls(e)
		}
	}
	return v
}
