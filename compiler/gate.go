package compiler

import (
	"fmt"

	"github.com/milvus-gitops/milvusgen/diff"
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
func Gate(set *spec.Set, name string, committed, rendered render.FileSet) error {
	if len(committed) == 0 {
		return nil
	}
	prev, err := diff.StateOf(diff.Files(committed))
	if err != nil {
		return err
	}
	if prev.Tag == "" {
		return fmt.Errorf("the committed overlay of %s has no Milvus values (values.yaml, or <release>/values.yaml): the step from it cannot be checked", name)
	}
	next, err := diff.StateOf(diff.Files(rendered))
	if err != nil {
		return err
	}
	restarts, err := diff.Restarts(diff.Files(committed), diff.Files(rendered))
	if err != nil {
		return err
	}
	env, err := set.Environment(name)
	if err != nil {
		return err
	}
	return set.Refuse(name, upgrade.Gate(prev, upgrade.Commit{Env: env, Queue: next.Queue, Restarts: restarts}))
}
