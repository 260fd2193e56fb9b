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

// All renders every environment, or none: any invalid environment stops
// it, with every environment's diagnostics joined in name order. The
// environments are rendered concurrently, one CUE context (a Fork of the
// set) per worker, as many workers as GOMAXPROCS; the result does not
// depend on their number.
func All(set *spec.Set) (map[string]render.FileSet, error) { return Each(set, set.Names()) }

// Each is All for some environments (gen diff A B renders two).
func Each(set *spec.Set, names []string) (map[string]render.FileSet, error) {
	type result struct {
		fs  render.FileSet
		err error
	}
	results := make([]result, len(names))
	var next atomic.Int64
	work := func(s *spec.Set) {
		for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
			fs, err := Environment(s, names[i])
			results[i] = result{fs, err}
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
	out := map[string]render.FileSet{}
	var errs []error
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		out[names[i]] = r.fs
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
