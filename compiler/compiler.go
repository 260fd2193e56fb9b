// Package compiler is the whole pipeline behind the gen command: load the
// overlays, validate an environment against the schema, generate its
// objects, and return the overlay file set.
package compiler

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// Environment renders one environment of the overlay directory.
func Environment(set *spec.Set, name string) (render.FileSet, error) {
	r, err := Render(set, name)
	return r.Files, err
}

// Rendered is an environment and its overlay.
type Rendered struct {
	Env   *model.Environment
	Files render.FileSet
}

// Render is Environment with the validated environment it rendered.
func Render(set *spec.Set, name string) (Rendered, error) {
	env, err := set.Environment(name)
	if err != nil {
		return Rendered{}, err
	}
	fs, err := render.Environment(env)
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s: %w", name, err)
	}
	return Rendered{env, fs}, nil
}

// All renders every environment, or none: any invalid environment stops
// it, with every environment's diagnostics joined in name order. The
// environments are rendered concurrently, one CUE context (a Fork of the
// set) per worker, as many workers as GOMAXPROCS; the result does not
// depend on their number.
func All(set *spec.Set) (map[string]render.FileSet, error) { return Each(set, set.Names()) }

// Each is All for some environments (gen diff A B renders two).
func Each(set *spec.Set, names []string) (map[string]render.FileSet, error) {
	rs, err := EachRendered(set, names)
	if err != nil {
		return nil, err
	}
	out := make(map[string]render.FileSet, len(rs))
	for n, r := range rs {
		out[n] = r.Files
	}
	return out, nil
}

// EachRendered is Each with the validated environments.
func EachRendered(set *spec.Set, names []string) (map[string]Rendered, error) {
	type result struct {
		r   Rendered
		err error
	}
	results := make([]result, len(names))
	var next atomic.Int64
	work := func(s *spec.Set) {
		for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
			r, err := Render(s, names[i])
			results[i] = result{r, err}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < min(runtime.GOMAXPROCS(0), len(names)); w++ {
		wg.Go(func() {
			// A worker whose fork fails leaves its share to the others.
			if s, err := set.Fork(); err == nil {
				work(s)
			}
		})
	}
	work(set)
	wg.Wait()
	out := map[string]Rendered{}
	var errs []error
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		out[names[i]] = r.r
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
