// Package compiler is the whole pipeline behind the gen command: load the
// overlays, validate an environment against the schema, generate its
// objects, and return the overlay file set.
package compiler

import (
	"errors"
	"fmt"

	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// Environment renders one environment of the overlay directory.
func Environment(set *spec.Set, name string) (render.FileSet, error) {
	env, err := set.Environment(name)
	if err != nil {
		return nil, err
	}
	fs, err := render.Environment(env)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return fs, nil
}

// All renders every environment, or none: the first invalid environment
// stops it, with every environment's diagnostics joined.
func All(set *spec.Set) (map[string]render.FileSet, error) {
	out := map[string]render.FileSet{}
	var errs []error
	for _, name := range set.Names() {
		fs, err := Environment(set, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = fs
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
