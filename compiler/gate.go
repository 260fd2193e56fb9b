package compiler

import (
	"fmt"
	"path"
	"strings"

	"github.com/milvus-gitops/milvusgen/diff"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Gate refuses an environment's new overlay (rendered) when the step from
// its committed overlay is unsafe (package upgrade, Gate): a skipped
// phase, a message-queue change with a version change, a phase that also
// rolls pods it does not move unless the spec allows it, and the rest. A
// nil or empty committed overlay (a new environment) passes. The error is
// a *spec.Error positioned at the fields to change.
func Gate(set *spec.Set, env *model.Environment, committed, rendered render.FileSet) error {
	if len(committed) == 0 {
		return nil
	}
	// What the gate reads: the Milvus values, the release objects (their
	// phase annotation, post-render patches) and the release
	// kustomizations Argo CD renders through. Decoding only those keeps a
	// re-render of many unchanged environments cheap.
	committed, rendered = releaseFiles(committed), releaseFiles(rendered)
	if u := env.Milvus.Upgrade; render.Same(committed, rendered) && (u == nil || !u.AllowRestart) {
		// Nothing the release runs changes, and no allowance needs a
		// change: no step.
		return nil
	}
	prev, next, restarts, err := diff.Between(diff.Files(committed), diff.Files(rendered))
	if err != nil {
		return err
	}
	if prev.Tag == "" {
		return fmt.Errorf("the committed overlay of %s has no Milvus values (values.yaml, or <release>/values.yaml): the step from it cannot be checked", env.Name)
	}
	return set.Refuse(env.Name, upgrade.Gate(prev, upgrade.Commit{Env: env, Queue: next.Queue, Restarts: restarts}))
}

// releaseFiles are the files of an overlay that say what its Milvus
// release runs: values files, HelmReleases and Applications, and release
// kustomizations.
func releaseFiles(fs render.FileSet) render.FileSet {
	out := render.FileSet{}
	for p, b := range fs {
		base := path.Base(p)
		if base == "values.yaml" || strings.HasPrefix(base, "values-") || strings.HasPrefix(p, "helmrelease-") ||
			strings.HasPrefix(p, "application-") || strings.Contains(p, "/") && base == "kustomization.yaml" {
			out[p] = b
		}
	}
	return out
}
