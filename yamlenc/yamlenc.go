// Package yamlenc encodes Go values as YAML as sigs.k8s.io/yaml does
// (through their JSON encoding, so json tags, omitempty and custom
// marshalers apply; keys sorted; the same go-yaml emitter), in one JSON
// pass instead of sigs.k8s.io/yaml's JSON encode, YAML parse of that JSON
// and YAML emit. The output is the same byte for byte, except for strings
// with C1 control characters or non-characters (U+0080-U+009F, U+FFFE):
// go-yaml's parser, which this skips, folds U+0085 to a space and refuses
// the others; here they are written escaped. Every object and values file
// we render goes through it.
package yamlenc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	yaml "go.yaml.in/yaml/v2"
)

// Marshal is sigs.k8s.io/yaml.Marshal, byte for byte.
func Marshal(v any) ([]byte, error) {
	tree, err := Tree(v)
	if err != nil {
		return nil, err
	}
	return Emit(tree)
}

// Tree is v's JSON encoding decoded into maps, slices and scalars, with
// numbers as go-yaml parses them from JSON (integers as int64, the rest
// as float64), for a caller that edits the tree before Emit.
func Tree(v any) (any, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return numbers(tree)
}

// Emit writes a tree from Tree as YAML.
func Emit(tree any) ([]byte, error) { return yaml.Marshal(tree) }

func numbers(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			t[k] = n
		}
	case []any:
		for i, e := range t {
			n, err := numbers(e)
			if err != nil {
				return nil, err
			}
			t[i] = n
		}
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(string(t), 10, 64); err == nil {
			return u, nil // go-yaml resolves a non-negative integer past int64 so
		}
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", t, err)
		}
		return f, nil
	}
	return v, nil
}
